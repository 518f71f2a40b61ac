"""Severity grades and failure modes: the words every impact answer is written in."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class Severity(IntEnum):
    """Ordered, so ``max`` is "the worse of": up < at risk < degraded < down."""

    UP = 0
    AT_RISK = 1  # still serving, but redundancy is reduced: one more failure may tip it
    DEGRADED = 2  # serving, with reduced quality
    DOWN = 3

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", " ")


class FailureMode(StrEnum):
    DOWN = "down"
    DEGRADED = "degraded"

    @property
    def severity(self) -> Severity:
        return Severity.DOWN if self is FailureMode.DOWN else Severity.DEGRADED
