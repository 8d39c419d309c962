"""`face-realistic`: a real face photograph a registry package ships (scikit-image's
`data.astronaut()`, NASA, public domain), presented to the camera the way a subject stands at a
desk: a little nearer or farther, off-centre, head turned a few degrees, light from one side,
sensor noise, now and then a movement blur. The default face source when the research data is
absent (sources.default_source), so a fresh machine captures faces the real pipeline accepts.
"""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from .sources import SourceSample, register_source

# where the face is in astronaut() (512 x 512): eye centres and subnasale, measured once with
# biocap's detector (biocap.quality.face.detect_faces), fixed here so the source needs no detector
EYE_MID = (225.0, 103.0)
IED = 43.0
NOSE = (224.0, 135.0)

FRAME = (640, 480)  # (width, height) the camera delivers
PPI = 200  # the camera's nominal resolution (FaceFirmware.ppi: no resampling)
TARGET_IED = 75.0  # eye distance in the frame at the usual desk distance
EYE_LINE = 0.4  # eye line height in the frame, share of the height from the top


@lru_cache(maxsize=1)
def _astronaut() -> np.ndarray:
    from skimage import data
    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)


class RealisticFace:
    name = "face-realistic"
    modality = "face"

    def next_sample(self, position: int, rng: np.random.Generator) -> SourceSample:
        from biocap.evaluation.face_degrade import turn_head
        src = _astronaut()
        yaw, pitch = rng.normal(0, 4), rng.normal(0, 3)
        src = turn_head(src, EYE_MID, IED, NOSE, yaw_deg=yaw, pitch_deg=pitch)
        scale = TARGET_IED / IED * rng.uniform(0.85, 1.15)
        w, h = FRAME
        tx = w / 2 + rng.normal(0, 15) - EYE_MID[0] * scale
        ty = EYE_LINE * h + rng.normal(0, 10) - EYE_MID[1] * scale
        m = np.float32([[scale, 0, tx], [0, scale, ty]])
        frame = cv2.warpAffine(src, m, FRAME, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        f = frame.astype(np.float32)
        side = rng.uniform(-0.15, 0.15)  # light from one side
        f *= (1 + side * np.linspace(-1, 1, w, dtype=np.float32))[None, :]
        f = 255 * (f / 255) ** rng.uniform(0.85, 1.15) * rng.uniform(0.9, 1.08)
        if rng.random() < 0.08:  # the subject moved during the exposure
            k = int(rng.integers(5, 11))
            kernel = np.zeros((k, k), np.float32)
            kernel[k // 2, :] = 1.0 / k
            f = cv2.filter2D(f, -1, kernel)
        f += rng.normal(0, rng.uniform(1.5, 3.5), f.shape).astype(np.float32)
        image = np.clip(f, 0, 255).astype(np.uint8)
        return SourceSample(image, PPI, label=f"astronaut yaw {yaw:+.0f} pitch {pitch:+.0f}")


register_source("face-realistic", RealisticFace)
