"""Person-level fused 1:N (biocap.matching.person) on generated residents."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from biocap.errors import BiocapError
from biocap.matching.person import (PersonGallery, PersonGalleryError, PersonTemplates, person_from_bytes,
                                    person_to_bytes, same_decision, threshold_for_fmr)
from biocap.synthetic.population import resident

SEED = 31


def templates(person, capture=1, **kw):
    r = resident(SEED, person, capture, **kw)
    return PersonTemplates(fingers=r.fingers, irises=r.irises, face=r.face)


@pytest.fixture(scope="module")
def gallery():
    g = PersonGallery()
    for p in range(1, 13):
        kw = {"missing_irises": (1, 2)} if p == 5 else {}
        g.add(f"P{p}", templates(p, **kw))
    return g


@pytest.fixture(scope="module")
def probes():
    return {
        "dup": templates(3, 2),                                # fresh captures of P3
        "dup_no_iris": templates(7, 2, missing_irises=(1, 2)),  # searched on fingers and face
        "dup_gallery_no_iris": templates(5, 2),                 # P5 was enrolled without irises
        "dup_few_fingers": templates(9, 2, missing_fingers=(1, 2, 3, 6)),
        "new": templates(40, 1),
        "new_no_iris": templates(41, 1, missing_irises=(1,)),
    }


def test_duplicates_found_with_evidence(gallery, probes):
    for name, mate in (("dup", "P3"), ("dup_no_iris", "P7"), ("dup_gallery_no_iris", "P5"),
                       ("dup_few_fingers", "P9")):
        r = gallery.search(probes[name])
        assert r.decision == "duplicate", (name, r.to_dict())
        assert r.matched == mate
        ev = r.best.evidence
        assert "face" in ev
        if name in ("dup_no_iris", "dup_gallery_no_iris"):
            assert not any(k.startswith("iris:") for k in ev)  # missing on one side: no evidence
            assert any(k.startswith("finger:") for k in ev)    # so the fingers decided
        else:
            # irises and face may prove the duplicate before every finger is compared
            assert ev["iris:1"] > 0 and ev["iris:2"] > 0


def test_contract_search_result(gallery, probes):
    r = gallery.search(probes["dup"])
    sr = r.as_search_result()
    assert sr.best.id == "P3" and sr.matches and sr.matches[0].id == "P3"
    assert sr.extra["decision"] == "duplicate" and "face" in sr.extra["evidence"]["P3"]


def test_new_residents_unique(gallery, probes):
    for name in ("new", "new_no_iris"):
        r = gallery.search(probes[name])
        assert r.decision == "unique" and r.matched is None


def test_fast_path_decides_as_exhaustive(gallery, probes):
    """The fast path (pruned irises, fingers only where the bound needs them, early settling)
    against every eye and every finger of every resident."""
    for name, p in probes.items():
        fast = gallery.search(p)
        full = gallery.search(p, exhaustive=True)
        bounded = gallery.search(p, exhaustive="iris")
        assert same_decision(fast, full), name
        assert same_decision(bounded, full), name
        assert full.stats["finger_comparisons"] > fast.stats["finger_comparisons"]
        if full.decision != "unique":  # the exact fused score is at least the fast lower bound
            assert full.best.score >= fast.best.score - 1e-9


def test_finger_orders_decide_alike(gallery, probes):
    """Comparing a resident's cheapest fingers first (the default) or the probe's richest
    fingers first changes the work, never the decision."""
    try:
        for name in ("dup_no_iris", "dup_gallery_no_iris", "dup_few_fingers", "new_no_iris"):
            p = probes[name]
            full = gallery.search(p, exhaustive=True)
            for order in ("cheapest", "probe"):
                gallery.finger_order = order
                r = gallery.search(p)
                assert same_decision(r, full), (name, order)
    finally:
        gallery.finger_order = "cheapest"


def test_pinned_irisless_fingers_decide_alike(gallery, probes):
    """Keeping the iris-less residents' cylinders built saves work, never changes a decision."""
    before = {n: gallery.search(p) for n, p in probes.items()}
    assert gallery.pin_irisless_fingers() == len(gallery._fingers[gallery._row["P5"]])  # P5 alone has no irises
    assert gallery.pin_irisless_fingers() == 0  # already kept
    row = gallery._row["P5"]
    pos = next(iter(gallery._fingers[row]))
    assert gallery.finger_template(row, pos) is gallery._pinned[(row, pos)]
    for n, p in probes.items():
        assert same_decision(gallery.search(p), before[n]), n


def test_uniques_need_no_fingers(gallery, probes):
    r = gallery.search(probes["new"])
    assert r.stats["finger_comparisons"] == 0  # irises and face exclude everyone


def test_thresholds_follow_fmr():
    assert threshold_for_fmr(1e-6) == pytest.approx(6.0)
    assert threshold_for_fmr(1e-9) > threshold_for_fmr(1e-6)
    with pytest.raises(BiocapError):
        threshold_for_fmr(0)
    g = PersonGallery()
    with pytest.raises(BiocapError):
        g.search(PersonTemplates(), fmr=(1e-3, 1e-6))  # duplicate line under adjudication line
    r = g.search(PersonTemplates(), fmr=1e-6)  # one FMR: one line
    assert r.threshold_duplicate == r.threshold_adjudication == pytest.approx(6.0)


def test_save_load_and_damage(gallery, probes, tmp_path):
    path = tmp_path / "g.bpg"
    gallery.save(path)
    g2 = PersonGallery.load(path)
    assert len(g2) == len(gallery) and "P5" in g2
    assert same_decision(g2.search(probes["dup"]), gallery.search(probes["dup"]))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x40
    path.write_bytes(bytes(data))
    with pytest.raises(PersonGalleryError):
        PersonGallery.load(path)


def test_person_bytes_roundtrip(probes):
    p = probes["dup_few_fingers"]
    q = person_from_bytes(person_to_bytes(p))
    assert sorted(q.fingers) == sorted(p.fingers) and sorted(q.irises) == [1, 2]
    assert np.allclose(q.face, p.face)
    for pos in p.fingers:
        assert np.allclose(q.fingers[pos].minutiae["x"], p.fingers[pos].minutiae["x"], atol=0.07)


def test_bad_templates_refused():
    with pytest.raises(BiocapError):
        PersonTemplates(face=np.ones(128, np.float32))  # not normalised
    with pytest.raises(BiocapError):
        PersonTemplates(irises={3: (np.zeros(256, np.uint8), np.zeros(256, np.uint8))})
    with pytest.raises(BiocapError):
        PersonTemplates(fingers={11: None})
    g = PersonGallery()
    g.add("A", PersonTemplates(face=np.eye(128, dtype=np.float32)[0]))
    with pytest.raises(BiocapError):
        g.add("A", PersonTemplates())


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000))
def test_hostile_person_bytes(data):
    """Any body with a valid checksum: parsed or refused with a BiocapError, nothing else."""
    import struct
    import zlib
    try:
        person_from_bytes(b"BPT1" + struct.pack("<I", zlib.crc32(data)) + data)
    except BiocapError:
        pass


def test_truncated_person_bytes_refused(probes):
    b = person_to_bytes(probes["dup"])
    for cut in (9, 50, len(b) // 2, len(b) - 1):
        with pytest.raises(BiocapError):
            person_from_bytes(b[:cut])
