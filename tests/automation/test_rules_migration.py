"""Migration 0028_rules_in_engine moves the assignment rules into the engine as route rules that
the assignment-rule API owns, routing as they did, and moves them back on downgrade."""

from alembic import command
from sqlalchemy import create_engine, pool, text
from sqlalchemy.orm import Session

from operational.auth.models import User
from operational.automation import assignment_rules
from operational.automation.models import AutomationRule
from operational.core.migrate import alembic_config, upgrade
from operational.incidents import flows as incident_flows
from operational.incidents.schemas import IncidentCreate
from tests.factories import Factory

BEFORE = "0027_automation_records"
OLD_RULES = (
    # name, position, active, category, service, keywords, team
    ("printers", 10, True, "Printing", None, [], "Print"),
    ("vpn", 20, True, None, None, ["VPN", "wi-fi"], "Network"),
    ("mail", 30, True, None, "Exchange Online", [], "Mail"),
    ("retired", 5, False, "Printing", None, [], "Mail"),
    ("Escalate", 900, True, None, None, [], "Desk"),  # clashes with an automation rule's name
)


def _old_rules(engine) -> list[tuple]:
    with engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(
                text(
                    "select r.name, r.position, r.is_active, r.category, r.service, r.keywords, "
                    "t.name from operational.assignment_rules r join operational.teams t "
                    "on t.id = r.team_id order by r.position, r.id"
                )
            )
        ]


def test_assignment_rules_move_into_the_engine_and_back(fresh_database):
    url = fresh_database("rules_migration")
    engine = create_engine(url, poolclass=pool.NullPool)
    with Session(engine) as session:
        factory = Factory(session)
        teams = {name: factory.team(name=name).id for name in ("Print", "Network", "Mail", "Desk")}
        agent_id = factory.user(roles=("agent",)).id
        session.commit()

    command.downgrade(alembic_config(url), BEFORE)
    with engine.begin() as connection:
        connection.execute(
            text(
                "insert into operational.automation_rules (name, record_type, trigger, actions) "
                "values ('escalate', 'incident', 'created', "
                """'[{"type": "set_fields", "fields": {"urgency": 1}}]')"""
            )
        )
        for name, position, active, category, service, keywords, team in OLD_RULES:
            connection.execute(
                text(
                    "insert into operational.assignment_rules (name, position, is_active, "
                    "category, service, keywords, team_id) values (:name, :position, :active, "
                    ":category, :service, :keywords, :team_id)"
                ),
                {
                    "name": name,
                    "position": position,
                    "active": active,
                    "category": category,
                    "service": service,
                    "keywords": keywords,
                    "team_id": teams[team],
                },
            )
    before = _old_rules(engine)

    upgrade(url)
    with Session(engine) as session:
        moved = session.query(AutomationRule).filter_by(managed_by="assignment_rules").all()
        assert sorted(rule.name for rule in moved) == sorted(
            ["printers", "vpn", "mail", "retired", "Escalate (assignment rule 5)"]
        )
        assert {rule.trigger for rule in moved} == {"route"}
        vpn = next(rule for rule in moved if rule.name == "vpn")
        assert vpn.description == "Assignment rule 2 before migration 0028."
        # Read back through the assignment-rule API, each is what it was.
        read = {
            rule.name: assignment_rules.read(session, rule).model_dump(
                include={"position", "is_active", "category", "service", "keywords"}
            )
            | {"team": assignment_rules.read(session, rule).team.name}
            for rule in moved
        }
        assert read["vpn"] == {
            "position": 20,
            "is_active": True,
            "category": None,
            "service": None,
            "keywords": ["VPN", "wi-fi"],
            "team": "Network",
        }
        assert read["retired"]["is_active"] is False

        agent = session.get(User, agent_id)
        routed = {
            title: incident_flows.create(
                session=session, data=IncidentCreate(title=title, **fields), actor=agent
            ).incident.assignment_group_id
            for title, fields in (
                ("the printer jams", {"category": "printing"}),
                ("my vpn drops", {}),
                ("vpns are hard", {}),
                ("Outlook", {"service": "exchange online"}),
            )
        }
        assert routed == {
            "the printer jams": teams["Print"],  # "retired" comes first but is inactive
            "my vpn drops": teams["Network"],
            "vpns are hard": teams["Desk"],  # a keyword is a whole word
            "Outlook": teams["Mail"],
        }
        session.rollback()

    command.downgrade(alembic_config(url), BEFORE)
    after = _old_rules(engine)
    assert [row[1:] for row in after] == [row[1:] for row in before]  # names: one was renamed
    with engine.connect() as connection:
        left = connection.execute(
            text("select name from operational.automation_rules order by id")
        ).scalars()
        assert list(left) == ["escalate"]
    upgrade(url)
    engine.dispose()
