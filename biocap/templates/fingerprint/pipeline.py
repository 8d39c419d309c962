"""The minutiae extractor as one short sequence of named stages.

Every stage's result is kept on an `ExtractionTrace` under the stage's name and, if an observer is
given, handed to it as `(stage_name, value)` the moment it is ready, so overlays, debugging tools and
the quality core can reuse intermediate products (e.g. the orientation field) instead of redoing
them. All stages work at the working resolution (`resolution.WORKING_PPI`), further resampled when
the print's ridge period lies well outside `params.PERIOD_RANGE` (so the pixel constants see the
periods they were tuned on); from segmentation on, on the foreground's bounding box only
(`trace.resolution` is then that crop, with its offset and scale). The
final stage maps minutiae back to the Sample's own pixels and converts angles to the ISO convention
(radians, counter-clockwise as seen on screen, y axis down). The template holds the interoperable
minutiae (what a record gives other matchers: those filtering kept plus the rejects of
`filtering.INTERCHANGE_KEEPS`), ordered by x then y as NBIS writes them (bozorth3 reads minutiae
in record order and finds fewer pairs otherwise); a vendor block marks the subset biocap-mcc uses.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ...errors import InvalidSample
from ...types import Modality, Sample
from .template import MINUTIA_DTYPE, FingerprintTemplate, SingularPoint, matcher_subset_block
from .binarization import binarize
from .enhancement import gabor_enhance
from .filtering import FilterResult, remove_false_minutiae
from .frequency import RidgeFrequency, ridge_frequency
from .minutiae import CANDIDATE_DTYPE, detect_minutiae
from .normalization import normalize
from .orientation import OrientationField, orientation_field
from .quality import minutia_quality
from .resolution import WorkingImage, to_working_resolution
from .segmentation import refine_with_flow, segment
from .singular import Singularity, singular_points
from .skeleton_graph import SkeletonGraph, build_graph
from .thinning import thin
from .params import CROP_MARGIN, MIN_FOREGROUND_PX, MIN_WORKING_SIDE, PERIOD_MARGIN, PERIOD_RANGE

#: the stage names, in the order they run (each is also an attribute of ExtractionTrace)
STAGES = ("resolution", "segmentation", "normalization", "orientation", "foreground", "frequency",
          "enhancement",
          "binarization", "thinning", "skeleton_graph", "minutiae", "filtering", "quality",
          "singular_points", "template")

Observer = Callable[[str, Any], None]
#: the stages run again when a print is resampled to its ridge period
_FRONT_STAGES = frozenset(("resolution", "segmentation", "normalization", "orientation",
                           "foreground", "frequency"))


@dataclass
class ExtractionTrace:
    """Every intermediate product of one extraction (None for stages that did not run)."""

    resolution: WorkingImage | None = None
    segmentation: np.ndarray | None = None  # bool foreground mask, 500 ppi
    normalization: np.ndarray | None = None  # float32 normalized image
    orientation: OrientationField | None = None
    foreground: np.ndarray | None = None  # bool mask refined by flow coherence (used from here on)
    frequency: RidgeFrequency | None = None
    enhancement: np.ndarray | None = None  # float32 Gabor response (ridges negative)
    binarization: np.ndarray | None = None  # bool ridge map
    thinning: np.ndarray | None = None  # bool skeleton
    skeleton_graph: SkeletonGraph | None = None
    minutiae: np.ndarray | None = None  # CANDIDATE_DTYPE, all candidates before filtering
    filtering: FilterResult | None = None
    quality: np.ndarray | None = None  # uint8 per minutia of the template (interchange set)
    singular_points: list[Singularity] | None = None
    template: FingerprintTemplate | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)


def _validate(sample: Any) -> Sample:
    if not isinstance(sample, Sample):
        raise InvalidSample(f"expected a biocap Sample, got {type(sample).__name__}",
                            hint="wrap the image: Sample(image, ppi=500, modality='fingerprint')")
    if sample.modality is not Modality.FINGERPRINT:
        raise InvalidSample(f"the fingerprint extractor got a {sample.modality.value} sample",
                            hint="pass a Sample with modality FINGERPRINT")
    return sample


def _template(sample: Sample, work: WorkingImage | None, kept: np.ndarray, quality: np.ndarray,
              singular: list[Singularity], matcher_use: np.ndarray | None = None) -> FingerprintTemplate:
    m = np.zeros(kept.size, MINUTIA_DTYPE)
    points = []
    extended: dict = {}
    if work is not None and kept.size:
        x, y = work.to_sample(kept["x"].astype(np.float64), kept["y"].astype(np.float64))
        m["x"], m["y"] = x, y
        # pixel frame (y down, angle towards +y) -> ISO: counter-clockwise on screen
        m["angle"] = (-kept["angle"].astype(np.float64)) % (2 * np.pi)
        m["type"] = kept["type"]
        m["quality"] = quality
        order = np.lexsort((m["y"], m["x"]))
        m = m[order]
        if matcher_use is not None and not matcher_use.all():
            extended["vendor_blocks"] = [matcher_subset_block(matcher_use[order])]
    if work is not None:
        for sp in singular:
            sx, sy = work.to_sample(np.float64(sp.x), np.float64(sp.y))
            points.append(SingularPoint(sp.kind, float(sx), float(sy)))
    position = int(sample.position) if sample.position is not None else 0
    return FingerprintTemplate(m, sample.width, sample.height, float(sample.ppi), position=position,
                               singular_points=points, extended=extended)


def _crop_to_foreground(work: WorkingImage, mask: np.ndarray) -> tuple[WorkingImage, np.ndarray]:
    """Cut the working image to the foreground's bounding box plus CROP_MARGIN: later stages cost
    in proportion to their pixels, and outside the mask they only ever see zeros (the margin keeps
    the widest smoothing, the orientation field's, off the cut)."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    h, w = mask.shape
    y0, y1 = max(0, rows[0] - CROP_MARGIN), min(h, rows[-1] + 1 + CROP_MARGIN)
    x0, x1 = max(0, cols[0] - CROP_MARGIN), min(w, cols[-1] + 1 + CROP_MARGIN)
    if (y1 - y0) * (x1 - x0) > 0.9 * h * w:  # not worth a copy
        return work, mask
    return work.crop(y0, y1, x0, x1), np.ascontiguousarray(mask[y0:y1, x0:x1])


@dataclass
class _Front:
    """The stages up to the ridge period, at one working scale (None fields: an empty print)."""
    work: WorkingImage
    mask: np.ndarray | None = None
    normalized: np.ndarray | None = None
    flow: OrientationField | None = None
    freq: RidgeFrequency | None = None


def _front(sample: Sample, run: Callable, trace: ExtractionTrace, period_scale: float) -> _Front:
    work = run("resolution", to_working_resolution, sample.image, sample.ppi, period_scale)
    if min(work.image.shape) < MIN_WORKING_SIDE:
        return _Front(work)
    mask = run("segmentation", segment, work.image)
    if int(mask.sum()) < MIN_FOREGROUND_PX:  # blank or featureless: nothing to extract
        return _Front(work)
    work, mask = _crop_to_foreground(work, mask)
    trace.resolution, trace.segmentation = work, mask
    normalized = run("normalization", normalize, work.image, mask)
    flow = run("orientation", orientation_field, normalized, mask)
    mask = run("foreground", refine_with_flow, mask, flow.coherence)
    if int(mask.sum()) < MIN_FOREGROUND_PX:  # noise or texture without ridge flow
        return _Front(work)
    freq = run("frequency", ridge_frequency, normalized, mask)
    return _Front(work, mask, normalized, flow, freq)


def trace_extraction(sample: Sample, observer: Observer | None = None) -> ExtractionTrace:
    """Run every stage on `sample` and return all intermediate results.

    The stages up to "frequency" run at the working resolution; if the measured ridge period lies
    more than `params.PERIOD_MARGIN` outside `params.PERIOD_RANGE`, they run once more on the
    image resampled so that the period falls on the nearer end of that range, and the rest
    follows at that scale (minutiae still come back in the Sample's pixels). The observer sees those first stages once, at the scale kept,
    when the period is known; every later stage the moment it is ready.
    """
    _validate(sample)
    if observer is not None and not callable(observer):
        raise TypeError("observer must be a callable taking (stage_name, value)")
    trace = ExtractionTrace()
    pending: list[tuple[str, Any]] = []  # (stage, value) not yet handed to the observer

    def run(name: str, fn: Callable, *args):
        t0 = time.perf_counter()
        value = fn(*args)
        # accumulated: the first stages may run twice (a print resampled to its ridge period)
        trace.timings_ms[name] = trace.timings_ms.get(name, 0.0) + (time.perf_counter() - t0) * 1e3
        setattr(trace, name, value)
        pending.append((name, value))
        if name not in _FRONT_STAGES:
            flush()
        return value

    def flush():
        if observer is not None:
            for item in pending:
                observer(*item)
        pending.clear()

    front = _front(sample, run, trace, 1.0)
    if front.freq is not None:
        lo, hi = PERIOD_RANGE
        wavelength = front.freq.wavelength
        if not lo / (1 + PERIOD_MARGIN) <= wavelength <= hi * (1 + PERIOD_MARGIN):
            first, first_seen = front, list(pending)
            first_kept = (trace.resolution, trace.segmentation)
            pending.clear()
            front = _front(sample, run, trace, float(np.clip(wavelength, lo, hi)) / wavelength)
            if front.freq is None:  # the resampled print came out empty: keep the first scale
                front = first
                pending[:] = first_seen
                for name, value in first_seen:
                    setattr(trace, name, value)
                trace.resolution, trace.segmentation = first_kept
    work, mask, normalized, flow, freq = front.work, front.mask, front.normalized, front.flow, front.freq
    empty = np.zeros(0, CANDIDATE_DTYPE)
    if freq is None:
        run("template", _template, sample, work, empty, np.zeros(0, np.uint8), [])
        return trace
    enhanced = run("enhancement", gabor_enhance, normalized, flow, freq.wavelength, mask)
    ridges = run("binarization", binarize, enhanced, mask)
    skeleton = run("thinning", thin, ridges)
    graph = run("skeleton_graph", build_graph, skeleton)
    candidates = run("minutiae", detect_minutiae, graph, flow, freq.wavelength)
    verdict = run("filtering", remove_false_minutiae, candidates, graph, mask, flow.coherence,
                  freq.wavelength)
    record = verdict.interchange
    kept = candidates[record]
    quality = run("quality", minutia_quality, kept["x"], kept["y"], mask, flow.coherence,
                  freq.wavelength)
    singular = run("singular_points", singular_points, flow, mask)
    run("template", _template, sample, work, kept, quality, singular, verdict.kept[record])
    return trace


def extract_template(sample: Sample, observer: Observer | None = None) -> FingerprintTemplate:
    """Minutiae template of a fingerprint Sample (coordinates in the Sample's pixels)."""
    return trace_extraction(sample, observer).template
