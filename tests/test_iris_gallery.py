"""1:N iris gallery: the pruned search takes exactly the decisions of exhaustive search."""
import numpy as np
import pytest

from biocap.errors import InvalidDataError
from biocap.matching.iris.gallery import IrisGallery
from biocap.matching.iris.hamming import rotations
from biocap.synthetic.iris.codes import filler_codes, neighbour_agreement
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
    hits = g.search(t, top_k=50)
    assert {c.id for c in hits.candidates} >= set(planted[0])
    assert hits.candidates[0].score >= hits.candidates[-1].score >= 0.72  # 1 - HD_norm


def test_gallery_refuses_bad_input():
    g = IrisGallery()
    with pytest.raises(InvalidDataError):
        g.add_codes([1], np.zeros((1, 100), np.uint8), np.zeros((1, 100), np.uint8))
    with pytest.raises(InvalidDataError):
        g.add_codes([1, 2], np.zeros((1, 256), np.uint8), np.zeros((1, 256), np.uint8))
    with pytest.raises(InvalidDataError):
        g.search_codes(np.zeros((1, 256), np.uint8), np.zeros((1, 256), np.uint8), threshold=0.40)
    assert g.search_codes(np.zeros((1, 256), np.uint8), np.zeros((1, 256), np.uint8))[0].top1 is None
    with pytest.raises(InvalidDataError):
        IrisGallery(offset1=300.0)  # beyond the first stage's uint8 counters
    with pytest.raises(InvalidDataError):
        IrisGallery(slope2=float("nan"))


def test_fillers_have_correlated_bits():
    rng = np.random.default_rng(0)
    codes, masks = filler_codes(500, _masks(5, rng), seed=3)
    col, row = neighbour_agreement(codes)
    assert 0.6 < col < 0.8 and 0.6 < row < 0.8  # real codes: about 0.7 (docs/iris.md)
    assert abs(np.unpackbits(codes).mean() - 0.5) < 0.02


def _stage_rule_survivors(g, probes_c, probes_m, codes, masks):
    """First-stage survivors computed from stage_stats and the gallery's rule (the reference)."""
    from biocap.evaluation.iris_stages import stage_stats
    return [set(np.nonzero((g.stage1_slack(stage_stats(c, m, codes, masks)) >= 0).any(axis=1))[0].tolist())
            for c, m in zip(probes_c, probes_m)]


def test_first_stage_kernel_applies_the_calibrated_rule_exactly():
    """The uint8 streaming kernel keeps exactly the rows the rule keeps, including counts that
    would wrap a uint8 (complemented codes: every unmasked key bit differs)."""
    rng = np.random.default_rng(4)
    real_masks = _masks(20, rng)
    codes, masks = filler_codes(700, real_masks, seed=5)
    probes_c, probes_m = codes[:5].copy(), masks[:5].copy()
    gallery_c, gallery_m = codes[5:].copy(), masks[5:].copy()
    # X over 255 at rotation 0: the complement of an uncorrelated probe, all bits seen
    probes_c[0] = rng.integers(0, 256, 256, dtype=np.uint8)
    probes_m[0] = 255
    gallery_c[:40] = ~probes_c[0]
    gallery_m[:40] = 255
    for p in range(5):  # near copies survive, so both outcomes are exercised
        gallery_c[50 + p] = _noisy_copy(probes_c[p], rng, flip=0.05, shift=3)
        gallery_m[50 + p] = probes_m[p]
    # a loose line lets many rows through, a tight one few: the kernel must agree with both
    for offset1 in (200.0, 190.0, 150.0):
        g = IrisGallery(offset1=offset1, chunk=256)
        g.add_codes(range(gallery_c.shape[0]), gallery_c, gallery_m)
        _, pk, pm, limit = g._probe_keys(probes_c, probes_m)
        kernel = g.first_stage(pk, limit, 5)
        reference = _stage_rule_survivors(g, probes_c, probes_m, gallery_c, gallery_m)
        for p in range(5):
            assert set(kernel[p].tolist()) == reference[p]
        if offset1 <= 150:  # a uint8 wrap would have let the complements through
            assert not set(range(40)) & set(kernel[0].tolist())


def test_key_avoids_the_upper_lid_sector_and_fits_the_budget():
    from biocap.matching.iris.gallery import KEY_BITS, KEY_POSITIONS
    assert np.unique(KEY_BITS).size == KEY_BITS.size == 512
    assert not ((KEY_POSITIONS[:, 0] >= 16) & (KEY_POSITIONS[:, 0] < 48)).any()
    assert IrisGallery().bytes_per_entry <= 1024


def test_filler_masks_keep_the_sector_where_real_masks_have_it():
    rng = np.random.default_rng(2)
    real_masks = _masks(10, rng)  # holes between columns 20 and 84
    _, masks = filler_codes(400, real_masks, seed=1)
    cols = np.unpackbits(masks, axis=1).reshape(400, 128, 16).mean(axis=(0, 2))
    assert cols[96:128].min() == 1.0 and cols[:8].min() == 1.0  # never turned far round the ring
    with pytest.raises(InvalidDataError):
        filler_codes(5, real_masks, max_mask_shift=200)


def test_calibrated_lines_keep_every_genuine_pair_they_were_calibrated_on():
    """calibrate_coarse on synthetic eyes (noisy, turned copies at HD ~0.2-0.3): a gallery with
    the lines it returns lets every such pair through both stages, with the margin to spare."""
    from biocap.evaluation.bench_iris import _genuine_key_stats, calibrate_coarse
    rng = np.random.default_rng(9)
    base_c, base_m = filler_codes(40, _masks(8, rng), seed=4)
    codes, masks, subject = [], [], []
    for e in range(40):
        for k in range(3):
            codes.append(_noisy_copy(base_c[e], rng, flip=rng.uniform(0.12, 0.24), shift=int(rng.integers(-4, 5))))
            masks.append(rotations(base_m[e], 2, np.array([0]))[0])
            subject.append(e)
    codes, masks, subject = np.array(codes), np.array(masks), np.array(subject)
    ok = np.ones(len(codes), bool)
    lines = calibrate_coarse(codes, masks, ok, subject, 0.28, n_impostor_probes=10)
    g = IrisGallery(slope1=lines["slope1"], offset1=lines["offset1"], slope2=lines["slope2"],
                    offset2=lines["offset2"])
    stats = _genuine_key_stats(codes, masks, ok, subject, 0.28)
    assert lines["genuine_pairs"] > 100
    assert min(g.stage1_slack(st).max(axis=1).min() for st in stats) >= lines["margin1"]
    assert min(g.joint_slack(st).min() for st in stats) >= min(lines["margin1"], lines["margin2"])
    assert lines["impostor_survival_both"] < 0.2  # and they do prune


def test_search_keeps_exactly_the_rows_both_lines_keep():
    """The chunked two-stage kernel keeps a gallery row exactly when the calibrated rule
    (both lines at one same rotation, from stage_stats) keeps it."""
    from biocap.evaluation.iris_stages import stage_stats
    rng = np.random.default_rng(6)
    codes, masks = filler_codes(900, _masks(12, rng), seed=8)
    probes_c, probes_m, gallery_c, gallery_m = codes[:4], masks[:4], codes[4:].copy(), masks[4:].copy()
    for p in range(4):
        for k in range(3):
            row = 100 * p + 10 * k
            gallery_c[row] = _noisy_copy(probes_c[p], rng, flip=rng.uniform(0.15, 0.3), shift=int(rng.integers(-8, 9)))
            gallery_m[row] = probes_m[p]
    for offset1, offset2 in ((200.0, -10.0), (194.0, -16.0), (185.0, -30.0)):
        g = IrisGallery(offset1=offset1, offset2=offset2, chunk=128)
        g.add_codes(range(gallery_c.shape[0]), gallery_c, gallery_m)
        _, pk, pm, limit = g._probe_keys(probes_c, probes_m)
        counts, kept = g._stages(pk, pm, limit, 4)
        for p in range(4):
            st = stage_stats(probes_c[p], probes_m[p], gallery_c, gallery_m)
            assert set(kept[p].tolist()) == set(np.nonzero(g.joint_slack(st) >= 0)[0].tolist())
            assert counts[p] == int((g.stage1_slack(st) >= 0).any(axis=1).sum())


def test_fillers_take_the_per_bit_frequencies_of_real_codes():
    rng = np.random.default_rng(3)
    real_masks = _masks(30, rng)
    real_codes, _ = filler_codes(30, real_masks, seed=7)
    bits = np.unpackbits(real_codes, axis=1)
    bits[:, :512] = rng.random((30, 512)) < 0.85  # first 32 columns: bits mostly set
    real_codes = np.packbits(bits, axis=1)
    codes, _ = filler_codes(2000, real_masks, seed=1, real_codes=real_codes)
    f = np.unpackbits(codes, axis=1)
    assert f[:, :512].mean() > 0.75 and abs(f[:, 512:].mean() - 0.5) < 0.05
    with pytest.raises(InvalidDataError):
        filler_codes(5, real_masks, real_codes=real_codes[:3])
