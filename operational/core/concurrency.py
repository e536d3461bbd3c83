"""Optimistic concurrency, one contract for every versioned record (incidents, CIs, changes).

A record's ``version`` is its ETag (``"3"``). A write names the version it read, in ``If-Match``
(weak ``W/"3"`` accepted): none named (absent, empty or ``*``) → 428 ``version-required``; not
the current version → 412 ``stale-version``. Problems raised by ``check_version`` carry
``current_version``.
"""

import re
from typing import Annotated

from fastapi import Depends, Header, Response

from operational.core.errors import BadRequest, PreconditionFailed, PreconditionRequired
from operational.core.openapi import declare_problems

# Bounded digits: a longer number is no version of ours (and int() refuses > 4300 digits).
_ETAG = re.compile(r'^(?:W/)?"?(\d{1,18})"?$')

_IF_MATCH_HEADER = Header(description='The ETag of the version you read, e.g. "3"')


def etag(version: int) -> str:
    return f'"{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


def parse_if_match(if_match: str | None) -> int | None:
    """The version an If-Match header names; None when it names none (absent, empty, ``*``).
    Anything that is not one of our ETags is a 400."""
    if if_match is None or if_match.strip() in ("", "*"):
        return None
    found = _ETAG.match(if_match.strip())
    if found is None:
        raise BadRequest(f'If-Match must be one ETag as returned by GET, e.g. "3"; got {if_match}')
    return int(found.group(1))


def _if_match_version(if_match: Annotated[str | None, _IF_MATCH_HEADER] = None) -> int | None:
    return parse_if_match(if_match)


def _required_if_match_version(if_match: Annotated[str | None, _IF_MATCH_HEADER] = None) -> int:
    version = parse_if_match(if_match)
    if version is None:
        raise PreconditionRequired(
            "Send If-Match with the ETag of the version you read (GET it first)"
        )
    return version


# A malformed ETag is a 400, a missing one 428, a stale one 412 (from check_version).
declare_problems(_if_match_version, 400, 412, 428)
declare_problems(_required_if_match_version, 400, 412, 428)
# The version named by If-Match, or None: for writes that also accept it in the body.
IfMatchVersion = Annotated[int | None, Depends(_if_match_version)]
# The version named by If-Match; 428 before anything else runs when there is none.
ExpectedVersion = Annotated[int, Depends(_required_if_match_version)]


def check_version(*, current: int, expected: int | None, what: str) -> None:
    """428 when no version was named, 412 when it is not ``current``. Call it with the record
    locked, so that the version cannot move between the check and the write."""
    if expected is None:
        raise PreconditionRequired(
            f'Send the version of {what} you read: an If-Match: "<version>" header '
            "(or a version field, where the body has one)",
            current_version=current,
        )
    if current != expected:
        raise PreconditionFailed(
            f"{what} changed since version {expected}; it is now at version {current}. "
            "Reload and retry.",
            current_version=current,
        )
