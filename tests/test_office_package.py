"""The signed ANSI/NIST-ITL package: round trip, interop with nistitl, tampering, chain, NIST files."""
import hashlib

import nistitl
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from biocap.errors import TemplateFormatError
from biocap.office import OfficeIdentity, PackageError
from biocap.office.an2k import missing_fields, read_transaction
from biocap.office.package import (WSQ_BITRATE, PackageChain, build_package, jp2_decode, jp2_encode,
                                   package_hash, read_package, wsq_decode, wsq_encode)

from office_helpers import full_record, make_keys, ridge_image


@pytest.fixture(scope="module")
def office(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    return make_keys(d, "office-1").identity, make_keys(d, "office-2", name="keys2").identity


@pytest.fixture(scope="module")
def record():
    rec = full_record(fingers=[1, 2, 3, 4, 5, 6, 7, 8, 10], slaps=(14,))
    rec.metadata["name"] = "Siti Rahayu Ñoño 李"  # UTF-8 through a latin-1 writer and back
    return rec


@pytest.fixture(scope="module")
def package(office, record):
    return build_package(record, office=office[0], previous_hash=None)


@pytest.fixture(scope="module")
def small_package(office):
    return build_package(full_record(fingers=[2, 7], small=True), office=office[0], previous_hash=None)


def _trusted(*identities):
    return {i.office_id: i.public_key for i in identities}


def test_round_trip_of_every_record_type(office, record, package):
    pkg = read_package(package, trusted=_trusted(*office))
    assert (pkg.office_id, pkg.sequence, pkg.previous_hash) == ("office-1", 1, b"\0" * 32)
    assert pkg.subject == record.subject and pkg.name == "Siti Rahayu Ñoño 李" and pkg.complete
    assert pkg.package_hash == hashlib.sha256(package).digest()
    assert pkg.idempotency_key.startswith("office-1-00000001-")
    caps = {c.step: c for c in record.captures}
    assert sorted(pkg.fingers) == [1, 2, 3, 4, 5, 6, 7, 8, 10] and sorted(pkg.slaps) == [14]
    for pos, entry in [*pkg.fingers.items(), *pkg.slaps.items()]:
        src = caps[f"finger-{pos}" if pos <= 10 else f"slap-{pos}"].sample.image
        assert entry.image.shape == src.shape and entry.ppi == 500
        err = entry.image.astype(float) - src
        assert 10 * np.log10(255 ** 2 / np.mean(err ** 2)) > 25  # WSQ: lossy, close
    assert pkg.fingers[2].quality == 42
    assert pkg.fingers[2].templates == caps["finger-2"].templates  # ISO record carried bit-exact
    for eye in (1, 2):  # JPEG 2000 lossless: bit-exact
        assert np.array_equal(pkg.irises[eye].image, caps[f"iris-{eye}"].sample.image)
        assert pkg.irises[eye].quality == 77
    assert np.array_equal(pkg.face.image, caps["face"].sample.image)
    pen = caps["signature"].sample.pen
    assert pkg.signature.vectors.shape == (len(pen), 3)
    assert np.array_equal(pkg.signature.vectors[:, 0], np.round(pen.x * 1000 / 200))
    assert pkg.signature.image.shape == (100, 225)  # 40x90 at 200 ppi -> 500 ppi
    assert pkg.exceptions == [{"modality": "fingerprint", "position": 9, "code": "amputated",
                               "reason": "since 2019"}]
    # the amputated left ring finger is marked on the left slap (14.018 AMP: XX)
    tx = read_transaction(package, strict=True)
    slap = [r for r in tx.of_type(14) if r.get(13) == "14"][0]
    assert slap.fields[18].subfields() == [["9", "XX"]]
    assert missing_fields(tx) == []


def test_nistitl_reads_the_package_independently(package, record):
    msg = nistitl.Message()
    msg.parse(package)
    types = [r.type for r in msg]
    assert types[:2] == [1, 2] and types[-1] == 98
    assert types.count(14) == 10 and types.count(9) == 9 and types.count(17) == 2
    assert types.count(10) == 1 and types.count(8) == 2
    assert msg[0].VER == "0500" and msg[0].ORI == "office-1"
    assert msg[(2, 0)]._3 == record.subject
    r14 = [r for r in msg.iter(14)][0]
    assert r14.CGA == "WSQ20" and wsq_decode(r14.DATA).shape == (500, 400)
    assert msg.NIST == package  # nistitl writes back the exact bytes it read


def _psnr(a, b):
    return 10 * np.log10(255 ** 2 / np.mean((a.astype(float) - b) ** 2))


def test_wsq_rate_and_resolution_are_written():
    import _wsq
    img = ridge_image(300, 260, seed=4)
    low, high = wsq_encode(img, 569, 0.75), wsq_encode(img, 569, 1.5)
    assert len(high) > 1.4 * len(low)  # the `wsq` wheel's own compress() ignores the rate
    assert _psnr(wsq_decode(high), img) > _psnr(wsq_decode(low), img) + 2
    assert b"PPI 569\n" in low and b"WSQ_BITRATE 1.500000" in high and b"PIX_DEPTH 8\n" in low
    assert _wsq.decompress(low)[3] == 569  # NBIS's decoder reads the resolution back
    assert f"WSQ_BITRATE {WSQ_BITRATE:.6f}".encode() in wsq_encode(img, 500)
    with pytest.raises(PackageError, match="bit rate"):
        wsq_encode(img, 500, 0.0)


def test_codecs_bit_exact_and_sizes():
    img = ridge_image(300, 260, seed=3)
    assert np.array_equal(jp2_decode(jp2_encode(img)), img)
    with pytest.raises(PackageError, match="record says"):
        jp2_decode(jp2_encode(img), expect=(10, 10))
    bomb = bytearray(jp2_encode(img))  # codestream claims 20000x20000 behind a 260x300 header
    j = bomb.find(b"\xff\x4f\xff\x51")
    bomb[j + 8:j + 16] = (20000).to_bytes(4, "big") * 2
    with pytest.raises(PackageError, match="codestream 20000x20000"):
        jp2_decode(bytes(bomb))
    w = wsq_encode(img, 500)
    assert wsq_decode(w).shape == (300, 260)
    with pytest.raises(PackageError):
        wsq_decode(w[:40])


def test_flipped_byte_anywhere_is_refused(office, small_package):
    trusted = _trusted(*office)
    package = small_package
    rng = np.random.default_rng(0)
    n = len(package)
    # every byte of the Type-1 record and of the signature record, and random ones between
    t98 = read_transaction(package).records[-1].offset
    positions = set(rng.integers(0, n, 200).tolist()) | set(range(0, 250)) | set(range(t98, n))
    reasons = {}
    for pos in sorted(positions):
        for bit in rng.choice(8, 1):
            bad = bytearray(package)
            bad[pos] ^= 1 << bit
            try:
                read_package(bytes(bad), trusted=trusted, decode_images=False)
            except PackageError as exc:
                reasons.setdefault(str(exc).split(": ")[1][:30], pos)
            else:
                pytest.fail(f"a flipped bit {bit} at byte {pos} was not refused")
    assert any(r.startswith("the signature does not verify") for r in reasons), reasons
    assert any(r.startswith("malformed") for r in reasons), reasons


def test_signed_by_another_office_or_untrusted(office):
    one, two = office
    record = full_record(fingers=[2], small=True)
    forged = build_package(record, office=OfficeIdentity("office-1", two.signing_key),
                           previous_hash=None)
    with pytest.raises(PackageError, match="signed by office 'office-2', not by office 'office-1'"):
        read_package(forged, trusted=_trusted(one, two))
    with pytest.raises(PackageError, match="does not verify with office 'office-1'"):
        read_package(forged, trusted=_trusted(one))
    with pytest.raises(PackageError, match="not a trusted office"):
        read_package(build_package(record, office=two, previous_hash=None), trusted=_trusted(one))


def test_chain_refuses_dropped_replayed_and_rechained(office):
    one = office[0]
    record = full_record(fingers=[2], small=True)
    trusted = _trusted(one)
    p1 = build_package(record, office=one, previous_hash=None)
    p2 = build_package(record, office=one, previous_hash=package_hash(p1), sequence=2)
    p3 = build_package(record, office=one, previous_hash=package_hash(p2), sequence=3)
    chain = PackageChain()
    read_package(p1, trusted=trusted, chain=chain, decode_images=False)
    with pytest.raises(PackageError, match="dropped: package 2 .* is missing"):
        read_package(p3, trusted=trusted, chain=chain, decode_images=False)
    read_package(p2, trusted=trusted, chain=chain, decode_images=False)
    with pytest.raises(PackageError, match="replayed: package 2"):
        read_package(p2, trusted=trusted, chain=chain, decode_images=False)
    with pytest.raises(PackageError, match="replayed: package 1"):
        read_package(p1, trusted=trusted, chain=chain, decode_images=False)
    other3 = build_package(record, office=one, previous_hash=package_hash(p1), sequence=3)
    with pytest.raises(PackageError, match="chain broken"):
        read_package(other3, trusted=trusted, chain=chain, decode_images=False)
    read_package(p3, trusted=trusted, chain=chain, decode_images=False)
    assert chain.state["office-1"] == (3, package_hash(p3))


def test_build_refuses_bad_input(office, record):
    one = office[0]
    with pytest.raises(PackageError, match="sequence"):
        build_package(record, office=one, previous_hash=b"\1" * 32)
    with pytest.raises(PackageError, match="previous_hash"):
        build_package(record, office=one, previous_hash=b"\1" * 5, sequence=2)
    from dataclasses import replace
    unfinished = replace(record, enrollment=replace(record.enrollment, state="open"))
    with pytest.raises(PackageError, match="not finished"):
        build_package(unfinished, office=one, previous_hash=None)
    bad = full_record(fingers=[1])
    bad.metadata["name"] = "Siti\x1dRahayu"  # a separator inside a name would split the field
    with pytest.raises(PackageError, match="control characters"):
        build_package(bad, office=one, previous_hash=None)


def test_missing_mandatory_field_is_named():
    msg = nistitl.Message()
    msg[0].VER = "0500"
    r = nistitl.AsciiRecord(14)
    r.IDC = 1
    r._3 = "0"
    r.DATA = b"\xff\xa0"
    msg += r
    problems = missing_fields(read_transaction(msg.NIST))
    assert "14.011 CGA (Type-14 record IDC 1)" in problems and "1.008 ORI" not in " ".join(problems)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(cut=st.integers(0, 10**7), junk=st.binary(max_size=64), mode=st.sampled_from(["cut", "splice", "junk"]))
def test_hostile_packages_give_package_errors(office, small_package, cut, junk, mode):
    package = small_package
    cut %= len(package)
    if mode == "splice" and not junk:
        junk = b"\x1d"
    data = {"cut": package[:cut], "splice": package[:cut] + junk + package[cut:],
            "junk": junk}[mode]
    with pytest.raises(PackageError):
        read_package(data, trusted=_trusted(*office), decode_images=False)


# --- NIST's own test transactions ------------------------------------------------------------------
AN2K = ["type3.an2k", "type4-slaps.an2k", "type9-13.an2k", "type9-15.an2k", "type9-efs.an2k",
        "type9.an2k", "biocap_nistitl_roundtrip.an2"]


@pytest.mark.parametrize("name", AN2K)
def test_every_shared_an2k_file_is_read(shared_data, name):
    path = shared_data / "interchange" / "an2k" / name
    if not path.exists():
        pytest.skip(f"{path} not present")
    data = path.read_bytes()
    tx = read_transaction(data)
    assert tx.type1.get(1) and len(tx.records) >= 2
    assert sum(r.length for r in tx.records) == len(data)
    images = [r for r in tx.records if r.data]
    if name.startswith("type4"):
        assert [r.header["fgp"] for r in images] and all(r.data[:2] == b"\xff\xa0" for r in images)
        assert wsq_decode(images[0].data).shape == (images[0].header["vll"], images[0].header["hll"])
    if name == "type9-13.an2k":
        assert any("2.034 appears twice" in w for w in tx.warnings)
        with pytest.raises(TemplateFormatError, match="2.034 appears twice"):
            read_transaction(data, strict=True)
    if name == "type9-15.an2k":
        palms = tx.of_type(15)
        assert {p.get(11) for p in palms} <= {"WSQ20", "JP2L", "JP2"}
        for p in palms:
            if p.get(11) == "WSQ20":
                assert wsq_decode(p.data).shape == (int(p.get(7)), int(p.get(6)))
            else:
                import imagecodecs
                assert imagecodecs.jpeg2k_decode(p.data).shape[:2] == (int(p.get(7)), int(p.get(6)))
