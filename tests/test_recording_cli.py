"""`biocap devices/capture --usb-recording DIR`: the recorded NB-1010 through the whole CLI."""
from __future__ import annotations

import json

import cv2
import numpy as np

import biocap_nb1010  # noqa: F401  (the recorded sensor's driver)

from biocap import cli


def test_devices_lists_the_recorded_sensor(shared_data, capsys):
    assert cli.main(["devices", "--json", "--usb-recording", str(shared_data / "usb" / "nb1010")]) == 0
    listed = {d["id"]: d for d in json.loads(capsys.readouterr().out)}
    info = listed["recording:nb1010:001-003"]
    assert (info["vendor_id"], info["product_id"], info["ppi"]) == ("298d", "1010", 385)
    assert info["model"] == "NB-1010-U" and info["image_size"] == [256, 180]


def test_capture_writes_the_reference_image(shared_data, tmp_path, capsys):
    folder = shared_data / "usb" / "nb1010"
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


def test_capture_from_a_broken_recording_is_a_clear_error(shared_data, tmp_path, capsys):
    (tmp_path / "rec").mkdir()
    code = cli.main(["capture", "nb1010", "--usb-recording", str(tmp_path / "rec"),
                     "--out", str(tmp_path / "out")])
    assert code == 2 and "device" in capsys.readouterr().err
