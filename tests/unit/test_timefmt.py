"""The stored text form of instants: to_text and from_text are inverse, and from_text reads
exactly what the strptime format it replaced read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cmdb.store.timefmt import from_text, to_text

instants = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)


@given(instants)
def test_round_trip(at: datetime) -> None:
    back = from_text(to_text(at))
    assert back == at
    assert back.tzinfo is UTC


@given(instants)
def test_same_as_the_strptime_format(at: datetime) -> None:
    text = to_text(at)
    assert from_text(text) == datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def test_other_offsets_written_as_utc() -> None:
    at = datetime(2026, 12, 7, 11, 0, tzinfo=timezone(timedelta(hours=1)))
    assert to_text(at) == "2026-12-07T10:00:00.000000Z"
    assert from_text(to_text(at)) == at


@pytest.mark.parametrize("text", ["2026-12-07T10:00:00.000000+01:00", "2026-12-07T10:00:00"])
def test_not_utc_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a UTC instant"):
        from_text(text)
