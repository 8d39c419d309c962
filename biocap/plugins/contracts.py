"""Typed contracts every algorithm provider meets, whatever its modality: QualityProvider,
Extractor, Comparator and Gallery, with the Candidate / SearchResult answer of every gallery.

A provider declares its modality (`modality` attribute); the SDK never guesses it. The built-in
providers and third-party plugins register through the same hooks (`hookspecs.py`) and are held
to the same contracts (`tests/test_contracts.py` checks every registered provider).

Score convention, the same for every modality: a comparison score is a similarity, higher means
more alike, and `threshold_for_fmr(fmr)` turns a requested false match rate into the score a
genuine pair must reach. 1:N galleries report candidates on that same scale, so a 1:1 decision
and a 1:N decision at the same FMR use the same threshold.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Protocol, runtime_checkable

from ..types import Modality, Sample

if TYPE_CHECKING:  # annotations only: the report types live in the quality stage, above plugins
    from ..quality.report import QualityReport


@runtime_checkable
class QualityProvider(Protocol):
    """Judges a Sample of its modality (hook `biocap_quality_providers`); may also offer
    `quick_assess(sample)` for preview frames (the SDK falls back to `assess`)."""

    name: str
    modality: Modality

    def assess(self, sample: Sample) -> "QualityReport":
        """A QualityReport (score 0-100, measures, feedback); InvalidSample for malformed input."""
        ...


@runtime_checkable
class Extractor(Protocol):
    """Turns a Sample of its modality into a template (hook `biocap_extractors`)."""

    name: str
    modality: Modality

    def extract(self, sample: Sample) -> Any:
        """The template of `sample`; raises InvalidSample when the sample is not usable."""
        ...


@runtime_checkable
class Comparator(Protocol):
    """1:1 comparison of two templates of its modality (hook `biocap_comparators`)."""

    name: str
    modality: Modality

    def compare(self, a: Any, b: Any) -> float:
        """Similarity of two templates: higher means more alike (scale documented per modality)."""
        ...

    def threshold_for_fmr(self, fmr: float) -> float:
        """The score at or above which a pair is declared a match at false match rate `fmr`,
        from a calibration shipped with the comparator."""
        ...

    def gallery(self) -> "Gallery":
        """An empty 1:N gallery for this comparator's templates."""
        ...


@dataclass(frozen=True)
class Candidate:
    """One gallery entry returned by a search, with its similarity on the comparator's scale."""

    id: str
    score: float


@dataclass(frozen=True)
class SearchResult:
    """The answer of every gallery: candidates best first, and the decision threshold used.

    `threshold` is the comparator's `threshold_for_fmr(fmr)` when a false match rate was
    requested, else None; `matches` are the candidates at or above it.
    """

    candidates: tuple[Candidate, ...]
    fmr: float | None = None
    threshold: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def matches(self) -> tuple[Candidate, ...]:
        if self.threshold is None:
            return ()
        return tuple(c for c in self.candidates if c.score >= self.threshold)

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


@runtime_checkable
class Gallery(Protocol):
    """A 1:N gallery of one modality's templates, keyed by string ids."""

    modality: Modality

    def add(self, identifier: str, template: Any) -> None:
        """Enrol one template under a new id (InvalidDataError if the id is taken)."""
        ...

    def add_many(self, items: Iterable[tuple[str, Any]]) -> int:
        """Enrol (id, template) pairs, all checked before any is added; returns the count."""
        ...

    def remove(self, identifier: str) -> None:
        """Take an entry out (InvalidDataError if the id is unknown)."""
        ...

    def __len__(self) -> int: ...

    def __contains__(self, identifier: object) -> bool: ...

    def search(self, probe: Any, *, top_k: int = 10, fmr: float | None = None) -> SearchResult:
        """The `top_k` most similar entries; with `fmr`, also the threshold and the matches."""
        ...

    def save(self, path: str | Path) -> None:
        """Write the gallery to `path` in a versioned, checksummed format (never pickle)."""
        ...

    @classmethod
    def load(cls, path: str | Path) -> "Gallery":
        """Read a gallery written by `save`; a damaged or edited file raises a BiocapError."""
        ...
