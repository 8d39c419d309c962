"""Issue 17 item 4: gallery files. A SHA-256 covers header and arrays; every edited, renamed or
overflowing header field is a clean TemplateFormatError, for both galleries, also when the
digest is recomputed after the edit (a deliberate edit); IrisTemplate bytes likewise.

Failed before: an edited `sigma_d` or a renamed `shortlist_fraction` loaded silently
(test_unsigned_header_edit_is_refused), `"crc32": 3879e14478` escaped as OverflowError and
`"ns": 14` as ValueError (test_resigned_hostile_fields_are_clean_errors), and the hypothesis
header fuzz found both.
"""
from __future__ import annotations

import hashlib
import json
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from biocap.errors import BiocapError, TemplateFormatError
from biocap.matching.fingerprint.comparator import FingerprintComparator
from biocap.matching.fingerprint.gallery import FingerprintGallery
from biocap.matching.iris.gallery import IrisGallery
from biocap.templates.fingerprint.template import FingerprintTemplate
from biocap.templates.iris.template import IrisTemplate

FUZZ = settings(max_examples=15, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def fp_file(tmp_path_factory):
    g = FingerprintComparator().gallery()
    g.add_many((f"f{i}", random_template(i)) for i in range(6))
    path = tmp_path_factory.mktemp("g") / "fp.bfg"
    g.save(path)
    return path.read_bytes()


@pytest.fixture(scope="module")
def iris_file(tmp_path_factory):
    rng = np.random.default_rng(0)
    g = IrisGallery()
    g.add_codes([f"e{i}" for i in range(12)], rng.integers(0, 256, (12, 256), dtype=np.uint8),
                np.full((12, 256), 255, np.uint8))
    path = tmp_path_factory.mktemp("g") / "iris.big"
    g.save(path)
    return path.read_bytes()


GALLERIES = {"fp": FingerprintGallery, "iris": IrisGallery}


def random_template(seed: int) -> FingerprintTemplate:
    """40 random minutiae on a 300x400 print (enough cylinders for a gallery row)."""
    rng = np.random.default_rng(seed)
    n = 40
    rows = np.column_stack([rng.uniform(40, 260, n), rng.uniform(40, 360, n),
                            rng.uniform(0, 2 * np.pi, n), rng.integers(1, 3, n), np.full(n, 60)])
    return FingerprintTemplate(rows, 300, 400, 500.0)


def _split(raw: bytes):
    hlen = struct.unpack("<I", raw[12:16])[0]
    return raw[:16], json.loads(raw[16:16 + hlen]), raw[16 + hlen:-32]


def _build(head: bytes, header_text: bytes, body: bytes, *, resign: bool = True,
           old_digest: bytes = b"") -> bytes:
    out = head[:12] + struct.pack("<I", len(header_text)) + header_text + body
    return out + (hashlib.sha256(out).digest() if resign else old_digest)


def _load(kind, tmp_path, raw):
    path = tmp_path / "g.bin"
    path.write_bytes(raw)
    return GALLERIES[kind].load(path)


@pytest.mark.parametrize("kind", ["fp", "iris"])
def test_round_trip_and_every_flip_is_caught(kind, fp_file, iris_file, tmp_path):
    raw = {"fp": fp_file, "iris": iris_file}[kind]
    assert len(_load(kind, tmp_path, raw)) in (6, 12)
    for at in range(0, len(raw), max(1, len(raw) // 47)):  # ~50 positions over the file
        bad = bytearray(raw)
        bad[at] ^= 0x20
        with pytest.raises(TemplateFormatError):
            _load(kind, tmp_path, bytes(bad))


@pytest.mark.parametrize("kind, edit", [
    ("fp", lambda h: h["mcc_params"].__setitem__("sigma_d", 0.0001)),
    ("fp", lambda h: h.__setitem__("shortlist_fractoin", h.pop("shortlist_fraction"))),
    ("fp", lambda h: h.__setitem__("min_shortlist", 1)),
    ("iris", lambda h: h["params"].__setitem__("threshold", 0.45)),
    ("iris", lambda h: h["params"].__setitem__("max_shfit", h["params"].pop("max_shift"))),
])
def test_unsigned_header_edit_is_refused(kind, edit, fp_file, iris_file, tmp_path):
    raw = {"fp": fp_file, "iris": iris_file}[kind]
    head, header, body = _split(raw)
    edit(header)
    bad = _build(head, json.dumps(header).encode(), body, resign=False, old_digest=raw[-32:])
    with pytest.raises(TemplateFormatError, match="checksum"):
        _load(kind, tmp_path, bad)


def _text_edit(header_text: str, old: str, new: str) -> bytes:
    assert old in header_text
    return header_text.replace(old, new, 1).encode()


@pytest.mark.parametrize("kind, old, new", [
    ("fp", '"crc32": ', '"crc32": 3879e14478, "x": '),
    ("fp", '"ns": 16', '"ns": 14'),
    ("fp", '"ns": 16', '"ns": 16.5'),
    ("fp", '"ns": 16', '"ns": true'),
    ("fp", '"shortlist_fraction"', '"shortlist_fractoin"'),
    ("fp", '"count": 6', '"count": 99999999999999999999'),
    ("fp", '"count": 6', '"count": -1'),
    ("fp", '"capacity_cylinders": ', '"capacity_cylinders": 1e999, "y": '),
    ("fp", '"sigma_d": ', '"sigma_d": NaN, "z": '),
    ("fp", '"offset": 0', '"offset": 1e30'),
    ("fp", '"nbytes": ', '"nbytes": -5, "w": '),
    ("iris", '"max_shift": 8', '"max_shift": 9999'),
    ("iris", '"chunk": 4096', '"chunk": 0'),
    ("iris", '"count": 12', '"count": 13'),
    ("iris", '"threshold": ', '"threshold": "0.3", "t": '),
    ("iris", '"format": "biocap-iris-gallery"', '"format": "x"'),
])
def test_resigned_hostile_fields_are_clean_errors(kind, old, new, fp_file, iris_file, tmp_path):
    raw = {"fp": fp_file, "iris": iris_file}[kind]
    head, header, body = _split(raw)
    text = json.dumps(header)
    with pytest.raises(TemplateFormatError):
        _load(kind, tmp_path, _build(head, _text_edit(text, old, new), body))


def _mutate(value, draw):
    choice = draw(st.integers(0, 7))
    return [None, -1, 0, 1e308, "x", [], {}, 2 ** 70][choice] if choice != 3 or not isinstance(
        value, (int, float)) else value * draw(st.sampled_from([-1, 0.5, 2, 1000]))


def _paths(obj, prefix=()):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield prefix + (k,)
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


@FUZZ
@given(st.data())
def test_header_fuzz_never_escapes(fp_file, iris_file, tmp_path, data):
    kind = data.draw(st.sampled_from(["fp", "iris"]))
    raw = {"fp": fp_file, "iris": iris_file}[kind]
    head, header, body = _split(raw)
    paths = list(_paths(header))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        parent = header
        try:
            for p in path[:-1]:
                parent = parent[p]
            if data.draw(st.booleans()) and isinstance(parent, dict):
                parent[str(path[-1]) + "_renamed"] = parent.pop(path[-1])
            else:
                parent[path[-1]] = _mutate(parent[path[-1]], data.draw)
        except (KeyError, IndexError, TypeError):
            continue
    try:
        _load(kind, tmp_path, _build(head, json.dumps(header).encode(), body))
    except BiocapError:
        pass


def _template():
    rng = np.random.default_rng(1)
    return IrisTemplate(code=rng.integers(0, 256, 256, dtype=np.uint8),
                        mask=np.full(256, 255, np.uint8), position=1)


def test_iris_template_round_trip_and_flips():
    raw = _template().to_bytes()
    back = IrisTemplate.from_bytes(raw)
    assert np.array_equal(back.code, _template().code) and back.position == 1
    for at in range(len(raw)):
        bad = bytearray(raw)
        bad[at] ^= 0x01
        with pytest.raises(BiocapError):
            IrisTemplate.from_bytes(bytes(bad))


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=600))
def test_iris_template_random_bytes(data):
    for blob in (data, _template().to_bytes()[:16] + data):
        try:
            IrisTemplate.from_bytes(blob)
        except BiocapError:
            pass
