"""The compact cylinder code of the gallery's first stage: 2x2 OR pooling of MCC layers.

An MCC cylinder (`mcc`) is 6 angular layers of 16 x 16 cells, 4 uint64 words a layer
(cell (i, j) at bit 16 i + j of the layer, little-endian). The first stage needs every cylinder of
every finger within a few bytes each, so a layer is pooled to 8 x 8 cells: a pooled cell is set
when any of its 4 cells is (OR pooling; a majority vote, at least 2 of 4, scored the same on real
mates but emptied sparse cylinders: docs/matching.md). One uint64 per layer, pooled cell (r, c) at bit
8 r + c, computed with word operations only (no unpacking to one byte per bit), so rebuilding the
codes of a 100,000-finger gallery on load stays cheap.
"""
from __future__ import annotations

import numpy as np

from .params import STAGE1_LAYERS as DEFAULT_LAYERS  # layers 0, 1, 3, 4 of the 6

_EVEN_BITS = np.uint64(0x0000_5555_0000_5555)  # even columns of rows 4w and 4w + 2
_PAIRS = np.uint64(0x0000_3333_0000_3333)
_NIBBLES = np.uint64(0x0000_0F0F_0000_0F0F)
_BYTES = np.uint64(0x0000_00FF_0000_00FF)


def _pool_word(x: np.ndarray) -> np.ndarray:
    """One layer word (rows 4w..4w+3, 16 cells each) -> 16 pooled cells (rows 2w, 2w+1), in the
    low 16 bits."""
    one, sixteen = np.uint64(1), np.uint64(16)
    a = x                      # cell (i, j) at bit j of its 16-bit lane
    b = x >> one               # cell (i, j + 1) moved onto j
    c = x >> sixteen           # cell (i + 1, j)
    d = c >> one               # cell (i + 1, j + 1)
    m = (a | b | c | d) & _EVEN_BITS  # any of the 4
    # gather the 8 even bits of lanes 0 and 2 into their low bytes
    m = (m | (m >> one)) & _PAIRS
    m = (m | (m >> np.uint64(2))) & _NIBBLES
    m = (m | (m >> np.uint64(4))) & _BYTES
    return (m & np.uint64(0xFF)) | ((m >> np.uint64(24)) & np.uint64(0xFF00))


def pooled_code(bits: np.ndarray, layers: tuple[int, ...] = DEFAULT_LAYERS,
                words_per_layer: int = 4) -> np.ndarray:
    """(..., n_words) uint64 cylinder bits -> (..., len(layers)) uint64 pooled codes."""
    bits = np.asarray(bits, np.uint64)
    if words_per_layer != 4:
        raise ValueError("pooled codes need 16 x 16 cells a layer (4 words)")
    if bits.shape[-1] < (max(layers) + 1) * words_per_layer:
        raise ValueError(f"cylinders of {bits.shape[-1]} words have no layer {max(layers)}")
    out = np.empty(bits.shape[:-1] + (len(layers),), np.uint64)
    for n, layer in enumerate(layers):
        acc = np.zeros(bits.shape[:-1], np.uint64)
        for w in range(words_per_layer):
            acc |= _pool_word(bits[..., layer * words_per_layer + w]) << np.uint64(16 * w)
        out[..., n] = acc
    return out
