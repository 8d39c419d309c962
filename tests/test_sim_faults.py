"""Every fault kind gives its documented biocap error, and the device recovers."""
import time

import pytest

from biocap.errors import (DeviceBusy, DeviceDisconnected, FirmwareBusy, NoPresentation,
                           ProtocolError, SubjectTimeout, TransferTimeout)
from biocap.types import CaptureRequest
from biocap_vendor_sim.faults import FaultSpecError, parse_faults
from biocap_vendor_sim.sources import make_source
from biocap_vendor_sim.testing import sim_sdk

SOURCES = {"fingerprint": make_source("fingerprint-synthetic")}


def _request(timeout=2.0):
    return CaptureRequest("fingerprint", positions=(2,), timeout_s=timeout)


def _sdk():
    return sim_sdk(seed=11, sources=SOURCES, modalities=("fingerprint",))


def _assert_recovers(sdk, backend):
    assert backend.claimed_interfaces() == {} and backend.open_handle_count() == 0
    with sdk.open("fingerprint") as dev:
        assert dev.capture(_request()).samples[0].image.shape == (500, 400)
    assert backend.claimed_interfaces() == {} and backend.open_handle_count() == 0


@pytest.mark.parametrize("fault, error", [
    ("unplug@3", DeviceDisconnected),          # mid-capture (during the frame transfer)
    ("unplug@9", DeviceDisconnected),          # during a chunk transfer
    ("busy@1*1000", FirmwareBusy),             # the firmware stays busy past the deadline
    ("corrupt@1*3", ProtocolError),            # beyond the driver's two chunk retries
    ("timeout@1*1000", TransferTimeout),       # persists past the deadline
    ("nopresent@1*1000", SubjectTimeout),
])
def test_fault_gives_its_documented_error_and_the_device_recovers(fault, error):
    sdk, backend = _sdk()
    with pytest.raises(error):
        with sdk.open("fingerprint") as dev:
            backend.set_faults("fingerprint", fault)
            dev.capture(_request(timeout=1.0))
    backend.set_faults("fingerprint", "")  # whatever is left of the fault is cleared
    _assert_recovers(sdk, backend)


@pytest.mark.parametrize("fault, retried", [
    ("timeout@2", "TransferTimeout"),
    ("slow@2", "TransferTimeout"),
    ("nopresent@1", "NoPresentation"),
])
def test_retryable_faults_are_retried_within_the_deadline(fault, retried):
    sdk, backend = _sdk()
    with sdk.open("fingerprint") as dev:
        backend.set_faults("fingerprint", fault)
        sample = dev.capture(_request()).samples[0]
    assert retried in sample.metadata["retried"]
    _assert_recovers(sdk, backend)


def test_one_corrupted_chunk_is_fetched_again():
    sdk, backend = _sdk()
    with sdk.open("fingerprint") as dev:
        backend.set_faults("fingerprint", "corrupt@1*2")
        sample = dev.capture(_request()).samples[0]
        assert not backend.device("fingerprint").faults.pending()
    assert sample.image.shape == (500, 400)


def test_slow_reply_arriving_late_is_discarded_not_mistaken():
    sdk, backend = _sdk()
    with sdk.open("fingerprint") as dev:
        backend.set_faults("fingerprint", "slow@2")
        with pytest.raises(TransferTimeout):
            _get_info(dev)
        time.sleep(0.35)  # the late reply is now waiting in the pipe
        info = _get_info(dev)  # answered correctly despite the stale reply queued first
    assert info["modality"] == "fingerprint"


def _get_info(dev):
    import json
    from biocap_vendor_sim import protocol as p
    return json.loads(dev.driver.command(p.Op.GET_INFO))


def test_poor_presentation_is_the_best_frame_at_timeout_with_low_device_quality():
    sdk, backend = _sdk()
    with sdk.open("fingerprint") as dev:
        good = dev.capture(_request()).samples[0].device_quality
        backend.set_faults("fingerprint", "poor@1")
        poor = dev.capture(_request()).samples[0].device_quality
    assert poor < good
    _assert_recovers(sdk, backend)


def test_unplug_mid_transfer_then_open_again():
    sdk, backend = _sdk()
    dev = sdk.open("fingerprint")
    backend.set_faults("fingerprint", "unplug@5")
    with pytest.raises(DeviceDisconnected, match="unplugged|gone"):
        dev.capture(_request())
    assert sdk.devices() == []  # gone from the bus while the dead handle is held
    dev.close()
    assert [d.modality.value for d in sdk.devices()] == ["fingerprint"]
    _assert_recovers(sdk, backend)


def test_second_open_of_a_claimed_device_is_busy_and_leaves_nothing_claimed():
    sdk, backend = _sdk()
    with sdk.open("fingerprint"):
        with pytest.raises(DeviceBusy):
            sdk.open("fingerprint")
        assert backend.open_handle_count() == 1
    assert backend.claimed_interfaces() == {} and backend.open_handle_count() == 0


def test_fault_at_open_is_reported_and_released():
    sdk, backend = sim_sdk(seed=1, sources=SOURCES, modalities=("fingerprint",),
                           faults="fingerprint=unplug@2")
    with pytest.raises(DeviceDisconnected):
        sdk.open("fingerprint")
    _assert_recovers(sdk, backend)


def test_no_presentation_error_type_is_retryable():
    assert issubclass(NoPresentation, Exception)
    sdk, backend = _sdk()
    with sdk.open("fingerprint") as dev:
        backend.set_faults("fingerprint", "nopresent@1*100")
        frames = list(dev.preview(_request(), max_frames=2))
    assert all(isinstance(f.error, NoPresentation) for f in frames)
    assert frames[0].hint


def test_fault_spec_parsing():
    plans = parse_faults("fingerprint=unplug@3;iris=timeout@1,corrupt@6*2")
    assert [(f.kind, f.at, f.count) for f in plans["iris"].faults] == [("timeout", 1, 1), ("corrupt", 6, 2)]
    for bad in ("fingerprint=explode@1", "toaster=unplug@1", "fingerprint=unplug@x", "fingerprint"):
        with pytest.raises(FaultSpecError):
            parse_faults(bad)
