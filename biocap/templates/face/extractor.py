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
from .template import FaceTemplate

#: replicated border added on each side (fraction of the side) when no face is found at first,
#: or the face found touches the border: LFW-style tight crops cut the head, which the HOG
#: detector and the 5-point predictor need to see whole
PAD_FRACTION = 0.5
#: a face box closer than this share of its width to an image edge counts as cut by the crop
EDGE_MARGIN = 0.1
#: dlib's chip padding around the aligned face (dlib's default, what the model was trained with)
CHIP_PADDING = 0.25

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
        faces = detect_faces(grey) or [_shifted(f, px, py) for f in faces]
        if not faces:
            raise InvalidSample("no face found in the image",
                                hint="the subject must face the camera, whole head in the picture")
    return faces[0], grey, colour


def _touches_edge(face: FaceDetection, shape: tuple[int, int]) -> bool:
    x, y, w, h = face.box
    m = EDGE_MARGIN * w
    return x < m or y < m or x + w > shape[1] - m or y + h > shape[0] - m


def _shifted(face: FaceDetection, dx: int, dy: int) -> FaceDetection:
    x, y, w, h = face.box
    return FaceDetection((x + dx, y + dy, w, h), face.score,
                         face.landmarks + np.float32([dx, dy]))


def descriptor(rgb: np.ndarray, face: FaceDetection) -> np.ndarray:
    """dlib's 128-D descriptor of `face` in an RGB image, L2-normalised float32."""
    import dlib
    x, y, w, h = face.box
    rect = dlib.rectangle(int(round(x)), int(round(y)), int(round(x + w)), int(round(y + h)))
    points = dlib.points()
    for px, py in face.landmarks:
        points.append(dlib.point(int(round(px)), int(round(py))))
    shape = dlib.full_object_detection(rect, points)
    with _LOCK:
        vec = np.asarray(_descriptor().compute_face_descriptor(np.ascontiguousarray(rgb), shape, 0,
                                                               CHIP_PADDING), np.float32)
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
