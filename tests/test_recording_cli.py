"""`biocap devices/capture --usb-recording DIR`: the recorded NB-1010 through the whole CLI."""
from __future__ import annotations

import json

import cv2
import numpy as np

import biocap_nb1010  # noqa: F401  (the recorded sensor's driver)

from biocap import cli

from conftest import shared_or_none


# The research set's NB-1010 session when present; else the simulator session the tests record
# (conftest.sim_recording): then the recorded device must be listed as the live one describes
# itself, and capture exactly the live image (the NB-1010's reference is its capture.png).
NB1010 = shared_or_none("usb", "nb1010")


def test_devices_lists_the_recorded_sensor(sim_recording, capsys):
    if NB1010 is None:
        return _devices_lists_a_simulator_recording(sim_recording, capsys)
    assert cli.main(["devices", "--json", "--usb-recording", str(NB1010)]) == 0
    listed = {d["id"]: d for d in json.loads(capsys.readouterr().out)}
    info = listed["recording:nb1010:001-003"]
    assert (info["vendor_id"], info["product_id"], info["ppi"]) == ("298d", "1010", 385)
    assert info["model"] == "NB-1010-U" and info["image_size"] == [256, 180]


def _devices_lists_a_simulator_recording(sim_recording, capsys):
    assert cli.main(["devices", "--json", "--usb-recording", str(sim_recording[0])]) == 0
    listed = json.loads(capsys.readouterr().out)
    recorded = [d for d in listed if d["bus"] == "recording"]
    live = next(d for d in listed if d["bus"] == "sim" and d["driver"] == "sim-fingerprint")
    assert len(recorded) == 1 and recorded[0]["id"] == "recording:sim-fingerprint:001-002"
    strip = ("id", "bus")
    assert {k: v for k, v in recorded[0].items() if k not in strip} == \
        {k: v for k, v in live.items() if k not in strip}


def _capture_from_a_simulator_recording_writes_the_live_image(sim_recording, tmp_path, capsys):
    folder, live, _ = sim_recording
    code = cli.main(["capture", "recording:sim-fingerprint:001-002", "--usb-recording", str(folder),
                     "--out", str(tmp_path), "--position", "2", "--quality", "0", "--timeout", "3"])
    assert code == 0, capsys.readouterr().err
    images = sorted(tmp_path.glob("*.png"))
    assert len(images) == 1
    written = cv2.imread(str(images[0]), cv2.IMREAD_UNCHANGED)
    assert written.shape == live.image.shape and np.array_equal(written, live.image)
    sidecar = json.loads(images[0].with_suffix(".json").read_text())
    assert sidecar["ppi"] == live.ppi and sidecar["device"]["driver"] == "sim-fingerprint"


def test_capture_writes_the_reference_image(sim_recording, tmp_path, capsys):
    if NB1010 is None:
        return _capture_from_a_simulator_recording_writes_the_live_image(sim_recording, tmp_path, capsys)
    folder = NB1010
    code = cli.main(["capture", "recording:nb1010:001-003", "--usb-recording", str(folder),
                     "--out", str(tmp_path), "--quality", "0", "--timeout", "3"])
    assert code == 0, capsys.readouterr().err
    images = sorted(tmp_path.glob("*.png"))
    assert len(images) == 1
    written = cv2.imread(str(images[0]), cv2.IMREAD_UNCHANGED)
    reference = cv2.imread(str(folder / "capture.png"), cv2.IMREAD_COLOR)[:, :, 1]
    assert written.shape == reference.shape and np.array_equal(written, reference)
    sidecar = json.loads(images[0].with_suffix(".json").read_text())
    assert sidecar["ppi"] == 385 and sidecar["device"]["driver"] == "nb1010"


def test_capture_from_a_broken_recording_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "rec").mkdir()
    code = cli.main(["capture", "nb1010", "--usb-recording", str(tmp_path / "rec"),
                     "--out", str(tmp_path / "out")])
    assert code == 2 and "device" in capsys.readouterr().err
