"""Stage "segmentation": which pixels hold fingerprint ridges (foreground) and which hold
background, judged per 8x8 block from local grey-level variation.

Ridges give a strong local variation; background (bright or dark) and smudges give little. The
threshold adapts to the image (a fraction of its strongest blocks) with an absolute floor so a
blank or flat image comes out empty instead of segmenting its noise.
"""
from __future__ import annotations

import cv2
import numpy as np
from .params import (FOREGROUND_COHERENCE_SIGMA, FOREGROUND_MIN_COHERENCE, SEGMENT_BLOCK,
                     SEGMENT_KEEP_FRACTION, SEGMENT_MIN_AREA_BLOCKS, SEGMENT_MIN_STD,
                     SEGMENT_RELATIVE_STD)


def _block_std(image: np.ndarray) -> np.ndarray:
    f = image.astype(np.float32)
    # a 2-block window per block, so ridge/valley alternation (~9 px) is always inside it
    mean = cv2.blur(f, (2 * SEGMENT_BLOCK + 1, 2 * SEGMENT_BLOCK + 1))
    sq = cv2.blur(f * f, (2 * SEGMENT_BLOCK + 1, 2 * SEGMENT_BLOCK + 1))
    std = np.sqrt(np.maximum(sq - mean * mean, 0))
    h, w = image.shape
    bh, bw = max(1, h // SEGMENT_BLOCK), max(1, w // SEGMENT_BLOCK)
    return cv2.resize(std, (bw, bh), interpolation=cv2.INTER_AREA)


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    inverse = (mask == 0).astype(np.uint8)
    n, labels = cv2.connectedComponents(inverse, connectivity=4)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    holes = ~np.isin(labels, border) & (inverse > 0)
    return (mask > 0) | holes


def segment(image: np.ndarray) -> np.ndarray:
    """Foreground mask (bool, same shape as `image`, 500 ppi)."""
    std = _block_std(image)
    strong = float(np.percentile(std, 90))
    threshold = max(SEGMENT_MIN_STD, SEGMENT_RELATIVE_STD * strong)
    blocks = (std > threshold).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    blocks = cv2.morphologyEx(blocks, cv2.MORPH_CLOSE, kernel)
    blocks = cv2.morphologyEx(blocks, cv2.MORPH_OPEN, kernel)
    return _main_regions_to_mask(blocks, image.shape)


def _main_regions_to_mask(blocks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Block mask (uint8) -> pixel mask of its main regions, holes filled, outline rounded."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(blocks, connectivity=8)
    if n <= 1:
        return np.zeros(shape, bool)
    # keep the largest region and any other of at least a third of its size (two-finger images)
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = 1 + np.flatnonzero(areas >= max(SEGMENT_MIN_AREA_BLOCKS, areas.max() * SEGMENT_KEEP_FRACTION))
    if keep.size == 0:
        return np.zeros(shape, bool)
    blocks = _fill_holes(np.isin(labels, keep).astype(np.uint8)).astype(np.float32)
    # smooth block edges: bilinear upsampling then threshold gives a rounded outline
    h, w = shape
    full = cv2.resize(blocks, (blocks.shape[1] * SEGMENT_BLOCK, blocks.shape[0] * SEGMENT_BLOCK),
                      interpolation=cv2.INTER_LINEAR)
    full = cv2.copyMakeBorder(full, 0, h - full.shape[0], 0, w - full.shape[1],
                              cv2.BORDER_REPLICATE)
    return full > 0.5


def refine_with_flow(mask: np.ndarray, coherence: np.ndarray) -> np.ndarray:
    """Stage "foreground": keep only the part of the mask with a coherent ridge flow; grey-level
    variation alone cannot tell ridges from noise or texture. Judged per 8x8 block, like the mask."""
    h, w = mask.shape
    bh, bw = max(1, h // SEGMENT_BLOCK), max(1, w // SEGMENT_BLOCK)
    coh = cv2.resize(coherence, (bw, bh), interpolation=cv2.INTER_AREA)
    coh = cv2.GaussianBlur(coh, (0, 0), FOREGROUND_COHERENCE_SIGMA)
    blocks = cv2.resize(mask.astype(np.uint8), (bw, bh), interpolation=cv2.INTER_NEAREST)
    refined = ((blocks > 0) & (coh > FOREGROUND_MIN_COHERENCE)).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    refined = cv2.morphologyEx(refined, cv2.MORPH_OPEN, kernel)
    return _main_regions_to_mask(refined, mask.shape) & mask
