"""The impact score: known values, bounds, and monotone in every part."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cmdb.domain.model import Criticality
from impact.score import score, tightness
from impact.severity import Severity


def test_known_values() -> None:
    top = score(
        Severity.DOWN,
        criticality=Criticality.CRITICAL,
        customers=3,
        target_percent=99.99,
        minutes_in_hours=300,
    )
    # 100 * 1 * (0.3 + 0.7 * (0.35 + 0.25*0.75 + 0.2*0.8 + 0.2*1)) = 92.8
    assert top.value == 92.8
    assert (top.severity, top.criticality, top.customers, top.sla_tightness, top.service_hours) == (
        1.0,
        1.0,
        0.75,
        0.8,
        1.0,
    )
    bare = score(
        Severity.DOWN, criticality=None, customers=0, target_percent=None, minutes_in_hours=0
    )
    assert bare.value == round(100 * (0.3 + 0.7 * 0.35 * 0.5), 1)
    assert (
        score(
            Severity.UP,
            criticality=Criticality.CRITICAL,
            customers=9,
            target_percent=99.9,
            minutes_in_hours=999,
        ).value
        == 0
    )
    assert tightness(99.0) == pytest.approx(0.4) and tightness(99.9) == pytest.approx(0.6)
    assert tightness(None) == 0 and tightness(100.0) == 1.0


def test_at_risk_never_scores_above_25() -> None:
    s = score(
        Severity.AT_RISK,
        criticality=Criticality.CRITICAL,
        customers=10**6,
        target_percent=99.9999,
        minutes_in_hours=10**6,
    )
    assert s.value <= 25


_CRIT = [Criticality.LOW, Criticality.MEDIUM, Criticality.HIGH, Criticality.CRITICAL]


@given(
    st.sampled_from(list(Severity)),
    st.integers(0, 3),
    st.integers(0, 50),
    st.floats(90, 99.999),
    st.floats(0, 600),
)
def test_monotone_in_every_part(
    sev: Severity, crit: int, cust: int, target: float, minutes: float
) -> None:
    base = score(
        sev,
        criticality=_CRIT[crit],
        customers=cust,
        target_percent=target,
        minutes_in_hours=minutes,
    )
    assert 0 <= base.value <= 100
    worse = [
        score(
            Severity(min(3, sev + 1)),
            criticality=_CRIT[crit],
            customers=cust,
            target_percent=target,
            minutes_in_hours=minutes,
        ),
        score(
            sev,
            criticality=_CRIT[min(3, crit + 1)],
            customers=cust,
            target_percent=target,
            minutes_in_hours=minutes,
        ),
        score(
            sev,
            criticality=_CRIT[crit],
            customers=cust + 1,
            target_percent=target,
            minutes_in_hours=minutes,
        ),
        score(
            sev,
            criticality=_CRIT[crit],
            customers=cust,
            target_percent=min(99.999, target + 0.5),
            minutes_in_hours=minutes,
        ),
        score(
            sev,
            criticality=_CRIT[crit],
            customers=cust,
            target_percent=target,
            minutes_in_hours=minutes + 30,
        ),
    ]
    assert all(w.value >= base.value for w in worse)
