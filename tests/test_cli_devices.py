"""`biocap devices / info / capture / preview / demo` end to end on the simulated sensors."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import biocap_vendor_sim.plugin as sim_plugin
from biocap.cli import main

from conftest import shared_or_none

SYNTHETIC = "fingerprint=fingerprint-synthetic;iris=iris-synthetic;face=face-synthetic;signature=signature-synthetic"


@pytest.fixture(autouse=True)
def fresh_bus(monkeypatch):
    """Each test gets a newly plugged-in shared bus reading the environment it sets."""
    monkeypatch.setattr(sim_plugin, "_shared", None)
    monkeypatch.setenv("BIOCAP_SIM_SOURCES", SYNTHETIC)
    monkeypatch.delenv("BIOCAP_SIM_FAULTS", raising=False)


def _sim(devices):
    return [d for d in devices if d["bus"] == "sim"]


def test_devices_json_lists_the_four_simulated_devices(capsys):
    assert main(["devices", "--json"]) == 0
    devices = _sim(json.loads(capsys.readouterr().out))
    assert sorted(d["modality"] for d in devices) == ["face", "fingerprint", "iris", "signature"]
    for d in devices:
        assert {"id", "modality", "vendor", "model", "serial"} <= set(d)
    assert main(["info", devices[0]["id"]]) == 0
    assert devices[0]["id"] in capsys.readouterr().out


def test_capture_each_device_writes_png_and_full_sidecar(tmp_path, capsys):
    for device, extra in (("fingerprint", ["--position", "right_index", "--position", "7"]),
                          ("iris", []), ("face", []), ("signature", [])):
        assert main(["capture", device, "--out", str(tmp_path / device), "--timeout", "3", *extra]) == 0
    fp = sorted((tmp_path / "fingerprint").glob("*.json"))
    assert [json.loads(p.read_text())["position_name"] for p in fp] == ["left_index", "right_index"]
    record = json.loads(fp[0].read_text())
    for key in ("device_quality", "sdk_quality", "quality_report", "ppi", "captured_at", "device",
                "auto_captured", "metadata"):
        assert key in record
    assert record["device"]["serial"] == "FS500-0001"
    assert (tmp_path / "fingerprint" / record["files"]["image"]).stat().st_size > 1000
    assert len(list((tmp_path / "iris").glob("*.png"))) == 2
    csv_files = list((tmp_path / "signature").glob("*.csv"))
    assert csv_files and csv_files[0].read_text().startswith("t_ms,x,y,pressure,pen_down")


def test_errors_are_one_clear_line(tmp_path, capsys):
    assert main(["capture", "no-such-device", "--out", str(tmp_path)]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no device 'no-such-device'" in err[0]
    assert main(["capture", "fingerprint", "--out", str(tmp_path), "--position", "nose"]) != 0
    assert "unknown fingerprint position" in capsys.readouterr().err


def test_preview_prints_live_quality(capsys):
    assert main(["preview", "face", "--frames", "5"]) == 0
    out = capsys.readouterr().out
    assert out.count("frame ") == 5 and "frames/s" in out


def test_usb_recording_option_fails_clearly_without_the_module(tmp_path, capsys, monkeypatch):
    import importlib
    real = importlib.import_module

    def fake(name, *a):
        if name == "biocap.plugins.recording":
            raise ModuleNotFoundError(name=name)
        return real(name, *a)

    monkeypatch.setattr(importlib, "import_module", fake)
    assert main(["devices", "--usb-recording", str(tmp_path)]) != 0
    assert "biocap.plugins.recording" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_captures_every_modality_and_stores_the_enrollment(tmp_path, capsys, monkeypatch):
    # the demo's own default without research data: fingers a matcher can tell apart
    monkeypatch.setenv("BIOCAP_SIM_SOURCES", SYNTHETIC.replace(
        "fingerprint-synthetic", "fingerprint-realistic").replace("face-synthetic", "face-realistic"))
    assert main(["demo", "--out", str(tmp_path), "--timeout", "3"]) == 0
    out = capsys.readouterr().out
    assert "fingerprint right_index" in out and "fingerprint left_index" in out
    from biocap.office.legacy import EnrollmentStore  # encrypted; the demo's keys sit beside the store
    with EnrollmentStore(tmp_path / "enrollment.sqlite") as store:
        (enrollment,) = store.enrollments()
        rows = store.samples(enrollment["id"])
        modalities = sorted(r["modality"] for r in rows)
        face_row = next(r for r in rows if r["modality"] == "face")
        face_sample = store.load_sample(face_row["id"])
    assert modalities == ["face", "fingerprint", "fingerprint", "iris", "iris", "signature"]
    # the face was gated on the face quality and stored with its report and token image
    face = json.loads((tmp_path / "face_none.json").read_text())
    assert face["quality_report"]["provider"] == "biocap-face" and face["sdk_quality"] >= 40
    assert face_sample.metadata["token_image"]["width"] >= 240
    quality = face_row["quality"]
    quality = quality.to_json() if hasattr(quality, "to_json") else quality
    assert quality["measures"]["inter_eye_distance"]["score"] > 0
    assert (tmp_path / "face_token.png").stat().st_size > 1000
    # the fingers' minutiae went into a standard record, and the desk's 1:1 check ran on them
    from biocap.templates.formats import decode
    record = decode((tmp_path / "fingerprints.iso19794-2-2011").read_bytes())
    assert sorted(v.position for v in record.views) == [2, 7]
    assert all(len(v) >= 10 for v in record.views)
    meta = enrollment["metadata"]
    assert [v["position"] for v in meta["verification"]] == [2, 7]
    assert all(v["accepted"] for v in meta["verification"]), meta["verification"]


@pytest.mark.slow
def test_desk_verification_accepts_the_same_finger_and_rejects_others(monkeypatch):
    import biocap.builtin_plugin
    from biocap.enrollment import verify
    from biocap.types import CaptureRequest
    from biocap_vendor_sim.testing import sim_sdk
    # real FVC fingers, else the realistic generator's (same limits: both are fingers a matcher
    # must tell apart at the shipped calibration's FMR)
    source = "fingerprint-data" if shared_or_none("fingerprint") is not None else "fingerprint-realistic"
    monkeypatch.setenv("BIOCAP_SIM_SOURCES", f"fingerprint={source}")
    sdk, _ = sim_sdk(seed=1, modalities=("fingerprint",), plugins=[biocap.builtin_plugin])
    fingers = tuple(range(1, 11))
    request = CaptureRequest("fingerprint", positions=fingers, timeout_s=5, quality_threshold=0)
    with sdk.open("fingerprint") as device:
        enrolled = [sdk.extract(s) for s in device.capture(request).samples]
        probes = device.capture(request).samples
    accepted = np.array([[verify(sdk, t, p).accepted for p in probes] for t in enrolled])
    # at a 1-in-10,000 false match rate a genuine attempt may fail now and then (FNMR ~2-5%)
    assert accepted.diagonal().sum() >= 9
    # 90 impostor attempts at a 1-in-10,000 false match rate: expect none (one is tolerated)
    assert accepted[~np.eye(len(fingers), dtype=bool)].sum() <= 1


@pytest.mark.slow
def test_env_fault_unplug_fails_clearly_then_a_later_capture_succeeds(tmp_path):
    env = {**os.environ, "BIOCAP_SIM_SOURCES": SYNTHETIC, "BIOCAP_SIM_FAULTS": "fingerprint=unplug@2"}
    script = Path(sys.executable).parent / "biocap"  # the installed `biocap` command
    launcher = [str(script)] if script.exists() else \
        [sys.executable, "-c", "import sys; from biocap.cli import main; sys.exit(main())"]
    cmd = [*launcher, "capture", "fingerprint", "--out", str(tmp_path)]
    failed = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert failed.returncode != 0
    assert "unplugged" in failed.stderr and "Traceback" not in failed.stderr
    assert len([line for line in failed.stderr.splitlines() if line.startswith("biocap: error")]) == 1
    del env["BIOCAP_SIM_FAULTS"]
    ok = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert list(tmp_path.glob("fingerprint_*.png"))


def test_usb_recording_bus_is_offered_next_to_the_simulator(sim_recording, tmp_path, capsys):
    # the research set's NB-1010 session, else the simulator session the tests record
    # (conftest.sim_recording: a finger at position 2)
    nb1010 = shared_or_none("usb", "nb1010")
    recording = nb1010 if nb1010 is not None else sim_recording[0]
    where = [] if nb1010 is not None else ["--position", "2"]
    assert main(["devices", "--json", "--usb-recording", str(recording)]) == 0
    devices = json.loads(capsys.readouterr().out)
    recorded = [d for d in devices if d["bus"] != "sim"]
    assert len(recorded) == 1 and len(_sim(devices)) == 4
    # the recorded frame is what it is (SDK quality 28 < 40): kept, and exit 0 only when accepted
    assert main(["capture", recorded[0]["id"], "--usb-recording", str(recording),
                 "--out", str(tmp_path), "--timeout", "5", "--accept-low-quality", *where]) == 0
    assert list(tmp_path.glob("*.png"))
