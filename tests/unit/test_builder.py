"""cmdb.domain.built.builder: a generated maker per model, the same model as validation."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict

from cmdb.domain.built import builder
from impact.explain import ImpactPath
from impact.propagate import GroupNote


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)

    a: int
    b: list[str] = []


def test_the_made_model_is_the_validated_one() -> None:
    make = builder(ImpactPath)
    values = {
        "cause": "a",
        "ci_ids": ["a", "b"],
        "names": ["A", "B"],
        "types": ["RUNS_ON"],
        "text": "A -> B (runs on it)",
        "groups": [],
    }
    # Passed in another order: the model's own order still holds (a dump follows it).
    made = make(**dict(reversed(values.items())))
    checked = ImpactPath.model_validate(values)
    assert type(made) is ImpactPath
    assert made == checked
    assert list(made.__dict__) == list(ImpactPath.model_fields)
    assert made.model_dump_json() == checked.model_dump_json()
    assert made.model_fields_set == checked.model_fields_set == set(values)


def test_a_missing_or_unknown_field_is_refused() -> None:
    make = builder(GroupNote)
    with pytest.raises(TypeError, match="text"):
        make(ci_id="c", name="c", kind="cluster", members=2, needed=1, left=1)
    with pytest.raises(TypeError, match="colour"):
        builder(Frozen)(a=1, b=[], colour="red")
    with pytest.raises(TypeError):
        builder(Frozen)(1, [])  # keywords only: no field taken by its place


def test_models_not_frozen_get_their_own_fields_set() -> None:
    make = builder(ImpactPath)
    x = make(cause="a", ci_ids=["a"], names=["A"], types=[], text="A", groups=[])
    y = make(cause="b", ci_ids=["b"], names=["B"], types=[], text="B", groups=[])
    assert x.model_fields_set == y.model_fields_set
    assert x.model_fields_set is not y.model_fields_set
    x.text = "changed"  # assignment works as on any model
    assert x.text == "changed" and y.text == "B"


def test_frozen_models_stay_frozen() -> None:
    made = builder(Frozen)(a=1, b=[])
    with pytest.raises(ValueError, match="frozen"):
        made.a = 2
    assert made == Frozen(a=1) and made.model_fields_set == {"a", "b"}
