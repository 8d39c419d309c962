"""`IrisQuality`: iris image quality after ISO/IEC 29794-6.

Each measure is reported with its value, the standard's recommended limit (where it gives one;
limits marked "biocap" are ours) and whether the value meets it. The overall 0-100 score is the
geometric mean of per-measure sub-scores (1 when a limit is met, falling off linearly below it),
so one bad component (a closed eye, a blurred frame) pulls the score down on its own.
"""
from __future__ import annotations

import cv2
import numpy as np

from ...errors import InvalidSample
from ...templates.iris.segmentation import (MAX_PIXELS, SegmentationFailed, SegmentationParams,
                                            segment)
from ...templates.iris.types import Segmentation
from ...types import Modality, Sample, validate_image
from ..report import Feedback, Measure, QualityReport

# Daugman's 8x8 focus kernel (ISO/IEC 29794-6 sharpness): -1 all over, +3 in the central 4x4;
# it passes the band of high frequencies that defocus removes first
_FOCUS = -np.ones((8, 8), np.float32)
_FOCUS[2:6, 2:6] = 3.0
_FOCUS_C = 180.0 ** 2  # half-power constant of the sharpness score (mean squared response)


def _ring(shape, seg: Segmentation) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    h, w = shape
    yy, xx = np.mgrid[:h, :w]
    d_iris = np.hypot(xx - seg.iris.x, yy - seg.iris.y)
    d_pupil = np.hypot(xx - seg.pupil.x, yy - seg.pupil.y)
    iris = (d_iris <= seg.iris.r) & (d_pupil > seg.pupil.r)
    pupil = d_pupil <= seg.pupil.r * 0.8
    # sclera: a band just outside the limbus, on the sides (the lids cover top and bottom)
    side = np.abs(yy - seg.iris.y) < seg.iris.r * 0.5
    sclera = (d_iris > seg.iris.r * 1.1) & (d_iris < seg.iris.r * 1.3) & side
    return iris, pupil, sclera


def _ramp(value: float, good: float, bad: float) -> float:
    """1 at `good` or better, 0 at `bad` or worse, linear between (either direction)."""
    if good == bad:
        return 1.0 if value >= good else 0.0
    t = (value - bad) / (good - bad)
    return float(min(1.0, max(0.0, t)))


def pupil_circularity(image: np.ndarray, seg: Segmentation) -> float:
    """100 x (1 - mean relative deviation of the pupil edge from its circle), the edge found as
    the strongest outward step along 64 rays."""
    angles = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    radii = seg.pupil.r * np.linspace(0.7, 1.3, 25)
    xs = (seg.pupil.x + radii[None, :] * np.cos(angles)[:, None]).astype(np.float32)
    ys = (seg.pupil.y - radii[None, :] * np.sin(angles)[:, None]).astype(np.float32)
    prof = cv2.remap(image.astype(np.float32), xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    step = np.diff(prof, axis=1)
    edge = radii[np.argmax(step, axis=1) + 1]
    dev = np.abs(edge - np.median(edge)).mean() / max(seg.pupil.r, 1.0)
    return float(100 * max(0.0, 1 - dev))


def measures_of(image: np.ndarray, seg: Segmentation) -> dict[str, Measure]:
    """The ISO/IEC 29794-6 measures of an iris image given its segmentation."""
    img = image.astype(np.float32)
    h, w = image.shape
    iris_m, pupil_m, sclera_m = _ring(image.shape, seg)
    visible = iris_m & ~seg.occlusion
    uia = float(100.0 * visible.sum() / max(1, iris_m.sum()))
    i_val = float(np.median(img[visible])) if visible.any() else float(np.median(img[iris_m]))
    p_val = float(np.median(img[pupil_m])) if pupil_m.any() else 0.0
    s_val = float(np.median(img[sclera_m & ~seg.occlusion])) if (sclera_m & ~seg.occlusion).any() else i_val
    isc = 100.0 * max(0.0, s_val - i_val) / max(1.0, s_val + i_val - 2 * p_val)
    weber = max(0.0, i_val - p_val) / (p_val + 20.0)
    ipc = 100.0 * weber / (0.75 + weber)
    hist = np.bincount(image.ravel(), minlength=256).astype(np.float64)
    p = hist[hist > 0] / hist.sum()
    gsu = float(-(p * np.log2(p)).sum())
    dilation = 100.0 * seg.pupil.r / seg.iris.r
    offset = float(np.hypot(seg.pupil.x - seg.iris.x, seg.pupil.y - seg.iris.y))
    concentricity = 100.0 * max(0.0, 1 - offset / seg.iris.r)
    r = seg.iris.r
    margins = [(seg.iris.x - r) / (0.6 * r), (w - 1 - seg.iris.x - r) / (0.6 * r),
               (seg.iris.y - r) / (0.2 * r), (h - 1 - seg.iris.y - r) / (0.2 * r)]
    margin = 100.0 * float(np.clip(min(margins), 0.0, 1.0))
    # sharpness over the iris's bounding box (ISO applies the kernel to the whole image)
    x0, x1 = int(max(0, seg.iris.x - r)), int(min(w, seg.iris.x + r))
    y0, y1 = int(max(0, seg.iris.y - r)), int(min(h, seg.iris.y + r))
    crop = img[y0:y1, x0:x1] if (x1 - x0 > 8 and y1 - y0 > 8) else img
    power = float(np.mean(cv2.filter2D(crop, cv2.CV_32F, _FOCUS) ** 2))
    sharp = 100.0 * power ** 2 / (power ** 2 + _FOCUS_C ** 2)
    # motion blur: a moving eye smears along one direction, leaving the others sharp
    gx = cv2.Sobel(crop, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(crop, cv2.CV_32F, 0, 1)
    ex, ey = float(np.mean(gx ** 2)), float(np.mean(gy ** 2))
    g45 = float(np.mean(((gx + gy) / np.sqrt(2)) ** 2))
    g135 = float(np.mean(((gx - gy) / np.sqrt(2)) ** 2))
    energies = np.array([ex, ey, g45, g135]) + 1e-6
    motion = 100.0 * float(energies.min() / energies.max())
    gaze = float(np.degrees(np.arcsin(min(1.0, offset / seg.iris.r))))
    circ = pupil_circularity(image, seg)
    return {
        "usable_iris_area": Measure(uia, ">= 70", uia >= 70),
        "iris_sclera_contrast": Measure(isc, "> 5", isc > 5),
        "iris_pupil_contrast": Measure(ipc, "> 30", ipc > 30),
        "pupil_boundary_circularity": Measure(circ, ">= 90 (biocap)", circ >= 90),
        "grey_scale_utilisation": Measure(gsu, ">= 6 bits", gsu >= 6),
        "iris_radius": Measure(float(r), ">= 80 px", r >= 80),
        "pupil_dilation": Measure(dilation, "20-70", 20 <= dilation <= 70),
        "iris_pupil_concentricity": Measure(concentricity, ">= 90", concentricity >= 90),
        "margin_adequacy": Measure(margin, ">= 80", margin >= 80),
        "sharpness": Measure(sharp, ">= 50 (biocap)", sharp >= 50),
        "motion_blur": Measure(motion, ">= 25 (biocap, 100 = no directional smear)", motion >= 25),
        "gaze": Measure(gaze, "<= 15 deg (biocap)", gaze <= 15),
    }


_SUBSCORE = {  # measure -> (good, bad) for the linear fall-off of its sub-score
    "usable_iris_area": (70, 20), "iris_sclera_contrast": (5, 0), "iris_pupil_contrast": (30, 5),
    "grey_scale_utilisation": (6, 3), "iris_radius": (80, 30), "iris_pupil_concentricity": (90, 60),
    "margin_adequacy": (80, 0), "sharpness": (50, 5), "motion_blur": (25, 5), "gaze": (15, 40),
    "pupil_boundary_circularity": (90, 60),
}

_FEEDBACK = [
    ("usable_iris_area", "occluded", "open the eyes wide; lids or lashes hide the iris"),
    ("sharpness", "blur", "the iris is out of focus: move to the camera's focus distance"),
    ("motion_blur", "moved", "hold still during the capture"),
    ("margin_adequacy", "off_centre", "centre the eye in the camera's view"),
    ("gaze", "gaze", "look straight into the camera"),
    ("iris_radius", "too_far", "move closer: the iris is too small in the image"),
    ("iris_pupil_contrast", "contrast", "the pupil is hard to see: check the lighting"),
    ("iris_sclera_contrast", "contrast", "the iris edge is hard to see: check the lighting"),
    ("pupil_dilation", "dilation", "the pupil is very wide or narrow: adjust the ambient light"),
]


class IrisQuality:
    """biocap's iris quality provider (ISO/IEC 29794-6 measures, 0-100 score, feedback)."""
    name = "biocap-iris-quality"
    modality = Modality.IRIS

    def __init__(self, params: SegmentationParams | None = None):
        self.params = params or SegmentationParams()

    def assess(self, sample: Sample) -> QualityReport:
        """A QualityReport of an iris Sample."""
        if not isinstance(sample, Sample):
            raise InvalidSample(f"expected a biocap Sample, got {type(sample).__name__}")
        if sample.modality is not Modality.IRIS:
            raise InvalidSample(f"IrisQuality got a {sample.modality.value} sample")
        return self.assess_image(sample.image)

    def assess_image(self, image: np.ndarray, seg: Segmentation | None = None) -> QualityReport:
        """A QualityReport of a raw 2-D uint8 eye image."""
        validate_image(image, what="iris image")
        if image.size > MAX_PIXELS:
            raise InvalidSample(f"iris image of {image.shape[1]}x{image.shape[0]} pixels is too large "
                                "to assess", hint="crop the eye region or downsample to at most 2048x2048")
        if seg is None:
            try:
                seg = segment(image, self.params)
            except SegmentationFailed as exc:
                return QualityReport(Modality.IRIS, 0, self.name, {},
                                     [Feedback("no_eye", "no eye found: centre the eye and open it")],
                                     reason=str(exc))
        measures = measures_of(image, seg)
        return QualityReport(Modality.IRIS, self.score(measures), self.name, measures,
                             self.feedback(measures))

    @staticmethod
    def score(measures: dict[str, Measure]) -> int:
        """The 0-100 score of a set of measures (geometric mean of per-measure sub-scores)."""
        subs = []
        for key, (good, bad) in _SUBSCORE.items():
            if key in measures:
                subs.append(max(0.02, _ramp(measures[key].value, good, bad)))
        dil = measures.get("pupil_dilation")
        if dil is not None:
            subs.append(max(0.02, min(_ramp(dil.value, 20, 5), _ramp(dil.value, 70, 85))))
        if not subs:
            return 0
        # geometric mean, pulled further down by the worst component: one failed measure (a
        # closed eye, a blurred frame) must sink the score, not be averaged away
        return int(round(100 * float(np.exp(np.mean(np.log(subs)))) * float(min(subs)) ** 0.5))

    @staticmethod
    def feedback(measures: dict[str, Measure]) -> list[Feedback]:
        """Operator feedback for the measures that miss their limits, most important first."""
        out, seen = [], set()
        for key, code, text in _FEEDBACK:
            m = measures.get(key)
            if m is not None and m.ok is False and code not in seen:
                out.append(Feedback(code, text))
                seen.add(code)
        return out
