"""Templates made at the desk travel in the package (Type-99 template records) and the centre
searches them instead of extracting again; without them (an older office) or from another
algorithm version it extracts from the image, and both give the same template."""
import dataclasses
import struct
import sys
import zlib
from pathlib import Path

import nistitl
import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

sys.path.insert(0, str(Path(__file__).parent))

from biocap.centre.arrival import arrival_from_package  # noqa: E402
from biocap.centre.loadtest import SYNTHETIC_FACE_ALGORITHM, resident_record, synthetic_face_embedder  # noqa: E402
from biocap.office import OfficeIdentity, PackageError  # noqa: E402
from biocap.office.package import (FACE_TEMPLATE, IRIS_TEMPLATE, build_package,  # noqa: E402
                                   decode_template_record, encode_template_record, read_package,
                                   template_algorithm)
from biocap.types import Modality  # noqa: E402

SEED = 45
SMALL = (64, 64)
ITEM = {"person": 3, "capture": 1, "missing_fingers": (), "missing_irises": (), "subject": "T-3"}
FACES = synthetic_face_embedder.template_algorithms


@pytest.fixture(scope="module")
def office():
    return OfficeIdentity("office-t", Ed25519PrivateKey.generate())


@pytest.fixture(scope="module")
def record():
    return resident_record(SEED, ITEM, SMALL)  # irises rendered and extracted once for the module


def _copy(rec, **templates_of):
    """The record with each capture's templates replaced by templates_of[step](templates)."""
    caps = [dataclasses.replace(c, templates=templates_of.get(c.step, dict)(dict(c.templates)))
            for c in rec.captures]
    return dataclasses.replace(rec, captures=caps)


@pytest.fixture(scope="module")
def packages(office, record):
    with_t = build_package(record, office=office, previous_hash=None)
    none = {"iris-1": lambda t: {}, "iris-2": lambda t: {}, "face": lambda t: {}}
    without = build_package(_copy(record, **none), office=office, previous_hash=None)
    return with_t, without


def _resign(msg, office):
    from biocap.office.package import FS, SIG_HEX, SIG_TAG

    list(msg.iter(98))[0]._207 = "0" * SIG_HEX
    unsigned = msg.NIST
    assert unsigned.endswith(SIG_TAG + b"0" * SIG_HEX + FS)
    return unsigned[:-SIG_HEX - 1] + office.signing_key.sign(unsigned).hex().encode() + FS


def _read(office, data):
    return read_package(data, trusted={office.office_id: office.public_key}, decode_images=False)


def test_template_records_round_trip_and_nistitl_reads_them(office, packages):
    data, _ = packages
    pkg = _read(office, data)
    for eye in (1, 2):
        rec = pkg.irises[eye].templates[IRIS_TEMPLATE]
        assert rec.algorithm == template_algorithm(IRIS_TEMPLATE)
    assert pkg.face.templates[FACE_TEMPLATE].algorithm == SYNTHETIC_FACE_ALGORITHM
    msg = nistitl.Message()
    msg.parse(data)
    t99 = list(msg.iter(99))
    assert len(t99) == 3 and msg.NIST == data
    assert sorted(r._101 for r in t99) == ["00000002", "00000010", "00000010"]
    assert {r._103 + "/" + r._104 for r in t99} == {"FFFF/0001"}
    # each template record shares its IDC with the image record it was made from
    assert {r.IDC for r in t99} == {r.IDC for r in msg.iter(17)} | {r.IDC for r in msg.iter(10)}


def test_centre_uses_the_record_and_it_equals_extraction_from_the_image(office, packages):
    data, older = packages
    a = arrival_from_package(_read(office, data), None, synthetic_face_embedder, FACES)
    b = arrival_from_package(_read(office, older), None, synthetic_face_embedder, FACES)
    assert a.sources == {"iris:1": "record", "iris:2": "record", "face": "record"}
    assert b.sources == {"iris:1": "image", "iris:2": "image", "face": "image"}
    assert sorted(a.templates.irises) == sorted(b.templates.irises) == [1, 2]
    for e in (1, 2):
        for k in (0, 1):
            assert np.array_equal(a.templates.irises[e][k], b.templates.irises[e][k])
    assert np.allclose(a.templates.face, b.templates.face)
    assert not a.unusable and not b.unusable


def test_record_of_another_algorithm_version_falls_back_to_the_image(office, record):
    def older(t):
        return {f"{IRIS_TEMPLATE}@biocap-iris/older-build": t[IRIS_TEMPLATE]}
    data = build_package(_copy(record, **{"iris-1": older, "iris-2": older}), office=office,
                         previous_hash=None)
    pkg = _read(office, data)
    assert pkg.irises[1].templates[IRIS_TEMPLATE].algorithm == "biocap-iris/older-build"
    a = arrival_from_package(pkg, None, synthetic_face_embedder, FACES)
    assert a.sources["iris:1"] == a.sources["iris:2"] == "image"
    # a service without --synthetic-faces does not take the synthetic face record either
    b = arrival_from_package(pkg, None, lambda img: None, None)
    assert b.sources["face"] == "image" and "face" in b.unusable


def test_damaged_or_mislabelled_template_records_are_refused(office, record, packages):
    good = encode_template_record(IRIS_TEMPLATE, "a/1", b"x" * 40)
    assert decode_template_record(good).data == b"x" * 40
    for bad in (good[:-1] + bytes([good[-1] ^ 1]), b"BCTR" + good[4:5].replace(b"\x01", b"\x02") + good[5:],
                good[:20], b"", b"\0" * 70000):
        with pytest.raises(PackageError):
            decode_template_record(bad)
    # a face template made from an iris image: no face image record of its IDC
    face = next(c for c in record.captures if c.modality is Modality.FACE)
    data = build_package(_copy(record, **{"iris-1": lambda t: dict(face.templates)}), office=office,
                         previous_hash=None)
    with pytest.raises(PackageError, match="no image record of its IDC"):
        _read(office, data)
    # an iris template record labelled as a fingerprint (99.101 BTY), signed by the office
    msg = nistitl.Message()
    msg.parse(packages[0])
    list(msg.iter(99))[0]._101 = "00000008"
    with pytest.raises(PackageError, match="biometric type"):
        _read(office, _resign(msg, office))


def test_unknown_type99_formats_are_skipped_with_a_warning(office, packages):
    msg = nistitl.Message()
    msg.parse(packages[0])
    r = nistitl.AsciiRecord(99)
    r.IDC = 1
    r._4, r._5, r._100, r._101, r._103, r._104 = "x", "20261207", "0101", "00000008", "0101", "0007"
    r.DATA = b"another vendor's template"
    msg._records.insert(len(msg._records) - 1, r)  # before the signature record
    pkg = _read(office, _resign(msg, office))
    assert any("Type-99 IDC 1" in w and "0101/0007" in w for w in pkg.warnings)
    assert pkg.irises[1].templates[IRIS_TEMPLATE].algorithm == template_algorithm(IRIS_TEMPLATE)


def test_encode_checks_lengths():
    with pytest.raises(PackageError):
        encode_template_record("", "a", b"")
    with pytest.raises(PackageError):
        encode_template_record(IRIS_TEMPLATE, "a" * 300, b"")
    body = struct.pack("<4sBBH", b"BCTR", 1, 0, 2) + b"ab" + struct.pack("<H", 0) + struct.pack("<I", 99)
    with pytest.raises(PackageError, match="malformed"):
        decode_template_record(body + struct.pack("<I", zlib.crc32(body)))
    assert dataclasses.is_dataclass(decode_template_record(encode_template_record("f", "", b"")))
