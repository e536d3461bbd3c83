"""docs/auth.md shows the role → permission table as it is in the code."""

from pathlib import Path

from operational.auth.permissions import PERMISSIONS, ROLE_PERMISSIONS, Role

DOC = Path(__file__).resolve().parents[2] / "docs" / "auth.md"
START, END = "<!-- permissions-table:start -->", "<!-- permissions-table:end -->"


def permission_table() -> str:
    roles = list(Role)
    lines = [
        "| permission | meaning | " + " | ".join(role.value for role in roles) + " |",
        "| --- | --- | " + " | ".join(":-:" for _ in roles) + " |",
    ]
    for permission, meaning in PERMISSIONS.items():
        marks = ["✓" if permission in ROLE_PERMISSIONS[role] else "" for role in roles]
        lines.append(f"| `{permission}` | {meaning} | " + " | ".join(marks) + " |")
    return "\n".join(lines)


def test_the_documented_permission_table_matches_the_code():
    text = DOC.read_text()
    documented = text.split(START, 1)[1].split(END, 1)[0].strip()
    assert documented == permission_table(), (
        f"docs/auth.md is out of date; put this between the markers:\n\n{permission_table()}"
    )
