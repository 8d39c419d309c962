"""biocap's fingerprint quality provider: a 0-100 score in the way of NFIQ 2 (ISO/IEC 29794-4),
its measures, and feedback the operator can act on.

    report = FingerprintQuality().assess(sample)          # Sample with its ppi
    report = FingerprintQuality().assess(image, ppi=500)  # or a raw 2-D uint8 array

The image is resampled to 500 ppi, block features are computed (`features`) and the
shipped model (`fingerprint_quality.npz`, trained by `research.quality_fingerprint.train` to predict NFIQ 2)
turns them into the score. Images that hold no ridge pattern (empty, flat, noise, a face) get a
score near 0 and the feedback `not_a_fingerprint`; malformed input raises `InvalidSample`.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from ...errors import InvalidDataError, InvalidSample, NotASample
from ...imaging import image_and_ppi, to_working_resolution
from ...types import Modality, Sample
from . import ridge_flow
from .features import BLOCK, FEATURE_NAMES, FingerprintAnalysis, analyse
from .model import QualityModel
from ..report import Feedback, Measure, QualityReport

MODEL_PATH = Path(__file__).with_name("fingerprint_quality.npz")

#: stable feedback codes, most fundamental first, with the operator's instruction
FEEDBACK = {
    "not_a_fingerprint": "no fingerprint ridges found: place a finger flat on the sensor",
    "partial": "too little of the finger touches the sensor: press the whole fingertip flat",
    "off_centre": "finger is off centre: move it {direction}",
    "low_pressure": "print is faint: press a little harder",
    "blur": "print is blurred: hold the finger still and keep the sensor clean",
    "too_wet": "ridges are merged or smudged: dry the finger and clean the sensor",
    "too_dry": "ridges are broken or faint: moisten the finger slightly (breathe on it) and retry",
}

# Thresholds of the feedback rules, chosen by looking at the measures of the FVC 2002 originals
# next to synthetic degradations of them (`biocap.synthetic.fingerprint.degrade`; checked by
# `tests/test_quality_fingerprint.py`). Each is a plain comparison on one or two measures so that
# it can be explained to an operator.
MIN_BAND_ENERGY = 0.3  # median share of block energy at ridge frequencies: below, no ridges
MIN_COHERENCE = 0.2  # median orientation coherence: below, no ridge flow (noise)
MIN_RIDGE_PERIOD_SHARE = 0.12  # share of blocks whose spectral peak is a ridge period (<= 12.5
# px): FVC originals >= 0.59, face photos median 0.03 (a print blurred beyond use also drops)
MIN_AREA_MM2 = 100.0  # contact area below this: partial
MIN_FG_FRACTION = 0.35  # ... or less than this share of the image
MAX_OFFSET = 0.17  # centroid of the contact further than this (share of the image) from centre
MAX_MARGIN_SKEW = 0.34  # background on one side minus the other, share of the image
MIN_CONTRAST = 0.13  # median block std / 128 below this: faint print
SHARP_HIGH_ENERGY = 0.015  # share of energy above the ridge band: below, edges are smeared
BLUR_HIGH_ENERGY = 0.004  # below this no edge is left at all (clean FVC prints: >= 0.02)
BLUR_CONTRAST = 0.2  # smeared edges and lost contrast: blur; smeared but contrasted: wet
SMEAR_CLARITY = 0.45  # clarity below this with smeared edges: blur or wet
WET_RIDGE_SHARE = 0.58  # ridges occupy most of the print: wet or smudged
DRY_CLARITY = 0.27  # broken ridges: little energy in one clean sinusoid ...
DRY_HIGH_ENERGY = 0.1  # ... and much in speckle above the ridge band: dry
# ... or very little clarity where ridges are not thick (a smudged wet print has low clarity
# too, but dark pixels fill most of its blocks): the dotted, broken ridges of a dry finger on an
# optical sensor (FVC 2002 DB4 108_3/6, 110_1/3, NFIQ 2 3-8, whose speckle is too coarse for the
# high-frequency test). On the 320 FVC originals no print with NFIQ 2 >= 60 has clarity below
# 0.36 (docs/quality.md: the feedback table)
DRY_THIN_CLARITY = 0.3
DRY_RIDGE_SHARE = 0.28
MAX_SCORE_NOT_FINGERPRINT = 5
#: ridge-flow spread over the print (1 - |coherence-weighted mean of the doubled block
#: orientation|): 0 when every ridge runs in one direction. Finger ridges curve around the core
#: and deltas, or at least arch: the lowest of the 640 FVC 2000/2002 B prints is 0.108 (2000 DB4
#: 109_3, a partial arch), FVC 2002 0.20; parallel stripes at any period and angle are 0.000-0.01
#: (benchmarks/bench_not_a_sample.py, docs/decisions/17-not-a-sample.md)
MIN_ORIENTATION_SPREAD = 0.05


@lru_cache(maxsize=4)
def load_model(path: str | Path = MODEL_PATH) -> QualityModel:
    """The quality model (cached per path); raises InvalidDataError if the file is unusable."""
    model = QualityModel.load(path)
    if tuple(model.feature_names) != FEATURE_NAMES:
        raise InvalidDataError(f"quality model {path} was trained on other features than this "
                               "version computes",
                               hint="retrain with `python -m research.quality_fingerprint.train`")
    return model


def _direction(dx: float, dy: float) -> str:
    parts = []
    if abs(dy) > MAX_OFFSET * 0.5:
        parts.append("down" if dy < 0 else "up")  # contact in the upper part: move down
    if abs(dx) > MAX_OFFSET * 0.5:
        parts.append("right" if dx < 0 else "left")
    return " and ".join(parts) or "to the centre"


def orientation_spread(a: FingerprintAnalysis) -> float:
    """How much the ridge direction varies over the foreground: 1 - |sum w exp(2i theta)| / sum w
    over foreground blocks, w the orientation coherence (0 = one direction everywhere)."""
    fg = a.foreground
    theta, weight = a.maps["orientation"][fg], a.maps["coherence"][fg]
    total = float(weight.sum())
    if total <= 0:
        return 0.0
    return float(1.0 - abs(np.sum(weight * np.exp(2j * theta))) / total)


def ridge_evidence(a: FingerprintAnalysis) -> tuple[float, float, float | None]:
    """(periodic ridge area mm², its share of the foreground, flow deviation from one quadratic
    field in degrees or None) of an analysis (`ridge_flow`), computed once per analysis."""
    cached = a.__dict__.get("_ridge_evidence")
    if cached is None:
        area, fraction = ridge_flow.periodic_ridge_area(a)
        cached = (area, fraction, ridge_flow.quadratic_flow_deviation(a))
        a.__dict__["_ridge_evidence"] = cached
    return cached


def not_a_fingerprint(a: FingerprintAnalysis) -> str | None:
    """Why the analysed image holds no fingerprint (a stripe or ring pattern, noise, an iris, a
    face...), or None."""
    if a["n_fg_blocks"] == 0:
        return "nothing stands out from the background"
    if a["band_energy_p50"] < MIN_BAND_ENERGY or a["ridge_period_share"] < MIN_RIDGE_PERIOD_SHARE:
        return "no ridge pattern at fingerprint ridge periods"
    if a["coherence_p50"] < MIN_COHERENCE:
        return "no ridge flow (noise or texture)"
    if orientation_spread(a) < MIN_ORIENTATION_SPREAD:
        return "all ridges run in one direction: a stripe pattern, not a finger"
    area, fraction, deviation = ridge_evidence(a)
    if not ridge_flow.enough_periodic_ridges(area, fraction):
        return (f"only {area:.0f} mm² ({fraction:.0%} of the image's texture) of periodic, smoothly "
                "flowing ridges: a texture such as an iris or a photo, not a finger")
    if deviation is not None and deviation < ridge_flow.MIN_FLOW_DEVIATION_DEG:
        return (f"the ridges follow one geometric pattern (stripes, rings or ellipses) to within "
                f"{deviation:.1f} degrees: a drawn pattern, a finger's ridges bend around cores "
                "and deltas")
    return None


def feedback_codes(a: FingerprintAnalysis) -> list[str]:
    """The feedback rules over an analysis, most fundamental problem first."""
    if not_a_fingerprint(a) is not None:
        return ["not_a_fingerprint"]
    codes = []
    if a["fg_area_mm2"] < MIN_AREA_MM2 or a["fg_fraction"] < MIN_FG_FRACTION:
        codes.append("partial")
    if a["fg_offset"] > MAX_OFFSET or max(abs(a["fg_margin_dx"]), abs(a["fg_margin_dy"])) > MAX_MARGIN_SKEW:
        codes.append("off_centre")
    smeared = a["high_energy_p50"] < SHARP_HIGH_ENERGY and a["clarity_p50"] < SMEAR_CLARITY
    defocused = a["high_energy_p50"] < BLUR_HIGH_ENERGY  # no edge left anywhere: optical blur
    if defocused or smeared and a["contrast_p50"] < BLUR_CONTRAST:
        codes.append("blur")
    elif a["contrast_p50"] < MIN_CONTRAST:
        codes.append("low_pressure")
    if a["ridge_share_mean"] > WET_RIDGE_SHARE or smeared and "blur" not in codes:
        codes.append("too_wet")
    elif a["clarity_p50"] < DRY_CLARITY and a["high_energy_p50"] > DRY_HIGH_ENERGY or \
            a["clarity_p50"] < DRY_THIN_CLARITY and a["ridge_share_mean"] < DRY_RIDGE_SHARE:
        codes.append("too_dry")
    return codes


def _offset_direction(a: FingerprintAnalysis) -> str:
    dx = a["fg_offset_x"] if abs(a["fg_offset_x"]) > abs(a["fg_margin_dx"]) / 2 else a["fg_margin_dx"] / 2
    dy = a["fg_offset_y"] if abs(a["fg_offset_y"]) > abs(a["fg_margin_dy"]) / 2 else a["fg_margin_dy"] / 2
    return _direction(dx, dy)


def _measures(a: FingerprintAnalysis) -> dict[str, Measure]:
    def m(value, limit=None, ok=None):
        return Measure(value=round(float(value), 4), limit=limit, ok=ok)

    return {
        "orientation_certainty": m(a["ocl_mean"]),
        "orientation_coherence": m(a["coherence_mean"]),
        "orientation_flow": m(a["flow_mean"]),
        "local_clarity": m(a["clarity_p50"], f">= {SMEAR_CLARITY}", a["clarity_p50"] >= SMEAR_CLARITY),
        "frequency_strength": m(a["band_energy_mean"]),
        "ridge_valley_share": m(a["ridge_share_mean"], f"<= {WET_RIDGE_SHARE}",
                                a["ridge_share_mean"] <= WET_RIDGE_SHARE),
        "high_frequency_share": m(a["high_energy_p50"]),
        "contrast": m(a["contrast_p50"], f">= {MIN_CONTRAST}", a["contrast_p50"] >= MIN_CONTRAST),
        "grey_mean": m(a["grey_mean"] * 255),
        "grey_std": m(a["grey_std"] * 255),
        "foreground_area_mm2": m(a["fg_area_mm2"], f">= {MIN_AREA_MM2}",
                                 a["fg_area_mm2"] >= MIN_AREA_MM2),
        "foreground_offset": m(a["fg_offset"], f"<= {MAX_OFFSET}", a["fg_offset"] <= MAX_OFFSET),
        "ridge_period_px": m(a["period_p50"]),
        "minutiae_count": m(a["minutiae_count"]),
        "minutiae_quality": m(a["minutiae_quality"]),
        "ridge_block_fraction": m(a["ridge_block_fraction"]),
        "frequency_strength_median": m(a["band_energy_p50"], f">= {MIN_BAND_ENERGY}",
                                       a["band_energy_p50"] >= MIN_BAND_ENERGY),
        "orientation_spread": m(orientation_spread(a), f">= {MIN_ORIENTATION_SPREAD}",
                                orientation_spread(a) >= MIN_ORIENTATION_SPREAD),
        **_evidence_measures(a),
    }


def _evidence_measures(a: FingerprintAnalysis) -> dict[str, Measure]:
    if a["n_fg_blocks"] == 0:
        return {}
    area, fraction, deviation = ridge_evidence(a)
    out = {"periodic_ridge_area_mm2": Measure(
               value=round(area, 1), ok=ridge_flow.enough_periodic_ridges(area, fraction), limit=(
                   f">= {ridge_flow.MIN_PERIODIC_AREA_MM2:g}, or >= "
                   f"{ridge_flow.MIN_PERIODIC_AREA_FLOOR_MM2:g} covering >= "
                   f"{ridge_flow.MIN_PERIODIC_FRACTION:g} of the foreground")),
           "periodic_ridge_fraction": Measure(value=round(fraction, 4))}
    if deviation is not None:
        out["flow_deviation_deg"] = Measure(
            value=round(deviation, 2), limit=f">= {ridge_flow.MIN_FLOW_DEVIATION_DEG:g}",
            ok=deviation >= ridge_flow.MIN_FLOW_DEVIATION_DEG)
    return out


class FingerprintQuality:
    """Fingerprint quality provider (hook `biocap_quality_providers`)."""

    name = "biocap-fingerprint-quality"
    modality = Modality.FINGERPRINT

    def __init__(self, model_path: str | Path | None = None):
        self._model_path = Path(model_path) if model_path else MODEL_PATH

    @property
    def model(self) -> QualityModel:
        return load_model(self._model_path)

    def score_analysis(self, a: FingerprintAnalysis) -> int:
        """0-100 score of an analysis (the model's NFIQ 2 estimate, clipped)."""
        raw = float(self.model.predict(a.vector[None, :])[0])
        return int(np.clip(round(raw), 0, 100))

    def assess(self, sample: Sample | np.ndarray, ppi: float | None = None) -> QualityReport:
        """Score a fingerprint Sample (or a raw 2-D uint8 image with `ppi`). Raises
        InvalidSample for malformed input; returns a low score with the reason for images that
        are well formed but hold no usable fingerprint."""
        return self._assess(self._working_image(sample, ppi), detailed=True)

    def check_sample(self, sample: Sample | np.ndarray, ppi: float | None = None) -> None:
        """Raise NotASample (with the reason) unless the image holds a fingerprint: what the SDK
        and the CLI run before extraction."""
        check_is_fingerprint(sample, ppi)

    def quick_assess(self, sample: Sample | np.ndarray, ppi: float | None = None) -> QualityReport:
        """Preview-frame variant: the same score and the most important feedback only, without
        the measures. A 400 x 400 frame at 500 ppi takes about 15-25 ms on one core, fast enough
        for a live hint; large frames (slaps) cost proportionally more."""
        return self._assess(self._working_image(sample, ppi), detailed=False)

    @staticmethod
    def _working_image(sample, ppi) -> np.ndarray:
        if isinstance(sample, Sample) and sample.modality is not Modality.FINGERPRINT:
            raise InvalidSample(f"a {sample.modality.value} sample was given to the fingerprint "
                                "quality provider", hint="assess it with its own modality's provider")
        image, ppi = image_and_ppi(sample, ppi)
        return to_working_resolution(image, ppi)

    def _assess(self, image: np.ndarray, *, detailed: bool) -> QualityReport:
        h, w = image.shape
        if min(h, w) < 2 * BLOCK:
            return self._unusable(f"image of {w}x{h} px at 500 ppi is too small to hold a "
                                  "fingerprint", "partial")
        if int(image.max()) - int(image.min()) < 8:
            return self._unusable("the image is flat (all one grey level): no finger on the "
                                  "sensor", "not_a_fingerprint")
        a = analyse(image)
        codes = feedback_codes(a)
        score = self.score_analysis(a)
        reason = None
        if codes and codes[0] == "not_a_fingerprint":
            score = min(score, MAX_SCORE_NOT_FINGERPRINT)
            reason = f"not a fingerprint: {not_a_fingerprint(a)}"
        feedback = [self._feedback(c, a) for c in codes]
        if not detailed:
            feedback = feedback[:1]
        if reason is None and feedback and score < 40:
            reason = feedback[0].message
        return QualityReport(modality=Modality.FINGERPRINT, score=score, provider=self.name,
                             measures=_measures(a) if detailed else {}, feedback=feedback,
                             reason=reason)

    @staticmethod
    def _feedback(code: str, a: FingerprintAnalysis) -> Feedback:
        text = FEEDBACK[code]
        if code == "off_centre":
            text = text.format(direction=_offset_direction(a))
        return Feedback(code, text)

    def _unusable(self, reason: str, code: str) -> QualityReport:
        return QualityReport(modality=Modality.FINGERPRINT, score=0, provider=self.name,
                             feedback=[Feedback(code, FEEDBACK[code])], reason=reason)


def check_is_fingerprint(sample: Sample | np.ndarray, ppi: float | None = None) -> None:
    """Raise NotASample (with the reason) unless the image holds a fingerprint ridge pattern: the
    same test that caps the quality score at MAX_SCORE_NOT_FINGERPRINT. `SDK.extract` and
    `biocap template extract` run it before extracting."""
    image = FingerprintQuality._working_image(sample, ppi)
    h, w = image.shape
    if min(h, w) < 2 * BLOCK:
        raise NotASample(f"image of {w}x{h} px at 500 ppi is too small to hold a fingerprint")
    if int(image.max()) - int(image.min()) < 8:
        raise NotASample(f"not a fingerprint: the image is flat (grey levels {int(image.min())}-"
                         f"{int(image.max())})")
    why = not_a_fingerprint(analyse(image))
    if why is not None:
        raise NotASample(f"not a fingerprint: {why}")


def assess(sample: Sample | np.ndarray, ppi: float | None = None) -> QualityReport:
    """Module-level shortcut for `FingerprintQuality().assess`."""
    return FingerprintQuality().assess(sample, ppi)


__all__ = ["FingerprintQuality", "assess", "check_is_fingerprint", "feedback_codes", "load_model", "not_a_fingerprint",
           "orientation_spread", "ridge_evidence", "FEEDBACK"]
