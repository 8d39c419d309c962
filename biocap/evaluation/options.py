"""The typed options of every benchmark runner (`biocap bench ...` builds one from its flags).

Runners take a `BenchOptions` and return a JSON-able dict; they read no environment variable and
keep no module state, so a script calls them exactly as the command line does.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

#: fingerprint extractors a bench can feed the comparator with
EXTRACTORS = ("biocap", "nbis")


@dataclass(frozen=True)
class BenchOptions:
    """What to measure and how. Fields a runner does not use are ignored by it."""

    modality: str = "fingerprint"
    dataset: Path | None = None        # dataset folder (None: the runner's shared research set)
    layout: str | None = None          # dataset layout (None: the runner's default for its data)
    ppi: float | None = None           # resolution of the dataset's images
    reference: str | None = None       # computed side by side in the same run (nbis, nfiq2, dtw)
    plot: Path | None = None           # PNG to draw (DET, CMC or score scatter)
    limit: int | None = None           # only the first N subjects
    seed: int = 0
    cache: Path | None = None          # folder for reusable intermediate results (never pickle)
    progress: bool = True              # progress bars on stderr
    extractor: str = "biocap"          # fingerprint: whose minutiae feed the comparator
    matcher: str = "bozorth3"          # quality: the matcher of the error-versus-reject curves
    gallery_size: int = 10_000         # search
    probes: int = 100                  # search
    mate_impression: int = 1           # fingerprint search: impression enrolled as the mate
    scores_cache: Path | None = None   # fingerprint search: exhaustive score matrix (.npz)

    def __post_init__(self):
        if self.extractor not in EXTRACTORS:
            from ..errors import InvalidDataError

            raise InvalidDataError(f"unknown extractor {self.extractor!r}; use one of "
                                   f"{', '.join(EXTRACTORS)}")

    @classmethod
    def from_namespace(cls, namespace: Any, **overrides) -> "BenchOptions":
        """Options from an argparse namespace: known attributes taken, the rest ignored."""
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in vars(namespace).items() if k in names and v is not None}
        values.update(overrides)
        return cls(**values)

    def with_(self, **changes) -> "BenchOptions":
        return replace(self, **changes)
