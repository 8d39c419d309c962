"""Daugman's rubber sheet: the iris ring, between two non-concentric circles, onto a fixed grid.

Row i samples the ring at the fraction rho_i between the pupil boundary (0) and the limbus (1);
column j at angle 2*pi*j/cols (counter-clockwise from the +x axis as seen on the image), so a
rotation of the eye is a circular shift of the columns.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .types import NormalizedIris, Segmentation


@dataclass(frozen=True)
class NormalizationParams:
    rows: int = 24
    cols: int = 256
    rho_min: float = 0.03  # start just outside the pupil rim
    rho_max: float = 0.85  # the outer rim of the ring is blurred and often hidden by lids
    # width (degrees) of the sector round straight up that is never used: upper lashes hang
    # over it in most captures, and lashes too faint to be masked one by one flip code bits
    top_sector_deg: float = 60.0
    # on the sheet, samples this many robust sigmas brighter (lid skin, sclera, glare) or darker
    # (lashes, lid shadow) than the visible iris are hidden too; 0 turns the test off
    bright_sigmas: float = 2.5
    dark_sigmas: float = 2.0


def sampling_grid(seg: Segmentation, params: NormalizationParams) -> tuple[np.ndarray, np.ndarray]:
    theta = 2 * np.pi * np.arange(params.cols) / params.cols
    rho = np.linspace(params.rho_min, params.rho_max, params.rows)
    cos, sin = np.cos(theta), np.sin(theta)
    px = seg.pupil.x + seg.pupil.r * cos
    py = seg.pupil.y - seg.pupil.r * sin
    lx = seg.iris.x + seg.iris.r * cos
    ly = seg.iris.y - seg.iris.r * sin
    xs = (1 - rho[:, None]) * px[None, :] + rho[:, None] * lx[None, :]
    ys = (1 - rho[:, None]) * py[None, :] + rho[:, None] * ly[None, :]
    return xs.astype(np.float32), ys.astype(np.float32)


def normalize(image: np.ndarray, seg: Segmentation,
              params: NormalizationParams = NormalizationParams()) -> NormalizedIris:
    xs, ys = sampling_grid(seg, params)
    h, w = image.shape
    sheet = cv2.remap(image.astype(np.float32), xs, ys, cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_REPLICATE)
    occluded = cv2.remap(seg.occlusion.astype(np.uint8) * 255, xs, ys, cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=255)
    inside = (xs >= 0) & (xs <= w - 1) & (ys >= 0) & (ys <= h - 1)
    valid = (occluded < 64) & inside
    if params.top_sector_deg > 0:
        theta = np.degrees(2 * np.pi * np.arange(params.cols) / params.cols)
        valid[:, np.abs(theta - 90.0) < params.top_sector_deg / 2] = False
    if (params.bright_sigmas > 0 or params.dark_sigmas > 0) and valid.sum() > 50:
        vals = sheet[valid]
        med = float(np.median(vals))
        sigma = 1.4826 * float(np.median(np.abs(vals - med))) + 1.0
        if params.bright_sigmas > 0:
            valid &= sheet <= med + params.bright_sigmas * sigma
        if params.dark_sigmas > 0:
            valid &= sheet >= med - params.dark_sigmas * sigma
    return NormalizedIris(image=sheet, valid=valid, iris_radius=float(seg.iris.r))
