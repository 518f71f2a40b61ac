"""A new CI's id: the same shape as before (ci_ and 32 hex digits), unique, and later ids
sort later, so the store's indexes keyed by CI id take new CIs at their end."""

from __future__ import annotations

import itertools
import re
import time

from cmdb.domain.model import new_ci_id

_SHAPE = re.compile(r"^ci_[0-9a-f]{32}$")


def test_ids_keep_their_shape_and_do_not_repeat() -> None:
    ids = [new_ci_id() for _ in range(20_000)]
    assert all(_SHAPE.match(i) for i in ids)
    assert len(set(ids)) == len(ids)


def test_ids_made_later_sort_later() -> None:
    batches = []
    for _ in range(3):
        batches.append([new_ci_id() for _ in range(50)])
        time.sleep(0.002)  # past the millisecond the time part counts
    for earlier, later in itertools.pairwise(batches):
        assert max(earlier) < min(later)


def test_the_time_part_is_the_clock_in_milliseconds() -> None:
    before = time.time_ns() // 1_000_000
    made = int(new_ci_id()[3:15], 16)
    after = time.time_ns() // 1_000_000
    assert before <= made <= after
