"""The extractor object the plugin system registers (the built-in plugin finds it by name)."""
from __future__ import annotations

from ...types import Modality, Sample
from ..fingerprint_template import FingerprintTemplate
from .pipeline import extract_template


class FingerprintExtractor:
    """biocap's minutiae extractor: `extract(sample) -> FingerprintTemplate`. Refuses (NotASample,
    with the reason) what the fingerprint quality provider calls not a fingerprint: flat frames,
    noise, stripe patterns, faces, irises. `check_sample=False` skips that test (the bare
    pipeline, `extract_template`, never runs it)."""

    name = "biocap-minutiae"
    modality = Modality.FINGERPRINT

    def __init__(self, check_sample: bool = True):
        self.check_sample = check_sample

    def extract(self, sample: Sample) -> FingerprintTemplate:
        if self.check_sample:
            from ...quality.fingerprint import check_is_fingerprint
            if isinstance(sample, Sample) and sample.modality is Modality.FINGERPRINT:
                check_is_fingerprint(sample)
        return extract_template(sample)

    def __repr__(self) -> str:
        return f"<FingerprintExtractor {self.name}>"
