"""`SignatureExtractor`: Sample with a pen series -> `SignatureTemplate`."""
from __future__ import annotations

from ...errors import InvalidSample
from ...types import Modality, PenSeries, Sample, require_sample
from .features import global_features, local_features, prepare
from .template import SignatureTemplate


def template_of(pen: PenSeries) -> SignatureTemplate:
    """The template of a pen series (raises InvalidSample when it cannot carry a signature)."""
    pp = prepare(pen)
    if not pp.down.any():
        raise InvalidSample("the pen never touched the pad", hint="ask the person to sign again")
    return SignatureTemplate(local_features(pp), global_features(pp),
                             int(round(pp.duration_s * 1000)), pp.raw_strokes)


class SignatureExtractor:
    """Extracts the features of an online signature (the Sample's pen series)."""

    name = "biocap-signature"
    modality = Modality.SIGNATURE

    def extract(self, sample: Sample) -> SignatureTemplate:
        require_sample(sample, Modality.SIGNATURE, self.name)
        if sample.pen is None:
            raise InvalidSample("the signature sample has no pen series (an offline, scanned "
                                "signature cannot be verified online)",
                                hint="capture the signature on a pad that reports the pen series")
        return template_of(sample.pen)
