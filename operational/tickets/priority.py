"""Priority from impact x urgency, through the configurable ``ITSM_INCIDENT_PRIORITY_MATRIX``.
Incidents and problems rank by the same matrix, so it lives below both.

Impact and urgency run 1 (high) .. 3 (low); priority runs 1 (P1, critical) .. 5 (P5, planning).
The default is the ITIL 3x3 matrix:

==============  ============  ==============  ===========
impact \\ urg.   1 high        2 medium        3 low
==============  ============  ==============  ===========
1 high          P1            P2              P3
2 medium        P2            P3              P4
3 low           P3            P4              P5
==============  ============  ==============  ===========
"""

from operational.core.config import Settings, get_settings


def matrix(settings: Settings | None = None) -> list[list[int]]:
    """The matrix in force: ``matrix()[impact - 1][urgency - 1]`` is the priority."""
    return (settings or get_settings()).incident_priority_matrix


def priority_for(*, impact: int, urgency: int, settings: Settings | None = None) -> int:
    if impact not in (1, 2, 3) or urgency not in (1, 2, 3):
        raise ValueError(f"impact and urgency run 1..3, got {impact} and {urgency}")
    return matrix(settings)[impact - 1][urgency - 1]
