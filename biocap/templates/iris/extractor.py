"""`IrisExtractor`: Sample -> IrisTemplate, the pipeline as one short function of named stages."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...errors import InvalidSample
from ...types import Modality, Sample, validate_image
from .encoding import EncodingParams, filter_response, quantize
from .normalization import NormalizationParams, normalize
from .segmentation import SegmentationFailed, SegmentationParams, segment
from .template import IrisTemplate
from .types import IrisFilterResponse, NormalizedIris, Segmentation


class TooLittleIris(InvalidSample):
    """Too little of the iris is visible to make a usable code."""
    hint = "too little of the iris is visible: open the eyes wide, look at the camera and retake"


@dataclass
class IrisTrace:
    """Every intermediate product of one extraction, for inspection ("transparency")."""

    segmentation: Segmentation
    normalized: NormalizedIris
    response: IrisFilterResponse
    template: IrisTemplate


@dataclass
class IrisExtractor:
    name: str = "biocap-iris"
    modality: Modality = Modality.IRIS
    segmentation: SegmentationParams = field(default_factory=SegmentationParams)
    normalization: NormalizationParams = field(default_factory=NormalizationParams)
    encoding: EncodingParams = field(default_factory=EncodingParams)
    min_usable_fraction: float = 0.15  # fewer usable code bits than this fails to enrol

    def extract(self, sample: Sample) -> IrisTemplate:
        """The iris template of an iris Sample (InvalidSample if it is not usable)."""
        return self.trace(sample).template

    def trace(self, sample: Sample) -> IrisTrace:
        """Every intermediate product of the extraction of a Sample."""
        if not isinstance(sample, Sample):
            raise InvalidSample(f"expected a biocap Sample, got {type(sample).__name__}")
        if sample.modality is not Modality.IRIS:
            raise InvalidSample(f"IrisExtractor got a {sample.modality.value} sample")
        return self.trace_image(sample.image, position=int(sample.position or 0))

    def trace_image(self, image: np.ndarray, *, position: int = 0) -> IrisTrace:
        """Every intermediate product of the extraction of a raw eye image."""
        validate_image(image, what="iris image")
        seg = segment(image, self.segmentation)
        sheet = normalize(image, seg, self.normalization)
        resp = filter_response(sheet, self.encoding)
        code, mask = quantize(resp, self.encoding)
        geometry = seg.to_json()
        template = IrisTemplate(code=code, mask=mask, rows=self.encoding.code_rows,
                                cols=self.encoding.code_cols, position=position,
                                image_size=(image.shape[1], image.shape[0]), geometry=geometry)
        usable = template.usable_bits / template.n_bits
        if usable < self.min_usable_fraction:
            raise TooLittleIris(f"only {usable:.0%} of the iris code rests on visible iris "
                                f"(at least {self.min_usable_fraction:.0%} needed)")
        return IrisTrace(seg, sheet, resp, template)


__all__ = ["IrisExtractor", "IrisTrace", "TooLittleIris", "SegmentationFailed"]
