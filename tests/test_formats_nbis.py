"""Interop with NIST NBIS (nbis-py, the `reference` extra): its records read in biocap, and
records biocap writes load and match in NBIS.

nbis-py writes and reads a dialect of ISO/IEC 19794-2:2005 without the finger-view count and
the extended-data length; its loader reads a standard record as zero minutiae. biocap reads both
and writes the dialect on request (`iso19794_2_2005.encode_nbis`).

Every test runs on generated prints (`biocap.synthetic`: two impressions of one finger and one of
another) and, where ../shared/data is present, on three FVC 2002 DB1_B prints too.
"""
from __future__ import annotations

import numpy as np
import pytest

from biocap.templates.formats import FingerprintRecord, decode, encode, iso19794_2_2005

from conftest import shared_cases, shared_or_none

nbis = pytest.importorskip("nbis")

IMAGES = ("genuine", "mate", "other")
FVC_IMAGES = ("101_1.tif", "101_2.tif", "102_1.tif")


@pytest.fixture(scope="module", params=["generated"] + shared_cases(
    ["shared"], "fingerprint", "fvc2002_db1_b"))
def prints(request, synthetic_prints, tmp_path_factory):
    """{genuine, mate, other: image file}: two impressions of one finger and one of another."""
    if request.param == "shared":
        folder = shared_or_none("fingerprint", "fvc2002_db1_b")
        return {k: folder / f for k, f in zip(IMAGES, FVC_IMAGES)}
    import cv2
    folder = tmp_path_factory.mktemp("prints")
    out = {}
    for k, key in zip(IMAGES, ((3, 1), (3, 2), (6, 1))):
        out[k] = folder / f"{key[0]}_{key[1]}.png"
        cv2.imwrite(str(out[k]), synthetic_prints[key])
    return out


@pytest.fixture(scope="module")
def extractor():
    settings = nbis.NbisExtractorSettings(min_quality=0.0, get_center=False,
                                          check_fingerprint=False, compute_nfiq2=False, ppi=500.0)
    return nbis.new_nbis_extractor(settings)


@pytest.fixture(scope="module")
def nbis_minutiae(prints, extractor):
    return {name: extractor.extract_minutiae_from_image_file(str(prints[name])) for name in IMAGES}


def test_nbis_record_reads_in_biocap(nbis_minutiae, prints):
    import cv2
    for name, minutiae in nbis_minutiae.items():
        data = minutiae.to_iso_19794_2_2005()
        record = decode(data)
        assert record.format == "iso19794-2:2005" and record.extra.get("dialect") == "nbis"
        (view,) = record.views
        points = minutiae.get()
        assert len(view) == len(points) > 5
        np.testing.assert_array_equal(view.minutiae["x"], [p.x() for p in points])
        np.testing.assert_array_equal(view.minutiae["y"], [p.y() for p in points])
        # NBIS reports the ISO angle units in degrees; biocap holds them in radians
        np.testing.assert_allclose(np.degrees(view.minutiae["angle"]),
                                   [p.angle() for p in points], atol=1e-3)
        kinds = [1 if p.kind() == nbis.MinutiaKind.RIDGE_ENDING else 2 for p in points]
        np.testing.assert_array_equal(view.minutiae["type"], kinds)
        h, w = cv2.imread(str(prints[name]), cv2.IMREAD_GRAYSCALE).shape
        assert (view.width, view.height) == (w, h)
        explicit = decode(data, "iso19794-2:2005")
        np.testing.assert_array_equal(explicit.views[0].minutiae, view.minutiae)


def test_biocap_record_loads_and_matches_in_nbis(nbis_minutiae, extractor):
    genuine, mate, other = (nbis_minutiae[n] for n in IMAGES)
    for source in (genuine, mate):
        view = decode(source.to_iso_19794_2_2005()).views[0]
        # through biocap's own formats first: the content survives any of them
        for fmt in ("iso19794-2:2011", "ansi378:2009", "iso19794-2:2005"):
            view = decode(encode(FingerprintRecord.from_templates([view]), fmt)).views[0]
        loaded = extractor.load_iso_19794_2_2005(iso19794_2_2005.encode_nbis(view))
        assert len(loaded.get()) == len(source.get())
        assert loaded.compare(source) == source.compare(source)
    from_biocap = extractor.load_iso_19794_2_2005(
        iso19794_2_2005.encode_nbis(decode(genuine.to_iso_19794_2_2005()).views[0]))
    assert from_biocap.compare(mate) > from_biocap.compare(other)


def test_biocap_extraction_matches_in_nbis(prints, extractor, nbis_minutiae):
    import cv2

    from biocap.templates import fingerprint

    from biocap.types import Modality, Sample

    image = cv2.imread(str(prints[IMAGES[0]]), cv2.IMREAD_GRAYSCALE)
    template = fingerprint.extract_template(Sample(image=image, ppi=500.0,
                                                   modality=Modality.FINGERPRINT))
    if len(template) > 255:
        order = np.argsort(-template.minutiae["quality"], kind="stable")[:255]
        template.minutiae = template.minutiae[np.sort(order)]
    loaded = extractor.load_iso_19794_2_2005(iso19794_2_2005.encode_nbis(template))
    assert len(loaded.get()) == len(template)
    points = loaded.get()
    np.testing.assert_array_equal([p.x() for p in points], np.rint(template.minutiae["x"]))
    np.testing.assert_array_equal([p.y() for p in points], np.rint(template.minutiae["y"]))
    # NBIS keeps directions in 11.25-degree steps (mindtct's 32 directions) after loading
    diff = np.array([p.angle() for p in points]) - np.degrees(template.minutiae["angle"])
    diff = np.abs((diff + 180.0) % 360.0 - 180.0)
    assert diff.max() <= 11.25 / 2 + 180 / 256 + 1e-3
    # a biocap template of a finger scores higher in bozorth3 against NBIS's minutiae of
    # another impression of it than against another finger
    assert loaded.compare(nbis_minutiae[IMAGES[1]]) > loaded.compare(nbis_minutiae[IMAGES[2]])


def test_cli_writes_the_nbis_dialect(nbis_minutiae, extractor, tmp_path, capsys):
    from biocap.cli import main

    source = nbis_minutiae[IMAGES[0]]
    standard = tmp_path / "std.iso"
    standard.write_bytes(encode(decode(source.to_iso_19794_2_2005()), "iso19794-2:2011"))
    out = tmp_path / "nbis.iso"
    assert main(["template", "convert", str(standard), str(out), "--to", "iso19794-2:2005",
                 "--dialect", "nbis"]) == 0
    loaded = extractor.load_iso_19794_2_2005(out.read_bytes())
    assert loaded.compare(source) == source.compare(source)
    assert main(["template", "convert", str(standard), str(out), "--to", "ansi378:2004",
                 "--dialect", "nbis"]) == 2
    capsys.readouterr()
