"""The common result of every quality provider."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..plugins.contracts import QualityProvider  # noqa: F401  (re-exported here)
from ..types import Modality


@dataclass(frozen=True)
class Feedback:
    """One actionable message for the operator: a stable code apps can translate, and English text."""

    code: str  # e.g. "too_dry", "too_wet", "low_pressure", "partial", "off_centre", "blur"
    message: str


@dataclass(frozen=True)
class Measure:
    """One quality component: its value and, where a standard recommends one, the limit."""

    value: float
    limit: str | None = None  # e.g. ">= 0.7" (ISO/IEC 29794-6 recommendation)
    ok: bool | None = None


@dataclass
class QualityReport:
    modality: Modality
    score: int | None  # 0-100; None when no provider could score (reason says why)
    provider: str
    measures: dict[str, Measure] = field(default_factory=dict)
    feedback: list[Feedback] = field(default_factory=list)
    reason: str | None = None  # why there is no score, or why it is low

    @property
    def hint(self) -> str:
        if self.feedback:
            return self.feedback[0].message
        return self.reason or ""

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of the report."""
        return {
            "modality": self.modality.value, "score": self.score, "provider": self.provider,
            "reason": self.reason,
            "measures": {k: {"value": m.value, "limit": m.limit, "ok": m.ok}
                         for k, m in self.measures.items()},
            "feedback": [{"code": f.code, "message": f.message} for f in self.feedback],
        }

    @classmethod
    def unscored(cls, modality: Modality, reason: str) -> "QualityReport":
        return cls(modality=Modality(modality), score=None, provider="none", reason=reason)
