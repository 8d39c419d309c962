"""`FaceQuality`: ISO/IEC 29794-5 face image quality with operator feedback.

`assess(sample)` finds the faces, measures every component of the largest one (raw value and a
0-100 score each, `Measure.value` / `Measure.score`), the unified score (weighted geometric mean,
measures.unified) and the feedback a person can act on, worst problem first.
"""
from __future__ import annotations

import numpy as np

from ...types import Modality, Sample, require_sample
from ..report import Feedback, Measure, QualityReport
from ...templates.face import params as P
from ...templates.face.detection import FaceDetection, detect_faces
from .measures import Component, components, unified

# component -> (code, message) when it scores below FEEDBACK_BELOW; pose, size and exposure
# choose between two messages by the sign of the raw value (see _feedback)
_MESSAGES = {
    "inter_eye_distance": ("move_closer", "move closer to the camera"),
    "crop": ("centre_face", "centre your face in the picture"),
    "roll": ("straighten_head", "hold your head straight, do not tilt it"),
    "sharpness": ("blur", "hold still: the picture is blurred (check the focus)"),
    "luminance_variance": ("flat_light", "the light is flat: light the face better"),
    "under_exposure": ("too_dark", "too dark: add light on the face"),
    "over_exposure": ("too_bright", "too bright: reduce the light or the exposure"),
    "dynamic_range": ("flat_light", "the light is flat: light the face better"),
    "illumination_uniformity": ("uneven_light", "uneven light: light both sides of the face evenly"),
    "background_uniformity": ("background_not_plain", "the background is not plain: stand in front of a plain wall"),
    "eyes_open": ("eyes_closed", "open your eyes"),
    "mouth_closed": ("mouth_open", "close your mouth"),
    "eyes_not_occluded": ("eyes_covered", "remove glasses or anything covering the eyes"),
    "mouth_not_occluded": ("mouth_covered", "uncover your mouth"),
    "compression": ("compressed", "the image is too compressed: raise the camera's JPEG quality"),
}


def _feedback(comps: dict[str, Component]) -> list[Feedback]:
    n = comps["single_face"].raw
    if n == 0:
        return [Feedback("no_face", "no face found: stand in front of the camera and look at it")]
    out: list[tuple[float, Feedback]] = []
    if n > 1:
        out.append((-1.0, Feedback("multiple_faces", "more than one face: only the applicant may be "
                                                     "in the picture")))
    for name, c in comps.items():
        if name == "single_face" or c.score >= P.FEEDBACK_BELOW:
            continue
        if name == "yaw":
            # yaw > 0: turned to the subject's left, so they must turn back to their right
            fb = Feedback("turn_head_right", "look straight at the camera: turn your head to your right") \
                if c.raw > 0 else \
                Feedback("turn_head_left", "look straight at the camera: turn your head to your left")
        elif name == "pitch":
            fb = Feedback("lower_chin", "lower your chin a little") if c.raw > 0 else \
                Feedback("raise_chin", "raise your chin a little")
        elif name == "head_size":
            fb = Feedback("move_closer", "move closer to the camera") if c.raw < 0.5 else \
                Feedback("move_back", "move back from the camera")
        elif name == "luminance_mean":
            fb = Feedback("too_dark", "too dark: add light on the face") if c.raw < 0.5 else \
                Feedback("too_bright", "too bright: reduce the light or the exposure")
        else:
            fb = Feedback(*_MESSAGES[name])
        out.append((c.score, fb))
    out.sort(key=lambda t: t[0])
    seen: set[str] = set()
    result = []
    for _, fb in out:
        if fb.code not in seen:
            seen.add(fb.code)
            result.append(fb)
    return result


def report_from(comps: dict[str, Component], provider: str = "biocap-face") -> QualityReport:
    """The QualityReport of measured components (shared by assess and the benches)."""
    measures = {c.name: Measure(value=c.raw, limit=c.limit, ok=c.ok, score=round(c.score, 2))
                for c in comps.values()}
    score = unified(comps)
    feedback = _feedback(comps)
    reason = None
    if comps["single_face"].raw == 0:
        reason = "no face found"
    elif feedback and score < 60:
        reason = "; ".join(f.code for f in feedback[:3])
    return QualityReport(Modality.FACE, int(round(score)), provider, measures, feedback, reason)


class FaceQuality:
    """The face quality provider (registered in biocap.builtin_plugin)."""

    name = "biocap-face"
    modality = Modality.FACE

    def _check(self, sample: Sample) -> None:
        require_sample(sample, Modality.FACE, self.name)

    def measure(self, image: np.ndarray, *, thorough: bool = True
                ) -> tuple[list[FaceDetection], dict[str, Component]]:
        faces = detect_faces(image, thorough=thorough)
        return faces, components(image, faces)

    def assess(self, sample: Sample) -> QualityReport:
        """Full assessment; also looks for smaller second faces (the slower detection pass)."""
        self._check(sample)
        _, comps = self.measure(sample.image, thorough=True)
        return report_from(comps, self.name)

    def quick_assess(self, sample: Sample) -> QualityReport:
        """Every component as in `assess`, but faces searched at the coarse scale only (plus the
        fine pass when none is found): what the preview runs on every frame."""
        self._check(sample)
        _, comps = self.measure(sample.image, thorough=False)
        return report_from(comps, self.name)
