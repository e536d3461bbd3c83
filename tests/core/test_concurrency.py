"""The one If-Match contract shared by incidents, CIs and changes."""

import pytest

from operational.core.concurrency import check_version, parse_if_match
from operational.core.errors import BadRequest, PreconditionFailed, PreconditionRequired


@pytest.mark.parametrize(
    ("header", "version"),
    [('"3"', 3), ('W/"3"', 3), (' "12" ', 12), ("7", 7), (None, None), ("", None), ("*", None)],
)
def test_if_match_names_one_version_or_none(header, version):
    assert parse_if_match(header) == version


@pytest.mark.parametrize("header", ['"3", "4"', '"v3"', '"-1"', "W/", '"' + "9" * 19 + '"'])
def test_anything_but_one_of_our_etags_is_a_400(header):
    with pytest.raises(BadRequest):
        parse_if_match(header)


def test_check_version_refuses_a_missing_or_stale_version_naming_the_current_one():
    with pytest.raises(PreconditionRequired) as missing:
        check_version(current=4, expected=None, what="INC0000001")
    with pytest.raises(PreconditionFailed) as stale:
        check_version(current=4, expected=3, what="INC0000001")
    assert (missing.value.status, missing.value.extra) == (428, {"current_version": 4})
    assert (stale.value.status, stale.value.extra) == (412, {"current_version": 4})
    check_version(current=4, expected=4, what="INC0000001")
