"""Two drivers claiming one USB device: reported, never silent, and the choice is the user's."""
from __future__ import annotations

from biocap.cli.plugin_commands import driver_conflicts
from biocap.plugins.hookspecs import hookimpl
from biocap_vendor_sim.drivers import SimFingerprintDriver
from biocap_vendor_sim.testing import sim_sdk


class ImpostorDriver(SimFingerprintDriver):
    """A third party's driver with the simulator's fingerprint id table."""

    name = "other-vendor-fingerprint"


class ImpostorPlugin:
    @hookimpl
    def biocap_drivers(self):
        return [ImpostorDriver]


def _fingerprint_devices(sdk):
    return [d for d in sdk.devices() if d.modality.value == "fingerprint"]


def test_conflict_is_reported_and_one_driver_is_used():
    sdk, _ = sim_sdk(plugins=[ImpostorPlugin()])
    devices = _fingerprint_devices(sdk)
    assert len(devices) == 1  # one device, one driver: never listed twice
    conflicts = [p for p in sdk.problems if p.stage == "driver conflict"]
    assert len(conflicts) == 1
    text = str(conflicts[0])
    assert "sim-fingerprint" in text and "other-vendor-fingerprint" in text
    assert "BIOCAP_PREFER_DRIVERS" in text


def test_preference_chooses_the_driver(monkeypatch):
    sdk, _ = sim_sdk(plugins=[ImpostorPlugin()])
    for name in ("sim-fingerprint", "other-vendor-fingerprint"):
        sdk.prefer_drivers = (name,)
        assert _fingerprint_devices(sdk)[0].driver == name
    monkeypatch.setenv("BIOCAP_PREFER_DRIVERS", "other-vendor-fingerprint")
    sdk2, _ = sim_sdk(plugins=[ImpostorPlugin()])
    assert _fingerprint_devices(sdk2)[0].driver == "other-vendor-fingerprint"
    assert "chosen by the driver preference" in str(
        [p for p in sdk2.problems if p.stage == "driver conflict"][0])


def test_no_conflict_no_problem():
    sdk, _ = sim_sdk()
    sdk.devices()
    assert not [p for p in sdk.problems if p.stage == "driver conflict"]


def test_plugins_command_lists_id_table_overlaps():
    lines = driver_conflicts([SimFingerprintDriver, ImpostorDriver])
    assert len(lines) == len(SimFingerprintDriver.usb_ids)
    assert all("sim-fingerprint" in line and "other-vendor-fingerprint" in line for line in lines)
    assert driver_conflicts([SimFingerprintDriver]) == []
