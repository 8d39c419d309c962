"""The ISO/IEC 19794-5 token frontal image and the card's pas photo, both cut from a face image by
the eye centres (rotation removed, scale from the inter-eye distance).

Token frontal geometry (ISO/IEC 19794-5:2005, 8.3): for an image width W, the height is W / 0.75,
the eye midpoint sits at (0.5 W, 0.6 W) from the top-left corner and the eye centres are 0.25 W
apart; W is at least 240 pixels (60 pixels between the eyes).

Pas photo: a requested print size (mm) and resolution (dpi); the head (chin to crown, estimated
from the eye distance with the head model of biocap.templates.face.params) fills PAS_HEAD_SHARE of
the height, the crown PAS_TOP_MARGIN below the top edge, centred (ICAO 9303 portrait layout).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ...errors import InvalidRequest, InvalidSample
from . import params as P
from .detection import FaceDetection
from ...types import MAX_IMAGE_SIDE, Sample
from .extractor import find_face

TOKEN_MIN_WIDTH = 240  # ISO/IEC 19794-5 token: at least 60 px between the eyes
PAS_HEAD_SHARE = 0.75  # ICAO 9303: chin to crown 70-80 % of the portrait's height
PAS_TOP_MARGIN = 0.08  # crown below the top edge, share of the height (hair room)


@dataclass(frozen=True)
class FaceImage:
    image: np.ndarray  # (h, w) grey or (h, w, 3) RGB uint8
    ppi: float | None  # resolution of a print (pas photo), None for the token image
    right_eye: tuple[float, float]  # eye centres in the output image
    left_eye: tuple[float, float]
    scale: float  # output pixels per source pixel (> 1: upsampled)


def _warp(src: np.ndarray, face: FaceDetection, ied_out: float, mid_out: tuple[float, float],
          size: tuple[int, int]) -> tuple[np.ndarray, float, np.ndarray]:
    scale = ied_out / max(face.inter_eye_distance, 1e-6)
    mx, my = face.eye_midpoint
    m = cv2.getRotationMatrix2D((float(mx), float(my)), float(np.degrees(face.roll)), scale)
    m[0, 2] += mid_out[0] - mx
    m[1, 2] += mid_out[1] - my
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    out = cv2.warpAffine(src, m, size, flags=interp, borderMode=cv2.BORDER_REPLICATE)
    return out, scale, m


def _eyes(m: np.ndarray, face: FaceDetection):
    pts = np.array([face.right_eye, face.left_eye], np.float64)
    out = pts @ m[:, :2].T + m[:, 2]
    return tuple(map(float, out[0])), tuple(map(float, out[1]))


def _source(sample: Sample, colour: bool):
    if not isinstance(sample, Sample):
        raise InvalidSample(f"expected a Sample, got {type(sample).__name__}")
    face, grey, rgb = find_face(sample.image, sample.colour)
    return face, (rgb if colour and rgb is not None else grey)


def token_image(sample: Sample, width: int | None = None, *, colour: bool = True) -> FaceImage:
    """The ISO/IEC 19794-5 token frontal image of the sample's largest face. `width` defaults to
    4 x the measured inter-eye distance (no upsampling), at least 240 pixels."""
    face, src = _source(sample, colour)
    if width is None:
        width = max(TOKEN_MIN_WIDTH, int(round(4 * face.inter_eye_distance / 2)) * 2)
    if not isinstance(width, int) or not TOKEN_MIN_WIDTH <= width <= MAX_IMAGE_SIDE * 3 // 4:
        raise InvalidRequest(f"token width {width!r} must be a whole number of pixels in "
                             f"{TOKEN_MIN_WIDTH}-{MAX_IMAGE_SIDE * 3 // 4}")
    height = int(round(width / 0.75))
    out, scale, m = _warp(src, face, 0.25 * width, (0.5 * width, 0.6 * width), (width, height))
    right, left = _eyes(m, face)
    return FaceImage(out, None, right, left, scale)


def pas_photo(sample: Sample, width_mm: float = 30.0, height_mm: float = 40.0, dpi: float = 300.0,
              *, colour: bool = True) -> FaceImage:
    """The card's pas photo at a print size (mm) and resolution (dpi)."""
    for name, v, lo, hi in (("width_mm", width_mm, 10, 200), ("height_mm", height_mm, 10, 200),
                            ("dpi", dpi, 72, 1200)):
        if not isinstance(v, (int, float)) or not np.isfinite(v) or not lo <= v <= hi:
            raise InvalidRequest(f"{name} {v!r} is outside {lo}-{hi}")
    w, h = int(round(width_mm / 25.4 * dpi)), int(round(height_mm / 25.4 * dpi))
    if max(w, h) > MAX_IMAGE_SIDE:
        raise InvalidRequest(f"a {w}x{h} pixel photo exceeds the {MAX_IMAGE_SIDE}-pixel limit",
                             hint="ask for a smaller size or a lower resolution")
    face, src = _source(sample, colour)
    ied_out = PAS_HEAD_SHARE * h / P.HEAD_HEIGHT
    eye_y = PAS_TOP_MARGIN * h + P.CROWN_ABOVE_EYES * ied_out
    out, scale, m = _warp(src, face, ied_out, (w / 2, eye_y), (w, h))
    right, left = _eyes(m, face)
    return FaceImage(out, float(dpi), right, left, scale)
