"""Fingerprint 1:N gallery: planted mate, add/remove, files (round trip, corruption, versions)."""
import json
import struct

import pytest

from biocap.errors import InvalidDataError, TemplateFormatError
from biocap.matching.fingerprint.comparator import FingerprintComparator
from biocap.matching.fingerprint.gallery import FORMAT_VERSION, MAGIC, FingerprintGallery

from biocap.synthetic.fingerprint import templates as synthetic  # gallery fillers


@pytest.fixture(scope="module")
def fingers():
    """Two impressions each of 60 synthetic fingers: {finger_id: [template, template]}."""
    out = {}
    for fid, imp, t in synthetic.iter_finger_templates(40, 2, seed=11):
        out.setdefault(fid, []).append(t)
    return out


@pytest.fixture(scope="module")
def gallery(fingers):
    g = FingerprintComparator().gallery()
    g.add_many((f"f{fid}", imps[0]) for fid, imps in fingers.items())
    return g


def test_planted_mate_is_found_at_rank_one(gallery, fingers):
    hits = 0
    for fid in (3, 17, 29, 33, 38):
        top = gallery.search(fingers[fid][1], top_k=5).candidates
        assert len(top) == 5 and top[0].score >= top[-1].score
        hits += top[0].id == f"f{fid}"
    assert hits >= 4


def test_pruned_search_agrees_with_exhaustive_on_the_top(gallery, fingers):
    probe = fingers[17][1]
    gallery_small = gallery.shortlist_size()
    assert gallery_small <= len(gallery)
    assert gallery.search(probe, top_k=1).best == gallery.search(probe, top_k=1, exhaustive=True).best


def test_add_remove_keep_rows_consistent(fingers):
    g = FingerprintComparator().gallery()
    g.add("a", fingers[1][0])
    g.add("b", fingers[2][0])
    g.add("c", fingers[3][0])
    with pytest.raises(InvalidDataError, match="already enrolled"):
        g.add("b", fingers[4][0])
    g.remove("a")  # the last row moves into the hole
    assert len(g) == 2 and "a" not in g and set(g.ids) == {"b", "c"}
    assert g.search(fingers[3][1], top_k=1).best.id == "c"
    assert g.search(fingers[2][1], top_k=1).best.id == "b"
    with pytest.raises(InvalidDataError):
        g.remove("a")
    g.remove("b")
    g.remove("c")
    assert len(g) == 0 and g.search(fingers[3][1], top_k=3).candidates == ()


def test_bad_inputs(fingers):
    g = FingerprintComparator().gallery()
    for bad in ("", None, 5, "x" * 300, "a\nb"):
        with pytest.raises(InvalidDataError):
            g.add(bad, fingers[1][0])
    with pytest.raises(InvalidDataError):
        g.search(fingers[1][0], top_k=0)
    with pytest.raises(InvalidDataError):
        g.add("x", "not a template")


def test_memory_per_finger_is_under_16_kb(gallery):
    assert gallery.bytes_per_finger() <= 16 * 1024


def test_save_load_round_trip(gallery, fingers, tmp_path):
    path = tmp_path / "g.bfg"
    gallery.save(path)
    loaded = FingerprintGallery.load(path)
    assert loaded.ids == gallery.ids
    probe = fingers[29][1]
    assert loaded.search(probe, top_k=3) == gallery.search(probe, top_k=3)
    loaded.add("extra", fingers[1][1])  # a loaded gallery keeps growing
    assert len(loaded) == len(gallery) + 1


def _saved(gallery, tmp_path):
    path = tmp_path / "g.bfg"
    gallery.save(path)
    return path, bytearray(path.read_bytes())


def test_corrupt_files_give_clear_errors(gallery, tmp_path):
    path, raw = _saved(gallery, tmp_path)
    flipped = bytearray(raw)
    flipped[-100] ^= 0xFF  # payload damage
    path.write_bytes(bytes(flipped))
    with pytest.raises(TemplateFormatError, match="checksum"):
        FingerprintGallery.load(path)
    path.write_bytes(bytes(raw[:len(raw) // 2]))  # truncated
    with pytest.raises(TemplateFormatError, match="truncated|corrupt"):
        FingerprintGallery.load(path)
    path.write_bytes(b"PK\x03\x04" + bytes(raw[4:]))  # not ours
    with pytest.raises(TemplateFormatError, match="not a biocap"):
        FingerprintGallery.load(path)
    path.write_bytes(b"")
    with pytest.raises(TemplateFormatError):
        FingerprintGallery.load(path)
    hlen = struct.unpack("<I", raw[12:16])[0]
    path.write_bytes(bytes(raw[:16]) + b"{" * hlen + bytes(raw[16 + hlen:]))  # header garbage
    with pytest.raises(TemplateFormatError, match="header"):
        FingerprintGallery.load(path)
    with pytest.raises(InvalidDataError):
        FingerprintGallery.load(tmp_path / "missing.bfg")


def test_other_format_versions_are_refused_with_a_reason(gallery, tmp_path):
    path, raw = _saved(gallery, tmp_path)
    newer = bytearray(raw)
    newer[8:12] = struct.pack("<I", FORMAT_VERSION + 1)
    path.write_bytes(bytes(newer))
    with pytest.raises(TemplateFormatError, match="upgrade biocap"):
        FingerprintGallery.load(path)
    older = bytearray(raw)
    older[8:12] = struct.pack("<I", 0)
    path.write_bytes(bytes(older))
    with pytest.raises(TemplateFormatError, match="re-enrol"):
        FingerprintGallery.load(path)


def test_file_header_is_documented_json(gallery, tmp_path):
    path, raw = _saved(gallery, tmp_path)
    assert raw[:8] == MAGIC
    hlen = struct.unpack("<I", raw[12:16])[0]
    header = json.loads(raw[16:16 + hlen])
    assert header["format_version"] == FORMAT_VERSION and header["count"] == len(gallery)
    assert {a["name"] for a in header["arrays"]} >= {"bits", "mask", "xyt", "ids"}


def test_a_version_1_file_still_loads(gallery, fingers, tmp_path):
    """Version 1 files (which also held a pair-histogram prefilter) load through the migration."""
    path, raw = _saved(gallery, tmp_path)
    v1 = bytearray(raw)
    v1[8:12] = struct.pack("<I", 1)
    path.write_bytes(bytes(v1))
    loaded = FingerprintGallery.load(path)
    assert loaded.search(fingers[33][1], top_k=1) == gallery.search(fingers[33][1], top_k=1)


def test_compact_releases_spare_capacity(fingers):
    g = FingerprintComparator().gallery()
    g.add_many((f"f{fid}", imps[0]) for fid, imps in list(fingers.items())[:20])
    before = g.allocated_bytes()
    g.compact()
    assert g.allocated_bytes() <= before
    assert g.allocated_bytes() / len(g) <= 16 * 1024
    assert g.search(fingers[3][1], top_k=1).best.id == "f3"
    g.add("again", fingers[30][0])  # still grows after compacting
    assert "again" in g


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=15, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_are_refused_cleanly(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "g.bfg"
    path.write_bytes(MAGIC + data if data[:1] == b"\x00" else data)
    with pytest.raises((TemplateFormatError, InvalidDataError)):
        FingerprintGallery.load(path)


@pytest.mark.parametrize("drop", ["cascade_fraction", "shortlist_fraction", "min_shortlist",
                                  "mcc_params.delta_theta", "mcc_params.max_nr"])
def test_a_file_lacking_a_parameter_is_refused_not_defaulted(gallery, tmp_path, drop):
    """Defaults in the code may differ from what the file was saved with (MccParams' defaults are
    the paper's, the matcher's are tuned): a missing parameter is an error, never a default."""
    path, raw = _saved(gallery, tmp_path)
    hlen = struct.unpack("<I", raw[12:16])[0]
    header = json.loads(raw[16:16 + hlen])
    if drop.startswith("mcc_params."):
        del header["mcc_params"][drop.split(".")[1]]
    else:
        del header[drop]
    body = raw[16 + hlen:]  # array offsets count from the end of the header: still valid
    new = json.dumps(header).encode()
    path.write_bytes(bytes(raw[:12]) + struct.pack("<I", len(new)) + new + bytes(body))
    with pytest.raises(TemplateFormatError, match=drop.split(".")[-1]):
        FingerprintGallery.load(path)
