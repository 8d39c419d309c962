"""Face detection and 5-point landmarks, offline: dlib's HOG frontal detector (built into dlib)
and dlib's 5-point shape predictor (public domain, shipped by the `face-recognition-models`
package). Never the 68-point model: its training data forbids commercial use.

Detection lives in the quality stage because quality is the lowest stage that needs it; the
template stage (above it in the import order) imports it from here
(docs/decisions/18-face-detector.md).

Landmarks are given in the subject's terms, as ISO/IEC 19794-5 does: the subject's RIGHT eye
appears on the LEFT of the image.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from ...errors import InvalidSample, NoProvider
from ...types import validate_image
from . import params as P

_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _models():
    """(detector, 5-point predictor, model paths); loaded once, from installed packages only."""
    try:
        import dlib
        import face_recognition_models as frm
    except ImportError as exc:  # pragma: no cover - the face extra is part of `make install`
        raise NoProvider("face detection needs dlib and face-recognition-models",
                         hint="pip install 'biocap[face]' (dlib-bin, face-recognition-models)") from exc
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
    return detector, predictor, frm


@dataclass(frozen=True)
class FaceDetection:
    """One face: its box (x, y, width, height in image pixels), the detector's score, and the
    five landmarks (5, 2) float32 x, y: subject's left eye outer, inner corner, subject's right
    eye outer, inner corner, subnasale (dlib's order)."""

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray

    @property
    def right_eye(self) -> np.ndarray:
        """Centre of the subject's right eye (image left): mean of its two corners."""
        return self.landmarks[2:4].mean(axis=0)

    @property
    def left_eye(self) -> np.ndarray:
        """Centre of the subject's left eye (image right)."""
        return self.landmarks[0:2].mean(axis=0)

    @property
    def nose(self) -> np.ndarray:
        return self.landmarks[4]

    @property
    def eye_midpoint(self) -> np.ndarray:
        return (self.right_eye + self.left_eye) / 2

    @property
    def inter_eye_distance(self) -> float:
        return float(np.hypot(*(self.left_eye - self.right_eye)))

    @property
    def roll(self) -> float:
        """In-plane rotation of the eye line in radians (positive: the subject's left eye,
        image right, is lower)."""
        dx, dy = self.left_eye - self.right_eye
        return float(np.arctan2(dy, dx))


def _grey(image: np.ndarray) -> np.ndarray:
    if image.ndim == 3:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return image


def _pass(detector, image: np.ndarray, side: int) -> list[tuple[float, float, float, float, float]]:
    """Boxes (x, y, w, h, score) found with the image scaled so its longest side is `side`."""
    h, w = image.shape[:2]
    scale = side / max(h, w)
    work = image if abs(scale - 1) < 1e-3 else cv2.resize(
        image, (max(1, round(w * scale)), max(1, round(h * scale))),
        interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    rects, scores, _ = detector.run(work, 0, P.DETECT_MIN_SCORE)
    out = []
    for r, s in zip(rects, scores):
        out.append((r.left() / scale, r.top() / scale, r.width() / scale, r.height() / scale, float(s)))
    return out


def _overlap(a, b) -> float:
    ax, ay, aw, ah = a[:4]
    bx, by, bw, bh = b[:4]
    ix = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    return inter / max(1e-9, min(aw * ah, bw * bh))


def detect_faces(image: np.ndarray, *, thorough: bool = False) -> list[FaceDetection]:
    """Every face in a grey (h, w) or RGB (h, w, 3) uint8 image, largest first, with landmarks.

    A coarse pass (longest side DETECT_COARSE_SIDE) runs first; the fine pass
    (DETECT_FINE_SIDE) runs when the coarse one found nothing, or always with `thorough`.
    Raises InvalidSample for an image that cannot hold a face (wrong type, tiny)."""
    if not isinstance(image, np.ndarray):
        raise InvalidSample(f"face image must be a numpy array, got {type(image).__name__}")
    grey = validate_image(_grey(image) if image.ndim == 3 and image.shape[-1] == 3 and
                          image.dtype == np.uint8 else image, what="face image")
    h, w = grey.shape
    if min(h, w) < P.MIN_IMAGE_SIDE:
        raise InvalidSample(f"a face image of {w}x{h} pixels is too small to find a face in",
                            hint=f"give at least {P.MIN_IMAGE_SIDE} pixels a side; "
                                 "move the camera closer")
    detector, predictor, _ = _models()
    grey = np.ascontiguousarray(grey)
    with _LOCK:  # dlib objects are not documented thread-safe
        boxes = _pass(detector, grey, P.DETECT_COARSE_SIDE)
        fine_side = min(P.DETECT_FINE_SIDE, max(h, w) * 2)  # small images: up to x2, as dlib's upsample
        if (thorough or not boxes) and fine_side > P.DETECT_COARSE_SIDE * 1.2:
            for b in _pass(detector, grey, fine_side):
                if all(_overlap(b, k) < 0.3 for k in boxes):
                    boxes.append(b)
        boxes.sort(key=lambda b: -b[2] * b[3])
        if boxes:
            biggest = boxes[0][2]
            boxes = [b for b in boxes if b[2] >= P.SECOND_FACE_MIN_RATIO * biggest]
        import dlib
        faces = []
        for x, y, bw, bh, s in boxes:
            rect = dlib.rectangle(int(round(x)), int(round(y)), int(round(x + bw)), int(round(y + bh)))
            shape = predictor(grey, rect)
            pts = np.array([(shape.part(i).x, shape.part(i).y) for i in range(5)], np.float32)
            faces.append(FaceDetection((float(x), float(y), float(bw), float(bh)), s, pts))
    return faces


def canonical_crop(grey: np.ndarray, face: FaceDetection) -> tuple[np.ndarray, np.ndarray]:
    """The face rotated upright and scaled so the eyes lie CANON_IED apart at fixed places in a
    CANON_SIZE crop: (crop, 2x3 affine matrix from image to crop)."""
    ied = max(face.inter_eye_distance, 1e-6)
    scale = P.CANON_IED / ied
    angle = np.degrees(face.roll)
    mx, my = face.eye_midpoint
    m = cv2.getRotationMatrix2D((float(mx), float(my)), angle, scale)
    cw, ch = P.CANON_SIZE
    m[0, 2] += cw / 2 - mx
    m[1, 2] += P.CANON_EYES_Y - my
    crop = cv2.warpAffine(grey, m, (cw, ch), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return crop, m
