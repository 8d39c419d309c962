"""`FaceExtractor`: Sample -> FaceTemplate with dlib's ResNet face descriptor (128-D, from the
`face-recognition-models` package), aligned on the 5 landmarks of biocap.templates.face.detection.

The descriptor runs on the Sample's colour image when it has one, else on the grey image
repeated in three channels (less accurate: docs/decisions/18-face-colour.md). A tight crop
(face touching the border) is padded by replication and searched again before giving up.
"""
from __future__ import annotations

import threading
from functools import lru_cache

import cv2
import numpy as np

from ...errors import InvalidSample, NoProvider
from .detection import FaceDetection, detect_faces
from ...types import Modality, Sample, require_sample
from . import params as P
from .template import FaceTemplate

#: replicated border added on each side (fraction of the side) when no face is found at first,
#: or the face found touches the border: LFW-style tight crops cut the head, which the HOG
#: detector and the 5-point predictor need to see whole
PAD_FRACTION = 0.5
#: a face box closer than this share of its width to an image edge counts as cut by the crop
EDGE_MARGIN = 0.1
#: dlib's chip padding around the aligned face (dlib's default, what the model was trained with)
CHIP_PADDING = 0.25
#: side of dlib's aligned face chip (what the descriptor takes)
CHIP_SIZE = 150
#: photometric normalisation of the chip before the descriptor: when the inner face's luma (rows,
#: cols as fractions of the chip: brows to upper lip, cheek to cheek at padding 0.25) is outside
#: the quality's pass limits (params.LUM_MEAN_LIMITS, LUM_STD_LIMIT), its mean is brought back to
#: the nearer limit and its contrast up to the limit; a face the quality accepts is left as it is
#: (3 of lfw7x50's 348 faces are changed). Gain capped: a nearly black or white chip has no detail
CHIP_INNER = ((0.3, 0.8), (0.25, 0.75))
CHIP_MEAN_RANGE = P.LUM_MEAN_LIMITS
CHIP_MIN_STD = P.LUM_STD_LIMIT
CHIP_MAX_GAIN = 4.0

#: when no upright face is found, the detection is retried on the image rotated by these angles
#: (degrees): dlib's HOG frontal detector was trained on upright faces and misses heads tilted
#: beyond ~20 degrees, which the 5-point alignment itself would straighten
ROLL_RETRY_DEG = (25.0, -25.0)

_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _descriptor():
    try:
        import dlib
        import face_recognition_models as frm
    except ImportError as exc:  # pragma: no cover
        raise NoProvider("face templates need dlib and face-recognition-models",
                         hint="pip install 'biocap[face]'") from exc
    return dlib.face_recognition_model_v1(frm.face_recognition_model_location())


def find_face(grey: np.ndarray, colour: np.ndarray | None = None
              ) -> tuple[FaceDetection, np.ndarray, np.ndarray | None]:
    """The largest face, padding a tight crop if needed: (face, grey, colour) in the
    coordinates of the (possibly padded) images."""
    faces = detect_faces(grey)
    if not faces or _touches_edge(faces[0], grey.shape):
        h, w = grey.shape
        py, px = int(h * PAD_FRACTION), int(w * PAD_FRACTION)
        grey = cv2.copyMakeBorder(grey, py, py, px, px, cv2.BORDER_REPLICATE)
        if colour is not None:
            colour = cv2.copyMakeBorder(colour, py, py, px, px, cv2.BORDER_REPLICATE)
        faces = detect_faces(grey) or [_shifted(f, px, py) for f in faces] or _rotated_search(grey)
        if not faces:
            raise InvalidSample("no face found in the image",
                                hint="the subject must face the camera, whole head in the picture")
    return faces[0], grey, colour


def _rotated_search(grey: np.ndarray) -> list[FaceDetection]:
    """Faces found on the image turned by ROLL_RETRY_DEG, mapped back to its coordinates."""
    h, w = grey.shape
    for angle in ROLL_RETRY_DEG:
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        turned = cv2.warpAffine(grey, m, (w, h), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REPLICATE)
        faces = detect_faces(turned)
        if faces:
            back = cv2.invertAffineTransform(m)
            out = []
            for f in faces:
                pts = f.landmarks @ back[:, :2].T + back[:, 2]
                x, y, bw, bh = f.box
                cx, cy = np.array([x + bw / 2, y + bh / 2]) @ back[:, :2].T + back[:, 2]
                out.append(FaceDetection((float(cx - bw / 2), float(cy - bh / 2), bw, bh), f.score,
                                         pts.astype(np.float32)))
            return out
    return []


def _touches_edge(face: FaceDetection, shape: tuple[int, int]) -> bool:
    x, y, w, h = face.box
    m = EDGE_MARGIN * w
    return x < m or y < m or x + w > shape[1] - m or y + h > shape[0] - m


def _shifted(face: FaceDetection, dx: int, dy: int) -> FaceDetection:
    x, y, w, h = face.box
    return FaceDetection((x + dx, y + dy, w, h), face.score,
                         face.landmarks + np.float32([dx, dy]))


def normalise_chip(chip: np.ndarray) -> np.ndarray:
    """The aligned RGB chip with its inner face's luma mean brought into CHIP_MEAN_RANGE and its
    standard deviation up to CHIP_MIN_STD (one gain and offset for the three channels, so the
    colours keep their ratios); unchanged when it is already there."""
    (r0, r1), (c0, c1) = CHIP_INNER
    h, w = chip.shape[:2]
    luma = cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY)[int(r0 * h):int(r1 * h), int(c0 * w):int(c1 * w)]
    mean, std = float(luma.mean()) / 255.0, float(luma.std()) / 255.0
    lo, hi = CHIP_MEAN_RANGE
    target = min(max(mean, lo), hi)
    gain = min(max(1.0, CHIP_MIN_STD / max(std, 1e-6)), CHIP_MAX_GAIN)
    if target == mean and gain == 1.0:
        return chip
    out = (chip.astype(np.float32) - mean * 255.0) * gain + target * 255.0
    return np.clip(out, 0, 255).astype(np.uint8)


def descriptor(rgb: np.ndarray, face: FaceDetection) -> np.ndarray:
    """dlib's 128-D descriptor of `face` in an RGB image, L2-normalised float32: dlib's aligned
    chip (5-point similarity transform), photometrically normalised (normalise_chip)."""
    import dlib
    x, y, w, h = face.box
    rect = dlib.rectangle(int(round(x)), int(round(y)), int(round(x + w)), int(round(y + h)))
    points = dlib.points()
    for px, py in face.landmarks:
        points.append(dlib.point(int(round(px)), int(round(py))))
    shape = dlib.full_object_detection(rect, points)
    with _LOCK:
        chip = dlib.get_face_chip(np.ascontiguousarray(rgb), shape, CHIP_SIZE, CHIP_PADDING)
        vec = np.asarray(_descriptor().compute_face_descriptor(normalise_chip(chip)), np.float32)
    return vec / max(float(np.linalg.norm(vec)), 1e-12)


class FaceExtractor:
    name = "biocap-face-dlib"
    modality = Modality.FACE

    def extract(self, sample: Sample) -> FaceTemplate:
        require_sample(sample, Modality.FACE, self.name)
        face, grey, colour = find_face(sample.image, sample.colour)
        rgb = colour if colour is not None else cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB)
        emb = descriptor(rgb, face)
        return FaceTemplate(emb, face.landmarks, face.box)
