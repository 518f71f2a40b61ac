"""What a caller sends to the problem use cases (:mod:`cmdb.app.problems`), and the words
its errors name that input with.

REST's request models subclass these (same fields, same schema), GraphQL validates its
inputs against them, and the CLI builds them from its options: one set of limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from cmdb.app.inputs import MAX_REFS
from cmdb.domain.records import ProblemState

# Bounds on what a caller writes or asks (REST declares them in its parameters too).
MAX_TEXT = 10_000
MAX_QUERY_TEXT = 2_000
MAX_SIMILAR = 100
DEFAULT_SIMILAR = 10


@dataclass(frozen=True)
class Words:
    """What an error calls the caller's input. The defaults are a request's (REST's body
    and parameters); the CLI passes its arguments and options."""

    problem_id: str | None = "problem_id"  # None: a missing problem is the store's answer
    body: str = "body"  # the input as a whole
    cis: str = "cis"
    indexed: bool = True  # a list's item by position ("cis.0"), or the option alone
    ci: str = "ci"  # the CI a list is filtered on
    incident: str | None = "incident"  # the incident a list is filtered on (None: as above)
    target: str = "ci"  # the CI similar problems are asked for

    def item(self, name: str, key: int) -> str:
        return f"{name}.{key}" if self.indexed else name


REQUEST = Words()


# --- what a caller sends ------------------------------------------------------------------

Text = Annotated[str, Field(max_length=MAX_TEXT)]
Refs = Annotated[list[str], Field(max_length=MAX_REFS)]
Symptoms = Annotated[list[Text], Field(max_length=MAX_REFS)]
Title = Annotated[str, Field(min_length=1, max_length=500)]
Category = Annotated[str, Field(max_length=200)]


class _Spec(BaseModel):
    # Unknown or server-owned fields (state, service_ids, times...) are refused.
    model_config = ConfigDict(extra="forbid")


class NewProblem(_Spec):
    """A new problem: the CIs at fault by reference and/or the incidents it causes."""

    id: str = Field(
        min_length=1, max_length=128, pattern=r"^\S+$", description="The problem's reference."
    )
    title: Title
    cis: Refs = Field(
        default_factory=list, description="CIs at fault (suspected): id, kind=value or name."
    )
    incident_ids: Refs = Field(default_factory=list, description="Incidents it causes.")
    symptoms: Symptoms = Field(default_factory=list, description="Error messages and signs.")
    description: Text = ""
    category: Category = ""
    root_cause: Text = Field(default="", description="Known already: it starts a known error.")
    workaround: Text = Field(default="", description="Known already: it starts a known error.")


class ProblemPatch(_Spec):
    """An amendment: only the fields set change; lists replace the stored ones."""

    title: Title | None = None
    description: Text | None = None
    category: Category | None = None
    symptoms: Symptoms | None = None
    root_cause: Text | None = None
    workaround: Text | None = None
    cis: Refs | None = Field(default=None, description="The CIs at fault, replacing them.")


class ProblemStep(_Spec):
    """One step of a problem's life."""

    to: ProblemState = Field(description="The next state.")


class ProblemLinks(_Spec):
    """Records to link to a problem."""

    incident_ids: Refs = Field(default_factory=list, description="Incidents it causes.")
    change_ids: Refs = Field(default_factory=list, description="Changes raised to fix it.")
