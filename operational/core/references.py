"""How a path parameter names a record: by id (``42``) or by number (``INC0000042``)."""

import re

# ASCII digits that fit a bigint: str.isdigit() also accepts "²" (int() then fails) and "٣"
# (which int() reads as 3).
_RECORD_ID = re.compile(r"[0-9]{1,18}")


def record_id(reference: str) -> int | None:
    """The id that ``reference`` spells, or None when it is not one (it may be a number)."""
    return int(reference) if _RECORD_ID.fullmatch(reference) else None


def record_number(reference: str, *, max_length: int) -> str | None:
    """``reference`` as a record number (upper case), or None when it cannot be one."""
    if 0 < len(reference) <= max_length and "\x00" not in reference:
        return reference.upper()
    return None
