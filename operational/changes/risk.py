"""Change risk: a short questionnaire plus the criticality and breadth of what the change touches.

score = questionnaire points + criticality points + breadth points, from 0 to 100.

- Questionnaire (0-50): each question answered the risky way, or left unanswered, adds its
  points.
- Criticality (0-25): the most critical CI among the affected CIs and every CI that relies on
  them (downstream impact): critical 25, high 15, medium 5, low 0.
- Breadth (0-25): how many CIs rely on the affected CIs, transitively (the downstream impact set,
  affected CIs excluded): none 0, 1-9 5, 10-49 15, 50 or more 25.

Level: below 25 low, below 50 moderate, below 75 high, else very high.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from operational.changes.enums import RiskLevel


@dataclass(frozen=True)
class Question:
    key: str
    text: str
    risky_answer: bool
    points: int


QUESTIONS: tuple[Question, ...] = (
    Question("done_before", "Has this change been carried out successfully before?", False, 10),
    Question("backout_tested", "Has the backout plan been tested?", False, 15),
    Question("service_outage", "Does the change need a service outage?", True, 15),
    Question("tested_outside_production", "Was the change tested outside production?", False, 10),
)

CRITICALITY_POINTS = {1: 25, 2: 15, 3: 5, 4: 0}
CRITICALITY_NAMES = {1: "critical", 2: "high", 3: "medium", 4: "low"}
# (at least this many impacted CIs, points), highest threshold first.
BREADTH_POINTS = ((50, 25), (10, 15), (1, 5), (0, 0))
LEVELS = ((75, RiskLevel.very_high), (50, RiskLevel.high), (25, RiskLevel.moderate))


@dataclass(frozen=True)
class RatedCI:
    id: int
    name: str
    criticality: int


@dataclass(frozen=True)
class RiskAssessment:
    score: int
    level: RiskLevel
    explanation: dict[str, Any]


def level_for(score: int) -> RiskLevel:
    for threshold, level in LEVELS:
        if score >= threshold:
            return level
    return RiskLevel.low


def breadth_points(impacted: int) -> int:
    for threshold, points in BREADTH_POINTS:
        if impacted >= threshold:
            return points
    return 0


def assess(
    *,
    answers: Mapping[str, bool | None],
    affected: Sequence[RatedCI],
    impacted: Sequence[RatedCI],
    impact_depth: int,
) -> RiskAssessment:
    factors: list[dict[str, Any]] = []
    for question in QUESTIONS:
        answer = answers.get(question.key)
        risky = answer is None or answer == question.risky_answer
        factors.append(
            {
                "factor": "question",
                "key": question.key,
                "question": question.text,
                "answer": answer,
                "points": question.points if risky else 0,
                "detail": "unanswered: counted as risky" if answer is None else None,
            }
        )

    considered = [*affected, *impacted]
    if considered:
        # Most critical first; ties go to the affected CI, then the lowest id.
        top = min(considered, key=lambda ci: (ci.criticality, ci not in affected, ci.id))
        role = "affected" if top in affected else "impacted"
        factors.append(
            {
                "factor": "criticality",
                "ci_id": top.id,
                "ci": top.name,
                "criticality": top.criticality,
                "points": CRITICALITY_POINTS[top.criticality],
                "detail": f"most critical of {len(affected)} affected and {len(impacted)} "
                f"impacted CIs is {top.name} ({role}, "
                f"{CRITICALITY_NAMES[top.criticality]})",
            }
        )
    else:
        factors.append(
            {
                "factor": "criticality",
                "ci_id": None,
                "ci": None,
                "criticality": None,
                "points": 0,
                "detail": "no affected CIs",
            }
        )

    factors.append(
        {
            "factor": "impact_breadth",
            "impacted": len(impacted),
            "points": breadth_points(len(impacted)),
            "detail": f"{len(impacted)} CIs rely on the affected CIs "
            f"(downstream, up to {impact_depth} hops)",
        }
    )

    score = sum(factor["points"] for factor in factors)
    level = level_for(score)
    return RiskAssessment(
        score=score,
        level=level,
        explanation={
            "score": score,
            "level": level.value,
            "factors": factors,
            "summary": " + ".join(
                f"{factor.get('key') or factor['factor']} {factor['points']}" for factor in factors
            )
            + f" = {score} ({level.value})",
        },
    )
