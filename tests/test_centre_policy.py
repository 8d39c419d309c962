"""The centre checks a record against the same programme policy the desk captured it with, and
a capture the desk's operator accepted below quality (with a reason) is not sent back for it."""
from __future__ import annotations

import json

import numpy as np
import pytest

from biocap.centre.arrival import Arrival, CentrePolicy, arrival_from_package, check_arrival
from biocap.errors import InvalidDataError
from biocap.matching.person import PersonTemplates
from biocap.office import OfficeIdentity
from biocap.office.package import build_package, read_package
from biocap.station.policy import load_policy
from biocap.templates.fingerprint.template import FingerprintTemplate, minutiae_array
from biocap.types import Modality
from office_helpers import full_record


def test_centre_minimums_are_the_desk_policy():
    desk = load_policy("ektp")
    pol = CentrePolicy.from_programme("ektp")
    lowest_finger = min(desk.threshold(Modality.FINGERPRINT), desk.threshold(Modality.FINGERPRINT, slap=True))
    for pos in range(1, 11):
        # the lowest score at which the desk accepts the finger, single or cut from a slap
        assert pol.finger_minimum(pos) == min(lowest_finger, desk.threshold(Modality.FINGERPRINT, pos, slap=True))
    assert pol.finger_minimum(5) < pol.finger_minimum(2)  # the little finger's own lower threshold
    assert pol.min_quality["iris"] == desk.quality[Modality.IRIS]
    assert pol.min_quality["face"] == desk.quality[Modality.FACE]


def test_policy_json_overrides_fields_and_bad_json_is_a_clear_error(tmp_path):
    (tmp_path / "policy.json").write_text(json.dumps({"finger_quality": {"2": 12}, "min_quality": {"iris": 55}}))
    pol = CentrePolicy.load(tmp_path)
    assert pol.finger_minimum(2) == 12 and pol.min_quality["iris"] == 55
    (tmp_path / "policy.json").write_text(json.dumps({"finger_quality": {"two": 1}}))
    with pytest.raises(InvalidDataError, match="not a valid centre policy"):
        CentrePolicy.load(tmp_path)


def _arrival(quality, overrides=None, minutiae=30):
    rng = np.random.default_rng(minutiae)
    rows = [(rng.uniform(20, 380), rng.uniform(20, 480), rng.uniform(0, 6.28), 1, 60) for _ in range(minutiae)]
    fingers = {p: FingerprintTemplate(minutiae_array(rows), 400, 500, 500.0, position=p) for p in range(1, 11)}
    return Arrival("office-1", 1, None, b"\0" * 32, "office-1-00000001-abcdef", "S-1",
                   PersonTemplates(fingers=fingers, irises={}, face=None),
                   quality=quality, present={f"finger:{p}" for p in range(1, 11)} | {"iris:1", "iris:2", "face"},
                   overrides=overrides or {})


def test_low_quality_sent_back_unless_the_operator_overrode_it():
    pol = CentrePolicy.from_programme("ektp")
    below = pol.finger_minimum(10) - 1
    reasons = check_arrival(_arrival({"finger:10": below, "finger:5": pol.finger_minimum(5)}), pol)
    assert [(r["code"], r["field"]) for r in reasons] == [("quality", "finger:10")]
    overridden = _arrival({"finger:10": below}, {"finger:10": "worn ridges, best of 3 attempts"})
    assert check_arrival(overridden, pol) == []
    # an override is not a reason by itself; a blank one does not count
    assert check_arrival(_arrival({"finger:10": below}, {"finger:10": "  "}), pol)
    # too few minutiae to search on: sent back, unless the desk overrode it (retaken already)
    few = _arrival({"finger:10": below}, minutiae=pol.min_minutiae - 1)
    assert any(r["code"] == "quality" and "minutiae" in r["message"] for r in check_arrival(few, pol))
    few_overridden = _arrival({}, {f"finger:{p}": "worn" for p in range(1, 11)}, minutiae=pol.min_minutiae - 1)
    assert check_arrival(few_overridden, pol) == []


def test_package_carries_overrides_to_the_centre(tmp_path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    rec = full_record(small=True)
    low = next(c for c in rec.captures if c.modality is Modality.FINGERPRINT and c.position == 10)
    low.quality, low.override_reason = {"score": 9}, "worn ridges; best of 3 attempts"
    ident = OfficeIdentity("office-1", Ed25519PrivateKey.generate())
    data = build_package(rec, office=ident, previous_hash=None)
    pkg = read_package(data, trusted={"office-1": ident.public_key}, decode_images=False)
    assert pkg.overrides == [{"modality": "fingerprint", "position": 10, "step": "finger-10",
                              "reason": "worn ridges; best of 3 attempts"}]
    arrival = arrival_from_package(pkg, images={}, face_embedder=lambda image: None)
    assert arrival.overrides == {"finger:10": "worn ridges; best of 3 attempts"}
    assert not [r for r in check_arrival(arrival, CentrePolicy.from_programme()) if r["field"] == "finger:10"
                and "quality 9" in r["message"]]
