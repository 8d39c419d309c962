"""Recordings the project makes itself: a simulated sensor's session recorded in umockdev's format
replays through the same driver, byte for byte, and passes the conformance kit. This is what a
vendor without the research data's NB-1010 recording uses (issue 16)."""
from __future__ import annotations

import stat

import numpy as np
import pytest

from biocap import CaptureRequest
from biocap.plugins.conformance import assert_conformant
from biocap.plugins.recording import (RecordingFormatError, RecordingMismatch, assert_consumed,
                                      load_recording, open_recording)
from biocap.plugins.recording.recorder import record_session
from biocap.sdk import SDK
from biocap_vendor_sim.drivers import SimFingerprintDriver
from biocap_vendor_sim.plugin import make_bus
from biocap_vendor_sim.testing import SimDriversPlugin


def _capture(bus, position=2):
    sdk = SDK(plugins=[SimDriversPlugin()], extra_buses=[bus], load_entry_points=False)
    with sdk.open("fingerprint") as device:
        result = device.capture(CaptureRequest("fingerprint", positions=(position,),
                                               quality_threshold=0))
    return result.samples[0]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sim-recording")
    live = {}
    record_session(make_bus("rec", seed=5, faults={}, modalities=("fingerprint",)), folder,
                   lambda bus: live.setdefault("sample", _capture(bus)))
    return folder, live["sample"]


def test_replay_gives_the_recorded_image_and_uses_every_transfer(recorded):
    folder, live = recorded
    bus = open_recording(folder, name="replay")
    replayed = _capture(bus)
    assert np.array_equal(replayed.image, live.image) and replayed.ppi == live.ppi
    assert_consumed(bus)


def test_recording_files_are_private_and_describe_the_device(recorded):
    folder, _ = recorded
    for name in ("device", "capture.ioctl"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600
    rec = load_recording(folder)
    assert rec.transfers and rec.device.attributes["product"].startswith("FS-500")


def test_a_driver_sending_something_else_is_caught(recorded):
    folder, _ = recorded
    with pytest.raises(RecordingMismatch):
        _capture(open_recording(folder), position=7)  # another finger: another request


def test_conformance_kit_on_the_recording(recorded):
    folder, _ = recorded
    report = assert_conformant(SimFingerprintDriver, lambda: open_recording(folder), position=2)
    assert report.passed


def test_nothing_recorded_is_refused(tmp_path):
    with pytest.raises(RecordingFormatError, match="nothing to record"):
        record_session(make_bus("rec", faults={}), tmp_path, lambda bus: None)
