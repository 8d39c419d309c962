"""The cascaded 1:N search: stage 1 -> stage 1.5 (every cylinder) -> full comparison."""
import numpy as np
import pytest

from biocap.errors import InvalidDataError
from biocap.matching import fingerprint_mcc as mcc
from biocap.matching.fingerprint import FingerprintComparator
from biocap.matching.gallery import FingerprintGallery
from biocap.matching.gallery_prefilter import rescore_rows

synthetic = pytest.importorskip("biocap.synthetic.fingerprint_templates",
                                reason="the template-level simulator provides gallery fillers")


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
        assert {i for i, _ in top} <= {gallery.ids[r] for r in rows}  # stage 2 ranks the shortlist only
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


def _stage_one_reference(probe: mcc.CylinderSet, bits, xyt, n_cyl, pf):
    """Stage 1 written pair by pair with exact (unquantized) directions."""
    def top(b, n, k):
        pc = [int(np.bitwise_count(b[c]).sum()) for c in range(n)]
        return sorted(range(n), key=lambda c: -pc[c])[:k]
    words = pf.words
    out = []
    for r in range(bits.shape[0]):
        gal = top(bits[r], int(n_cyl[r]), pf.n_gallery)
        out.append(sum(_best_similarity(probe.bits[i][words], probe.xyt[i, 2], bits[r, gal][:, words],
                                        xyt[r, gal, 2], pf.params.delta_theta)
                       for i in top(probe.bits, len(probe), pf.n_probe)))
    return np.array(out)


def test_stage_one_matches_a_pair_by_pair_reference(gallery, fingers):
    """The compact stage-1 arrays (float16 norms, uint8 directions) give the exact score up to
    rounding; a direction within 1.4 degrees of the gate may flip, so most rows must agree."""
    pf, a = gallery.prefilter, gallery._a
    assert pf.nbytes_per_row() == pf.n_gallery * (len(pf.words) * 8 + 3)
    close = 0
    for fid in (3, 12, 25):
        probe = gallery.comparator.encode(fingers[fid][1]).cylinders
        got = pf.scores(probe, len(gallery), chunk=7)  # a chunk that splits the rows
        want = _stage_one_reference(probe, a["bits"][:len(gallery)], a["xyt"], a["n_cyl"], pf)
        close += int(np.sum(np.abs(got - want) <= 5e-3))
        assert np.argmax(got) == gallery.ids.index(f"f{fid}")  # the mate scores best
    assert close >= 0.9 * 3 * len(gallery)


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
