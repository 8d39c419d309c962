"""What the desk tells the operator and keeps with a capture: the duplicate finding (it used to
be in the JSON summary only: a person enrolled twice under two ids exited 0 in silence) and the
face's ISO/IEC 19794-5 token image record."""
from biocap.cli.station_commands import DUPLICATE_EXIT, _duplicate_line


def test_duplicate_finding_is_printed_with_what_to_do():
    dup = {"decision": "duplicate", "matched": "3201-0001", "residents_searched": 12,
           "candidates": [{"id": "3201-0001", "score": 26.0}]}
    line = _duplicate_line(dup)
    assert "DUPLICATE of 3201-0001" in line and "do not issue a second card" in line
    adj = dict(dup, decision="adjudication", matched=None)
    assert "POSSIBLE DUPLICATE of 3201-0001" in _duplicate_line(adj) and "supervisor" in _duplicate_line(adj)
    assert "unique among this office's 12 residents" in _duplicate_line(dict(dup, decision="unique", candidates=[]))
    assert DUPLICATE_EXIT not in (0, 1, 2, 3)  # distinct from success, errors and "stays open"


def test_face_token_record_is_an_iso_token_frontal_image():
    """The desk keeps the face's ISO/IEC 19794-5:2011 token image beside its template."""
    import numpy as np
    import pytest

    pytest.importorskip("dlib")
    import cv2
    from skimage import data

    from biocap.station.templates import ISO_FACE_TOKEN, face_token_record
    from biocap.templates.formats import decode
    from biocap.types import Modality, Sample

    rgb = np.ascontiguousarray(data.astronaut()[0:340, 60:390])  # a registry-shipped photograph
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    rec = decode(face_token_record(Sample(grey, 100, Modality.FACE, colour=rgb))[ISO_FACE_TOKEN])
    (img,) = rec.images
    assert img.face_image_type == 2 and img.width >= 240 and img.height == round(img.width / 0.75)
    left, right = sorted(img.feature_points, key=lambda p: p.code)
    assert (left.major, left.minor, right.minor) == (12, 1, 2)
    # token geometry: eye midpoint at (0.5 W, 0.6 W), eyes 0.25 W apart
    assert left.x > right.x  # the subject's left eye is on the image's right
    assert abs((left.x + right.x) / 2 - img.width / 2) <= 1.5 and abs(left.y - 0.6 * img.width) <= 1.5
    assert abs(abs(left.x - right.x) - 0.25 * img.width) <= 1.5
    assert img.decode_image().shape[:2] == (img.height, img.width)
