"""The cascaded 1:N search: stage 1 -> stage 1.5 (every cylinder) -> full comparison."""
import numpy as np
import pytest

from biocap.errors import InvalidDataError
from biocap.matching.fingerprint import mcc
from biocap.matching.fingerprint.comparator import FingerprintComparator
from biocap.matching.fingerprint.gallery import FingerprintGallery
from biocap.matching.fingerprint.pooled import DEFAULT_LAYERS, pooled_code
from biocap.matching.fingerprint.prefilter import CylinderPrefilter

from biocap.synthetic.fingerprint import templates as synthetic  # gallery fillers

from _fingerprint_reference import rescore_rows  # test-only reference (tests/)


@pytest.fixture(scope="module")
def fingers():
    out = {}
    for fid, imp, t in synthetic.iter_finger_templates(30, 2, seed=23):
        out.setdefault(fid, []).append(t)
    return out


@pytest.fixture(scope="module")
def gallery(fingers):
    # a small min_shortlist so that both pruning stages really run on 30 fingers
    g = FingerprintGallery(shortlist_fraction=0.1, min_shortlist=3, cascade_fraction=0.4)
    g.add_many((f"f{fid}", imps[0]) for fid, imps in fingers.items())
    return g


def _best_similarity(a, theta_a, gallery_bits, gallery_theta, delta_theta) -> float:
    """The best direction-compatible cylinder similarity of probe bits `a`, pair by pair."""
    best = 0.0
    for b, theta_b in zip(gallery_bits, gallery_theta):
        na, nb = int(np.bitwise_count(a).sum()), int(np.bitwise_count(b).sum())
        d = abs(float(theta_a) - float(theta_b))
        if na + nb == 0 or min(d, 2 * np.pi - d) > delta_theta:
            continue
        x = int(np.bitwise_count(a ^ b).sum())
        best = max(best, 1 - np.sqrt(x) / (np.sqrt(na) + np.sqrt(nb)))
    return best


def _pair_reference(probe: mcc.CylinderSet, bits, xyt, n_cyl, params, n_probe=16):
    """Stage 1.5 written pair by pair (slow, obviously right) to check the vectorized kernel."""
    pc = [int(np.bitwise_count(b).sum()) for b in probe.bits]
    pick = sorted(range(len(pc)), key=lambda i: -pc[i])[:n_probe]
    out = []
    for r in range(bits.shape[0]):
        n = int(n_cyl[r])
        out.append(sum(_best_similarity(probe.bits[i], probe.xyt[i, 2], bits[r, :n], xyt[r, :n, 2],
                                        params.delta_theta) for i in pick))
    return np.array(out)


def test_stage_one_and_a_half_matches_a_pair_by_pair_reference(gallery, fingers):
    probe = gallery.comparator.encode(fingers[4][1])
    rows = np.array([0, 4, 9, 17])
    a = gallery._a
    got = rescore_rows(probe.cylinders, a["bits"][rows], a["xyt"][rows], a["n_cyl"][rows],
                       gallery.comparator.params, chunk=3)  # a chunk that splits the rows
    want = _pair_reference(probe.cylinders, a["bits"][rows], a["xyt"][rows], a["n_cyl"][rows],
                           gallery.comparator.params)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    assert np.all(got > 0)


def test_cascade_keeps_the_mate_and_the_shortlist_size(gallery, fingers):
    assert gallery.cascade_size() == 12 and gallery.shortlist_size() == 3
    found = 0
    for fid in (2, 11, 19, 27):
        rows = gallery.shortlist_rows(gallery.comparator.encode(fingers[fid][1]))
        assert len(rows) == 3 and len(set(rows.tolist())) == 3
        found += gallery.ids.index(f"f{fid}") in rows
        top = gallery.search(fingers[fid][1], top_k=2)
        assert {c.id for c in top.candidates} <= {gallery.ids[r] for r in rows}  # stage 2 ranks the shortlist only
    assert found >= 3


def test_cascade_fraction_is_validated_and_saved(gallery, tmp_path):
    for bad in (0, -0.5, 1.5):
        with pytest.raises(InvalidDataError):
            FingerprintGallery(cascade_fraction=bad)
    gallery.save(tmp_path / "c.bfg")
    assert FingerprintGallery.load(tmp_path / "c.bfg").cascade_fraction == 0.4
    # a cascade no wider than the shortlist skips stage 1.5 and still returns the shortlist
    g = FingerprintGallery(FingerprintComparator(), shortlist_fraction=0.1, min_shortlist=3,
                           cascade_fraction=0.01)
    g._a, g._n, g._ids, g.prefilter = gallery._a, len(gallery), gallery.ids, gallery.prefilter
    assert g.cascade_size() == g.shortlist_size() == 3


def _pooled_reference(bits: np.ndarray, layers) -> np.ndarray:
    """2x2 OR pooling written on unpacked cells (one byte a bit): (n, 24) -> (n, 256) bool."""
    u = np.unpackbits(np.ascontiguousarray(bits).view(np.uint8).reshape(len(bits), -1), axis=1,
                      bitorder="little").reshape(len(bits), 6, 8, 2, 8, 2)
    return u[:, list(layers)].any(axis=(3, 5)).reshape(len(bits), -1)


def _code_similarity(a, theta_a, codes, thetas, delta_theta) -> float:
    """The best direction-compatible similarity of unpacked code `a` among `codes`."""
    best = 0.0
    for b, theta_b in zip(codes, thetas):
        na, nb = int(a.sum()), int(b.sum())
        d = abs(float(theta_a) - float(theta_b)) % (2 * np.pi)
        if na + nb == 0 or min(d, 2 * np.pi - d) > delta_theta:
            continue
        best = max(best, 1 - np.sqrt(int((a ^ b).sum())) / (np.sqrt(na) + np.sqrt(nb)))
    return best


def _spread_reference(counts, xyt, n_probe):
    """The probe cylinders both fast stages use, picked one by one: among the 2 * n_probe with
    most bits set, the first, then each time the one farthest from those already taken."""
    pool = sorted(range(len(counts)), key=lambda i: -counts[i])[:2 * n_probe]
    pick = [pool[0]]
    while len(pick) < min(n_probe, len(pool)):
        far = lambda i: min(np.hypot(*(xyt[i, :2] - xyt[j, :2])) for j in pick)  # noqa: E731
        pick.append(max((i for i in pool if i not in pick), key=far))
    return pick


def _stage_one_reference(probe: mcc.CylinderSet, bits, xyt, n_cyl, pf):
    """Stage 1 written pair by pair with exact (unquantized) directions and every cylinder of
    each finger."""
    pick = _spread_reference([int(np.bitwise_count(b).sum()) for b in probe.bits], probe.xyt, pf.n_probe)
    a = _pooled_reference(probe.bits[pick], pf.layers)
    out = []
    for r in range(bits.shape[0]):
        n = int(n_cyl[r])
        codes = _pooled_reference(bits[r, :n], pf.layers)
        sims = [_code_similarity(a[j], probe.xyt[i, 2], codes, xyt[r, :n, 2], pf.params.delta_theta)
                for j, i in enumerate(pick)]
        out.append(sum(sorted(sims, reverse=True)[:pf.n_best]))  # the n_best best probe cylinders
    return np.array(out)


def test_pooled_code_matches_the_cell_by_cell_reference():
    rng = np.random.default_rng(3)
    for density in (0.05, 0.5, 0.95, 1.0):
        bits = np.packbits(rng.random((64, 1536)) < density, axis=1, bitorder="little").view("<u8")
        got = pooled_code(bits, DEFAULT_LAYERS)
        want = np.packbits(_pooled_reference(bits, DEFAULT_LAYERS), axis=1,
                           bitorder="little").view("<u8")
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError):
        pooled_code(bits[:, :8], (0, 3))  # no layer 3 in 8 words


def test_stage_one_matches_a_pair_by_pair_reference(gallery, fingers):
    """The compact stage-1 arrays (uint8 counts and directions, similarities in 1/255 steps) give
    the exact score up to rounding (<= 0.5/255 a probe cylinder, 12 of them); a direction within
    1.4 degrees of the gate may flip, so most rows must agree."""
    pf, a = gallery.prefilter, gallery._a
    assert pf.nbytes_per_row() == pf.n_gallery * (len(pf.layers) * 8 + 2) + 2  # + cohort offset
    close = 0
    for fid in (3, 12, 25):
        probe = gallery.comparator.encode(fingers[fid][1]).cylinders
        got = pf.scores(probe, len(gallery), chunk=7)  # a chunk that splits the rows
        got = got + pf.offset[:len(gallery)] / 255  # the gallery centres its scores: undo it
        want = _stage_one_reference(probe, a["bits"][:len(gallery)], a["xyt"], a["n_cyl"], pf)
        close += int(np.sum(np.abs(got - want) <= pf.n_probe * 0.5 / 255 + 1e-4))
    assert close >= 0.9 * 3 * len(gallery)


@pytest.mark.parametrize("n_best", [1, 5, 16])
def test_stage_one_sums_the_n_best_like_the_reference(gallery, fingers, n_best):
    """Other n_best than the default, uncentred, against the pair-by-pair reference."""
    a, n = gallery._a, len(gallery)
    pf = CylinderPrefilter(gallery.comparator.params, n_probe=16, n_best=n_best)
    pf._alloc(n)
    pf.set_rows(0, a["bits"][:n], a["xyt"][:n], a["n_cyl"][:n].astype(np.int64))
    probe = gallery.comparator.encode(fingers[12][1]).cylinders
    got = pf.scores(probe, n, chunk=7)
    want = _stage_one_reference(probe, a["bits"][:n], a["xyt"], a["n_cyl"], pf)
    assert np.mean(np.abs(got - want) <= n_best * 0.5 / 255 + 1e-4) >= 0.9


def test_stage_one_ranks_most_mates_first(gallery, fingers):
    """On these 30 synthetic fingers stage 1 ranks 25 mates first (the former stage 1: 24; a
    majority vote instead of OR pooling, 10 probe cylinders: 16); a weak mate may rank lower:
    stage 1 only prunes."""
    first = 0
    for fid in fingers:
        got = gallery.prefilter.scores(gallery.comparator.encode(fingers[fid][1]).cylinders, len(gallery))
        first += int(np.argmax(got) == gallery.ids.index(f"f{fid}"))
    assert first >= 0.75 * len(fingers)


def test_stage_one_sees_every_cylinder_of_a_finger(gallery, fingers):
    """A mate whose matching cylinders are its least informative ones (here: 30 dense decoy
    cylinders hold the most bits) keeps its stage-1 score: stage 1 compares every stored cylinder,
    not the 30 with most bits (the former stage 1 lost such weak mates)."""
    cmp = gallery.comparator
    mate = cmp.encode(fingers[8][0]).cylinders
    probe = cmp.encode(fingers[8][1]).cylinders
    n = min(len(mate), 30)
    rng = np.random.default_rng(5)
    decoys = np.packbits(rng.random((30, 1536)) < 0.8, axis=1, bitorder="little").view("<u8")
    bits = np.zeros((2, 60, 24), np.uint64)
    xyt = np.zeros((2, 60, 3), np.float32)
    bits[0, :n], xyt[0, :n] = mate.bits[:n], mate.xyt[:n]                  # the mate alone
    bits[1, :30], xyt[1, :30, 2] = decoys, rng.uniform(0, 2 * np.pi, 30)   # decoys first ...
    bits[1, 30:30 + n], xyt[1, 30:30 + n] = mate.bits[:n], mate.xyt[:n]    # ... then the mate
    n_cyl = np.array([n, 30 + n])
    for pf, keeps in ((CylinderPrefilter(cmp.params), True),
                      (CylinderPrefilter(cmp.params, n_gallery=30), False)):
        pf._alloc(2)
        pf.set_rows(0, bits, xyt, n_cyl)
        alone, with_decoys = pf.scores(probe, 2)
        assert alone > 1.0
        assert (with_decoys >= 0.95 * alone) == keeps


def test_stage_one_sums_the_best_probe_cylinders_only(gallery, fingers):
    """n_best must lie in 1..n_probe (default min(N_BEST, n_probe)); summing the best 10 of 16
    probe cylinders never scores higher than summing all 16, and drops something for most fingers."""
    cls, p, a, n = type(gallery.prefilter), gallery.comparator.params, gallery._a, len(gallery)
    assert cls(p, n_probe=4).n_best == 4 and cls(p).n_best == 10
    for bad in (0, 17):
        with pytest.raises(ValueError):
            cls(p, n_probe=16, n_best=bad)
    probe = gallery.comparator.encode(fingers[5][1]).cylinders
    scores = {}
    for k in (16, 10):
        pf = cls(p, n_probe=16, n_best=k)
        pf._alloc(n)
        pf.set_rows(0, a["bits"][:n], a["xyt"][:n], a["n_cyl"][:n].astype(np.int64))
        scores[k] = pf.scores(probe, n)
    assert np.all(scores[10] <= scores[16] + 1e-6) and np.mean(scores[10] < scores[16]) > 0.5


def test_stage_one_directions_wrap_around(gallery):
    """A gallery direction just below 2 pi and a probe direction just above 0 are 0.02 rad apart:
    the quantized gate must not see them as opposite."""
    pf = type(gallery.prefilter)(gallery.comparator.params, n_gallery=1, n_probe=1)
    pf._alloc(1)
    cyl = gallery.comparator.encode(next(iter(synthetic.iter_finger_templates(1, 1, seed=5)))[2]).cylinders
    bits = cyl.bits[None, :1].copy()
    xyt = cyl.xyt[None, :1].copy()
    xyt[0, 0, 2] = 2 * np.pi - 0.01
    pf.set_rows(0, bits, xyt, np.array([1]))
    probe = mcc.CylinderSet(cyl.bits[:1].copy(), cyl.mask[:1].copy(), cyl.xyt[:1].copy(), 1)
    probe.xyt[0, 2] = 0.01
    assert pf.scores(probe, 1)[0] > 0.99  # the same cylinder: similarity 1
    probe.xyt[0, 2] = np.pi
    assert pf.scores(probe, 1)[0] == 0  # opposite direction: gated out


def test_block_layout_survives_growth_moves_and_compaction(gallery, fingers):
    """Stage-1 storage is slot-major inside blocks of fingers, the last block narrower: growing
    in steps, moving a row into a hole and compacting must give the scores of a fresh build."""
    a, n = gallery._a, len(gallery)
    bits, xyt, n_cyl = a["bits"][:n], a["xyt"][:n], a["n_cyl"][:n].astype(np.int64)
    small = CylinderPrefilter(gallery.comparator.params)
    small.BLOCK = 8  # 30 rows: three full blocks and a narrower last one
    small._alloc(0)
    for start, stop in ((0, 5), (5, 13), (13, n)):
        small.reserve(stop + 3, start)  # spare capacity: the last block's width changes
        small.set_rows(start, bits[start:stop], xyt[start:stop], n_cyl[start:stop])
    small.move_row(n - 1, 3)  # what remove() does: the last row fills the hole
    small.compact(n - 1)
    order = np.r_[0:3, n - 1, 4:n - 1]
    fresh = CylinderPrefilter(gallery.comparator.params)
    fresh._alloc(n - 1)
    fresh.set_rows(0, bits[order], xyt[order], n_cyl[order])
    assert small.capacity == n - 1 and small.nbytes() == (n - 1) * small.nbytes_per_row()
    for fid in (2, 17):
        probe = gallery.comparator.encode(fingers[fid][1]).cylinders
        for chunk in (8, 16, 1000):
            np.testing.assert_array_equal(small.scores(probe, n - 1, chunk=chunk),
                                          fresh.scores(probe, n - 1))


def _consistency_reference(probe: mcc.CylinderSet, bits, xyt, n_cyl, p, n_probe=32, layers=(0, 1, 3, 4)):
    """Stage 1.5 with geometric consistency written pair by pair (slow, obviously right): each
    picked probe cylinder takes its best direction-compatible cylinder of the finger (layers
    `layers` only), then MCC's LSS-R relaxation of those pairs, summed."""
    words = [4 * k + w for k in layers for w in range(4)]
    pb = probe.bits[:, words]
    pick = _spread_reference([int(np.bitwise_count(b).sum()) for b in pb], probe.xyt, n_probe)
    sig = lambda v, mu, tau: 1.0 / (1.0 + np.exp(min(float(-tau * (v - mu)), 50.0)))  # noqa: E731
    adiff = lambda x, y: abs((x - y + np.pi) % (2 * np.pi) - np.pi)  # noqa: E731
    wrap = lambda d: (d + np.pi) % (2 * np.pi) - np.pi  # noqa: E731
    out = []
    for r in range(bits.shape[0]):
        n = int(n_cyl[r])
        lam, where = [], []
        for i in pick:
            best, arg = 0.0, 0
            for j in range(n):
                b = bits[r, j, words]
                na, nb = int(np.bitwise_count(pb[i]).sum()), int(np.bitwise_count(b).sum())
                if na + nb == 0 or adiff(float(probe.xyt[i, 2]), float(xyt[r, j, 2])) > p.delta_theta:
                    continue
                s = 1 - np.sqrt(int(np.bitwise_count(pb[i] ^ b).sum())) / (np.sqrt(na) + np.sqrt(nb))
                if s > best:
                    best, arg = s, j
            lam.append(best)
            where.append((probe.xyt[i], xyt[r, arg]))
        k = len(pick)
        rho = np.zeros((k, k))
        for t in range(k):
            for u in range(k):
                if t == u or lam[t] <= 0 or lam[u] <= 0:
                    continue
                (at, bt), (au, bu) = where[t], where[u]
                d1 = abs(np.hypot(*(bu[:2] - bt[:2])) - np.hypot(*(au[:2] - at[:2])))
                d2 = adiff(wrap(at[2] - au[2]), wrap(bt[2] - bu[2]))
                d3 = adiff(wrap(at[2] - np.arctan2(au[1] - at[1], au[0] - at[0])),
                           wrap(bt[2] - np.arctan2(bu[1] - bt[1], bu[0] - bt[0])))
                rho[t, u] = (sig(d1, p.mu_p1, p.tau_p1) * sig(d2, p.mu_p2, p.tau_p2)
                             * sig(d3, p.mu_p3, p.tau_p3))
        lam = np.array(lam)
        for _ in range(p.n_rel):
            lam = p.w_r * lam + (1 - p.w_r) / (k - 1) * rho @ lam
        out.append(lam.sum())
    return np.array(out)


def test_consistent_stage_matches_a_pair_by_pair_reference(gallery, fingers):
    from biocap.matching.fingerprint.consistency import consistent_scores

    a, p = gallery._a, gallery.comparator.params
    rows = np.array([1, 4, 9, 17, 26])
    for fid in (4, 17):
        probe = gallery.comparator.encode(fingers[fid][1]).cylinders
        got = consistent_scores(probe, a["bits"], a["xyt"], a["n_cyl"], rows, p, chunk=2)  # chunks split the rows
        want = _consistency_reference(probe, a["bits"][rows], a["xyt"][rows], a["n_cyl"][rows], p)
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3)
        assert np.all(got > 0)


def test_consistent_stage_prefers_a_consistent_placement(gallery, fingers):
    """The mate's own cylinders at scrambled positions keep every cylinder similarity (the former
    stage 1.5, a plain sum, scores them as the mate) but lose the geometric agreement: the
    consistent stage must rank the true placement clearly higher."""
    from biocap.matching.fingerprint.consistency import consistent_scores

    cmp = gallery.comparator
    mate = cmp.encode(fingers[6][0]).cylinders
    probe = cmp.encode(fingers[6][1]).cylinders
    n = min(len(mate), 60)
    bits = np.zeros((2, 60, 24), np.uint64)
    xyt = np.zeros((2, 60, 3), np.float32)
    bits[:, :n] = mate.bits[:n]
    xyt[:, :n] = mate.xyt[:n]
    rng = np.random.default_rng(1)
    xyt[1, :n, :2] = mate.xyt[rng.permutation(n), :2]  # same cylinders and directions, other places
    n_cyl = np.array([n, n])
    plain = rescore_rows(probe, bits, xyt, n_cyl, cmp.params, n_probe=24)
    assert plain[0] == pytest.approx(plain[1])
    true_place, scrambled = consistent_scores(probe, bits, xyt, n_cyl, np.arange(2), cmp.params)
    assert true_place > 1.3 * scrambled


def test_consistent_stage_checks_its_arrays(gallery, fingers):
    from biocap.matching.fingerprint.consistency import consistent_scores

    a, p = gallery._a, gallery.comparator.params
    probe = gallery.comparator.encode(fingers[3][1]).cylinders
    assert consistent_scores(probe, a["bits"], a["xyt"], a["n_cyl"], np.array([], int), p).shape == (0,)
    with pytest.raises(InvalidDataError):
        consistent_scores(probe, a["bits"][:, :, :8], a["xyt"], a["n_cyl"], np.array([0]), p)


def test_cohort_offset_is_the_cohorts_mean_raw_score(gallery):
    """Each finger's offset is the mean raw stage-1 score of the cohort's synthetic impostors
    against it (1/255 steps), and the gallery's stage-1 scores are the raw ones minus it."""
    from biocap.matching.fingerprint.cohort import cohort_cylinders

    a, n = gallery._a, len(gallery)
    raw = CylinderPrefilter(gallery.comparator.params)  # not centred
    raw._alloc(n)
    raw.set_rows(0, a["bits"][:n], a["xyt"][:n], a["n_cyl"][:n].astype(np.int64))
    cohort = cohort_cylinders(gallery.comparator.params)
    assert len(cohort) >= 30  # the generator's fingers are enrollable
    mean = np.mean([raw.scores(c, n) for c in cohort], axis=0)
    np.testing.assert_allclose(gallery.prefilter.offset[:n] / 255, mean, atol=0.6 / 255)
    assert np.all(gallery.prefilter.offset[:n] > 0)  # every finger gathers some score
    probe = cohort[0]
    np.testing.assert_allclose(gallery.prefilter_scores(_as_template(probe)),
                               raw.scores(probe, n) - gallery.prefilter.offset[:n] / 255, atol=1e-5)


def _as_template(cylinders):
    from biocap.matching.fingerprint.matcher import MccTemplate
    return MccTemplate(cylinders, cylinders.n_minutiae, cylinders.xyt)


def test_centring_lifts_a_partial_mate_over_dense_fingers(fingers):
    """A mate enrolled from a partial impression (6 of its cylinders) among 20 dense fingers
    (each cylinder the OR of two other fingers' cylinders: many minutiae in every neighbourhood,
    so every probe finds something similar): the raw score ranks at least half of the dense
    fingers above the mate, the cohort-centred score ranks the mate first."""
    cmp = FingerprintComparator()
    enc = {fid: cmp.encode(imps[0]).cylinders for fid, imps in fingers.items()}
    mate, others = enc[6], [fid for fid in enc if fid != 6]
    bits = np.zeros((21, 60, 24), np.uint64)
    xyt = np.zeros((21, 60, 3), np.float32)
    n_cyl = np.zeros(21, np.int64)
    bits[0, :6], xyt[0, :6], n_cyl[0] = mate.bits[-6:], mate.xyt[-6:], 6
    for d in range(1, 21):
        srcs = [enc[others[(3 * d + j) % len(others)]] for j in range(2)]
        n = min(60, *(len(c) for c in srcs))
        bits[d, :n] = srcs[0].bits[:n] | srcs[1].bits[:n]
        xyt[d, :n], n_cyl[d] = srcs[0].xyt[:n], n
    probe = cmp.encode(fingers[6][1]).cylinders
    ranks = {}
    for centred in (False, True):
        pf = CylinderPrefilter(cmp.params, centred=centred)
        pf._alloc(21)
        pf.set_rows(0, bits, xyt, n_cyl)
        s = pf.scores(probe, 21)
        ranks[centred] = int(np.sum(s > s[0]))
    assert ranks[False] >= 10 and ranks[True] == 0


def test_stage_one_probe_cylinders_are_spread_over_the_print(gallery, fingers):
    """Stage 1's probe cylinders come from the 24 most informative ones, spread out: a crowd of
    points gives one pick, the far points all get picked; on a real probe the picks lie farther
    apart than the 12 most informative cylinders do."""
    from biocap.matching.fingerprint.prefilter import _farthest_first

    rng = np.random.default_rng(2)
    crowd = rng.normal(0, 1, (20, 2))
    far = np.array([[100.0, 0.0], [0.0, 100.0], [-100.0, -100.0]])
    got = _farthest_first(np.vstack([crowd, far]), 4)
    assert set(got[1:]) == {20, 21, 22} and got[0] == 0
    assert len(_farthest_first(np.zeros((0, 2)), 5)) == 0
    pf = gallery.prefilter
    probe = gallery.comparator.encode(fingers[9][1]).cylinders
    pc = np.bitwise_count(probe.bits).sum(-1).astype(np.int64)
    top = np.argsort(-pc, kind="stable")
    a, _, _ = pf.probe_codes(probe)
    assert a.shape[0] == pf.n_probe
    min_gap = lambda idx: min(np.hypot(*(probe.xyt[i, :2] - probe.xyt[j, :2]))  # noqa: E731
                              for i in idx for j in idx if i < j)
    pool = top[:2 * pf.n_probe]
    picked = pool[_farthest_first(probe.xyt[pool, :2], pf.n_probe)]
    np.testing.assert_array_equal(a, pooled_code(probe.bits[picked], pf.layers))
    assert min_gap(picked) > min_gap(top[:pf.n_probe])
