"""The extractor object the plugin system registers (the built-in plugin finds it by name)."""
from __future__ import annotations

from ...types import Modality, Sample
from .template import FingerprintTemplate
from .pipeline import extract_template


class FingerprintExtractor:
    """biocap's minutiae extractor: `extract(sample) -> FingerprintTemplate`."""

    name = "biocap-minutiae"
    modality = Modality.FINGERPRINT

    def extract(self, sample: Sample) -> FingerprintTemplate:
        """The minutiae template of a fingerprint Sample (InvalidSample if it is not usable)."""
        return extract_template(sample)

    def __repr__(self) -> str:
        return f"<FingerprintExtractor {self.name}>"
