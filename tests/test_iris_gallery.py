"""1:N iris gallery: the pruned search takes exactly the decisions of exhaustive search."""
import numpy as np
import pytest

from biocap.errors import InvalidDataError
from biocap.matching.iris_gallery import IrisGallery
from biocap.matching.iris_hamming import rotations
from biocap.matching.iris_synthetic import filler_codes, neighbour_agreement
from biocap.templates.iris import IrisTemplate


def _masks(n, rng):
    """Masks with an upper-lid-like hole: a band of columns hidden on the outer rows."""
    bits = np.ones((n, 128, 8, 2), np.uint8)
    for i in range(n):
        start = rng.integers(20, 40)
        bits[i, start:start + rng.integers(20, 44), 4:] = 0
    return np.packbits(bits.reshape(n, -1), axis=1)


def _noisy_copy(code, rng, flip=0.12, shift=0):
    bits = np.unpackbits(code)
    flips = rng.random(bits.size) < flip
    return rotations(np.packbits(bits ^ flips), 2, np.array([shift]))[0]


def test_search_equals_exhaustive_with_planted_duplicates():
    rng = np.random.default_rng(1)
    real_masks = _masks(30, rng)
    codes, masks = filler_codes(3000, real_masks, seed=2)
    probes_c, probes_m = codes[:12].copy(), masks[:12].copy()
    gallery_c, gallery_m = codes[12:].copy(), masks[12:].copy()
    planted = {}
    for p in range(12):  # two noisy, turned copies of each probe go into the gallery
        for k in range(2):
            row = int(rng.integers(0, gallery_c.shape[0]))
            while row in {r for v in planted.values() for r in v}:
                row = int(rng.integers(0, gallery_c.shape[0]))
            gallery_c[row] = _noisy_copy(probes_c[p], rng, shift=int(rng.integers(-8, 9)))
            gallery_m[row] = probes_m[p]
            planted.setdefault(p, []).append(row)
    g = IrisGallery()
    g.add_codes(range(gallery_c.shape[0]), gallery_c, gallery_m)
    assert g.bytes_per_entry <= 1024
    fast = g.search_codes(probes_c, probes_m)
    full = g.exhaustive_codes(probes_c, probes_m)
    for p in range(12):
        assert fast[p].top1 == full[p].top1
        assert np.array_equal(np.sort(fast[p].indices), np.sort(full[p].indices))
        assert set(planted[p]) <= set(fast[p].indices.tolist())  # every duplicate found
        assert fast[p].n_full < gallery_c.shape[0] * 0.6  # and the coarse stage did prune
    # template-level API gives ids and shifts
    t = IrisTemplate(code=probes_c[0], mask=probes_m[0])
    hits = g.search(t)
    assert {h[0] for h in hits} >= set(planted[0])


def test_gallery_refuses_bad_input():
    g = IrisGallery()
    with pytest.raises(InvalidDataError):
        g.add_codes([1], np.zeros((1, 100), np.uint8), np.zeros((1, 100), np.uint8))
    with pytest.raises(InvalidDataError):
        g.add_codes([1, 2], np.zeros((1, 256), np.uint8), np.zeros((1, 256), np.uint8))
    with pytest.raises(InvalidDataError):
        g.search_codes(np.zeros((1, 256), np.uint8), np.zeros((1, 256), np.uint8), threshold=0.40)
    assert g.search_codes(np.zeros((1, 256), np.uint8), np.zeros((1, 256), np.uint8))[0].top1 is None


def test_fillers_have_correlated_bits():
    rng = np.random.default_rng(0)
    codes, masks = filler_codes(500, _masks(5, rng), seed=3)
    col, row = neighbour_agreement(codes)
    assert 0.6 < col < 0.8 and 0.6 < row < 0.8  # real codes: about 0.7 (docs/iris.md)
    assert abs(np.unpackbits(codes).mean() - 0.5) < 0.02
