from enum import StrEnum


class RecordType(StrEnum):
    """The records that carry custom fields (each has a ``custom_fields`` JSONB column)."""

    incident = "incident"
    change = "change"
    problem = "problem"
    # The order (REQ), not its lines: each line's catalog form holds that item's own answers.
    request = "request"


class FieldType(StrEnum):
    text = "text"
    long_text = "long_text"
    number = "number"  # an integer
    decimal = "decimal"
    date = "date"
    datetime = "datetime"
    boolean = "boolean"
    choice = "choice"
    multi_choice = "multi_choice"
    user = "user"  # a user id
    team = "team"  # a team id
    ci = "ci"  # a configuration item id


# Types whose values order (ranges with _from/_to, and sorting by value, not by text).
RANGED_TYPES = frozenset({FieldType.number, FieldType.decimal, FieldType.date, FieldType.datetime})
NUMERIC_TYPES = frozenset({FieldType.number, FieldType.decimal})
CHOICE_TYPES = frozenset({FieldType.choice, FieldType.multi_choice})
# Types whose value is another record's id, checked to exist when set.
REFERENCE_TYPES = frozenset({FieldType.user, FieldType.team, FieldType.ci})
# Types searched by q= (full-text), where the record's list searches.
TEXT_TYPES = frozenset({FieldType.text, FieldType.long_text})
