"""Every registered provider meets `biocap.plugins.contracts`, with data the test makes itself.

Also: the built-in plugin registers every provider without a problem (a broken or missing
module shows here as a failure, never as a skip), and the SDK takes a template's modality from
the template, never from its class name.
"""
from __future__ import annotations

import numpy as np
import pytest

import biocap
from biocap.errors import BiocapError, InvalidDataError, NoProvider, TemplateFormatError
from biocap.plugins.contracts import (Candidate, Comparator, Extractor, Gallery, QualityProvider,
                                      SearchResult)
from biocap.quality.report import QualityProvider as QualityProviderFromReport
from biocap.sdk import _modality_of
from biocap.synthetic.fingerprint.templates import iter_finger_templates
from biocap.synthetic.iris.codes import filler_codes
from biocap.templates.iris import IrisTemplate
from biocap.types import Modality

BUILT_IN = {Modality.FINGERPRINT, Modality.IRIS}


@pytest.fixture(scope="module")
def sdk():
    return biocap.SDK()


def test_the_built_in_plugin_registers_everything_without_a_problem(sdk):
    assert sdk.problems == []
    for hook in ("biocap_quality_providers", "biocap_extractors", "biocap_comparators"):
        found = {Modality(p.modality) for p in sdk._collect(hook)}
        assert found >= BUILT_IN, hook


def test_providers_meet_their_protocols(sdk):
    assert QualityProviderFromReport is QualityProvider  # one protocol, two import paths
    checks = {"biocap_quality_providers": QualityProvider, "biocap_extractors": Extractor,
              "biocap_comparators": Comparator}
    for hook, protocol in checks.items():
        for provider in sdk._collect(hook):
            assert isinstance(provider, protocol), (hook, provider)
            assert isinstance(provider.modality, Modality) and provider.name


def _fingerprints():
    fingers = {}
    for fid, _, t in iter_finger_templates(12, 2, seed=3):
        fingers.setdefault(f"f{fid}", []).append(t)
    return [(k, v[0]) for k, v in fingers.items()], [(k, v[1]) for k, v in fingers.items()]


def _irises():
    rng = np.random.default_rng(4)
    masks = np.packbits(np.ones((4, 2048), np.uint8), axis=1)
    codes, masks = filler_codes(12, masks, seed=5)
    enrolled = [(f"e{i}", IrisTemplate(codes[i].copy(), masks[i].copy())) for i in range(12)]
    probes = []
    for i in range(12):
        bits = np.unpackbits(codes[i]) ^ (rng.random(2048) < 0.08)
        probes.append((f"e{i}", IrisTemplate(np.packbits(bits), masks[i].copy())))
    return enrolled, probes


DATA = {Modality.FINGERPRINT: _fingerprints, Modality.IRIS: _irises}


@pytest.mark.slow
@pytest.mark.parametrize("modality", sorted(BUILT_IN, key=lambda m: m.value), ids=lambda m: m.value)
def test_comparator_and_gallery_answer_on_one_scale(sdk, modality, tmp_path):
    comparator = sdk.comparator(modality)
    enrolled, probes = DATA[modality]()
    thr = comparator.threshold_for_fmr(1e-3)
    assert 0.0 <= thr <= 1.0
    assert comparator.threshold_for_fmr(1e-2) <= thr  # a looser FMR never needs a higher score
    with pytest.raises(InvalidDataError):
        comparator.threshold_for_fmr(0.0)

    gallery = comparator.gallery()
    assert isinstance(gallery, Gallery) and gallery.modality is modality
    assert gallery.add_many(enrolled[1:]) == len(enrolled) - 1
    gallery.add(*enrolled[0])
    assert len(gallery) == len(enrolled) and enrolled[0][0] in gallery
    with pytest.raises(InvalidDataError):
        gallery.add(*enrolled[0])

    key, probe = probes[0]
    result = gallery.search(probe, top_k=3, fmr=1e-3)
    assert isinstance(result, SearchResult) and result.fmr == 1e-3 and result.threshold == thr
    assert all(isinstance(c, Candidate) for c in result.candidates)
    assert len(result.candidates) <= 3
    scores = [c.score for c in result.candidates]
    assert scores == sorted(scores, reverse=True) and all(0.0 <= s <= 1.0 for s in scores)
    best = result.best
    assert best is not None and best.id == key
    mate = dict(enrolled)[key]
    assert best.score == pytest.approx(comparator.compare(probe, mate), abs=1e-6)  # same scale
    assert best in result.matches
    assert gallery.search(probe, top_k=3).threshold is None

    path = tmp_path / "g.bin"
    gallery.save(path)
    loaded = type(gallery).load(path)
    assert loaded.search(probe, top_k=3, fmr=1e-3) == result
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 0xFF  # inside the last array: its checksum fails
    path.write_bytes(bytes(raw))
    with pytest.raises(BiocapError):
        type(gallery).load(path)

    gallery.remove(key)
    assert key not in gallery and len(gallery) == len(enrolled) - 1
    after = gallery.search(probe, top_k=3)
    assert all(c.id != key for c in after.candidates)


def test_templates_declare_their_modality():
    _, probes = _fingerprints()
    iris = _irises()[0][0][1]
    assert _modality_of(probes[0][1]) is Modality.FINGERPRINT
    assert _modality_of(iris) is Modality.IRIS

    class FingerprintLookalike:  # a class name is never taken for a modality
        pass

    assert _modality_of(FingerprintLookalike()) is None
    with pytest.raises(NoProvider, match="modality"):
        biocap.SDK(load_entry_points=False).compare(FingerprintLookalike(), FingerprintLookalike())


def test_iris_template_bytes_round_trip_and_refuse_damage():
    t = _irises()[0][3][1]
    t.geometry = {"pupil": [np.float32(40.5), 41, 12.0]}
    t.position, t.quality, t.image_size = 1, 77, (320, 280)
    data = t.to_bytes()
    back = IrisTemplate.from_bytes(data)
    assert np.array_equal(back.code, t.code) and np.array_equal(back.mask, t.mask)
    assert (back.position, back.quality, back.image_size) == (1, 77, (320, 280))
    assert back.geometry == {"pupil": [40.5, 41, 12.0]} and back.modality is Modality.IRIS
    for bad in (data[:-1], data[:20], b"BIOCAPIT" + data[8:40], bytes([data[0] ^ 1]) + data[1:],
                data[:100] + bytes([data[100] ^ 4]) + data[101:], b"", "text"):
        with pytest.raises(InvalidDataError):
            IrisTemplate.from_bytes(bad)


def test_an_iris_gallery_file_lacking_a_parameter_is_refused(tmp_path):
    import hashlib
    import json
    import struct

    enrolled, _ = _irises()
    gallery = sdk_comparator_gallery(Modality.IRIS)
    gallery.add_many(enrolled[:3])
    path = tmp_path / "g.big"
    gallery.save(path)
    raw = path.read_bytes()
    hlen = struct.unpack("<I", raw[12:16])[0]
    header = json.loads(raw[16:16 + hlen])
    del header["params"]["slope1"]
    new = json.dumps(header).encode()
    out = raw[:12] + struct.pack("<I", len(new)) + new + raw[16 + hlen:-32]
    # the SHA-256 trailer recomputed (a deliberate edit): the strict header check must refuse it
    path.write_bytes(out + hashlib.sha256(out).digest())
    with pytest.raises(TemplateFormatError, match="slope1"):
        type(gallery).load(path)


def sdk_comparator_gallery(modality):
    return biocap.SDK().comparator(modality).gallery()


def test_fingerprint_template_bytes_round_trip_and_refuse_damage():
    from biocap.templates.fingerprint.template import FingerprintTemplate, SingularPoint

    t = _fingerprints()[0][0][1]
    t.singular_points = [SingularPoint("delta", 10.5, 20.0, 0.3, (0.3, 1.2, 2.5))]
    t.quality, t.position = 61, 7
    t.extended = {"resolution_ppcm": (197, 197), "angle_units_raw": {3: 250, 7: 1},
                  "vendor": b"\x00\x01\xff", "counts": np.arange(4, dtype=np.uint8)}
    data = t.to_bytes()
    back = FingerprintTemplate.from_bytes(data)
    assert back.minutiae.tobytes() == t.minutiae.tobytes() and back.modality is Modality.FINGERPRINT
    assert (back.width, back.height, back.ppi, back.quality, back.position) == (t.width, t.height, t.ppi, 61, 7)
    assert back.singular_points == t.singular_points
    ext = back.extended
    assert ext["resolution_ppcm"] == (197, 197) and ext["angle_units_raw"] == {3: 250, 7: 1}
    assert ext["vendor"] == b"\x00\x01\xff" and np.array_equal(ext["counts"], np.arange(4, dtype=np.uint8))
    for bad in (data[:-1], data[:20], bytes([data[0] ^ 1]) + data[1:],
                data[:60] + bytes([data[60] ^ 4]) + data[61:], b"", None):
        with pytest.raises(InvalidDataError):
            FingerprintTemplate.from_bytes(bad)
