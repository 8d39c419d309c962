"""Specular reflections: find the small saturated highlights and paint them over.

A highlight inside the pupil would otherwise break the dark disc the pupil search looks for, and
one on the iris would flip code bits; both are found as small bright blobs standing out of their
surroundings (white top-hat), then in-painted from their rim.
"""
from __future__ import annotations

import cv2
import numpy as np

from .types import Preprocessed


def find_reflections(image: np.ndarray, *, min_rise: int = 60, min_level: int = 200,
                     max_size: int | None = None) -> np.ndarray:
    """Bool mask of specular highlights: pixels at least `min_rise` above a morphological opening
    of size `max_size` (so broad bright skin is not taken) and brighter than `min_level`."""
    h, w = image.shape
    size = max_size or max(5, int(round(min(h, w) / 24)) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    tophat = cv2.morphologyEx(image, cv2.MORPH_TOPHAT, kernel)
    spots = (tophat >= min_rise) & (image >= min_level)
    # the halo of a highlight is bright too; grow the mask a little so in-painting starts outside
    return cv2.dilate(spots.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=2) > 0


def remove_reflections(image: np.ndarray) -> Preprocessed:
    spots = find_reflections(image)
    if not spots.any():
        return Preprocessed(image=image, reflections=spots)
    # fill from a grey-level opening (the darker surroundings), not by in-painting from the rim:
    # a highlight's halo reaches past any fixed margin, and in-painting from it leaves a grey
    # plug in a small pupil that then no longer looks like a dark disc
    h, w = image.shape
    size = max(5, int(round(min(h, w) / 24)) | 1) + 4
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    opened = cv2.morphologyEx(image, cv2.MORPH_OPEN, kernel)
    grown = cv2.dilate(spots.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=1) > 0
    painted = np.where(grown, np.minimum(image, opened), image).astype(image.dtype)
    return Preprocessed(image=painted, reflections=spots)
