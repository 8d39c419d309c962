"""Issue 17 item 8: every simulated fault kind at open, mid-capture and repeated, through the API.

Before the fix: a timeout / slow answer / firmware busy during open was not retried (the open
failed); firmware busy raised DeviceBusy with the "another program holds the device" hint and was
not retried in a capture; after `corrupt@1*1000` then clearing the faults, queued corruptions made
the next captures fail.
"""
import time

import pytest

from biocap.errors import (BiocapError, DeviceBusy, DeviceDisconnected, FirmwareBusy,
                           ProtocolError, RetryableError, SubjectTimeout, TransferTimeout)
from biocap.types import CaptureRequest
from biocap_vendor_sim.faults import KINDS
from biocap_vendor_sim.sources import make_source
from biocap_vendor_sim.testing import sim_sdk

SOURCES = {"fingerprint": make_source("fingerprint-synthetic")}


def _request(timeout=1.0):
    return CaptureRequest("fingerprint", positions=(2,), timeout_s=timeout)


def _sdk(faults=None):
    return sim_sdk(seed=5, sources=SOURCES, modalities=("fingerprint",), faults=faults or {})


def _released(backend):
    return backend.claimed_interfaces() == {} and backend.open_handle_count() == 0


def _clean_capture_works(sdk, backend):
    """Faults cleared: the very next capture works at the first try, nothing left queued."""
    backend.set_faults("fingerprint", "")
    assert _released(backend)
    with sdk.open("fingerprint") as dev:
        sample = dev.capture(_request(2.0)).samples[0]
    assert sample.image.shape == (500, 400)
    assert sample.metadata["retried"] == []
    assert _released(backend)


# what an open with KIND@1 (the first transfer of the open) does: None = the open succeeds
AT_OPEN = {"unplug": DeviceDisconnected, "timeout": None, "stall": ProtocolError, "busy": None,
           "slow": None, "corrupt": None, "short": None, "nopresent": None, "poor": None}


@pytest.mark.parametrize("kind", KINDS)
def test_fault_at_open(kind):
    sdk, backend = _sdk(f"fingerprint={kind}@1")
    expected = AT_OPEN[kind]
    if expected is None:
        with sdk.open("fingerprint") as dev:
            result = dev.capture(_request(2.0))
        assert result.samples[0].image.shape == (500, 400)
    else:
        with pytest.raises(expected):
            sdk.open("fingerprint")
    assert _released(backend)
    _clean_capture_works(sdk, backend)


@pytest.mark.parametrize("kind", ["timeout", "busy", "slow"])
def test_repeated_fault_at_open_gives_up_retryable_and_bounded(kind, monkeypatch):
    from biocap_vendor_sim.drivers import SimDriver
    monkeypatch.setattr(SimDriver, "open_retry_s", 1.0)  # shorter than the 3 s default, for speed
    sdk, backend = _sdk(f"fingerprint={kind}@1*1000")
    t0 = time.monotonic()
    with pytest.raises(RetryableError) as exc:
        sdk.open("fingerprint")
    assert time.monotonic() - t0 < 3.0
    assert isinstance(exc.value, FirmwareBusy if kind == "busy" else TransferTimeout)
    assert _released(backend)
    _clean_capture_works(sdk, backend)


# mid-capture (K = 3: during the presentation polling / the frame), fault fires once
MID = {"unplug": DeviceDisconnected, "timeout": "TransferTimeout", "stall": ProtocolError,
       "busy": "FirmwareBusy", "slow": "TransferTimeout", "corrupt": None, "short": None,
       "nopresent": "NoPresentation", "poor": None}


@pytest.mark.parametrize("kind", KINDS)
def test_fault_mid_capture(kind):
    sdk, backend = _sdk()
    expected = MID[kind]
    with sdk.open("fingerprint") as dev:
        # K = 3 lands on the presentation polling; a presentation fault acts on the next ARM
        backend.set_faults("fingerprint", f"{kind}@{1 if kind in ('nopresent', 'poor') else 3}")
        if isinstance(expected, type):
            with pytest.raises(expected):
                dev.capture(_request(2.0))
        else:
            sample = dev.capture(_request(2.0)).samples[0]
            assert sample.image.shape == (500, 400)
            if expected:
                assert expected in sample.metadata["retried"]
    assert _released(backend)
    _clean_capture_works(sdk, backend)


# repeated from the next transfer on, far more often than any capture lasts
REPEATED = {"unplug": DeviceDisconnected, "timeout": TransferTimeout, "stall": ProtocolError,
            "busy": FirmwareBusy, "slow": TransferTimeout, "corrupt": ProtocolError,
            "short": ProtocolError, "nopresent": SubjectTimeout, "poor": None}


@pytest.mark.parametrize("kind", KINDS)
def test_fault_repeated(kind):
    sdk, backend = _sdk()
    expected = REPEATED[kind]
    t0 = time.monotonic()
    with sdk.open("fingerprint") as dev:
        backend.set_faults("fingerprint", f"{kind}@1*1000")
        if expected is None:
            result = dev.capture(_request(0.7))
            assert result.auto_captured == [False]
        else:
            with pytest.raises(expected):
                dev.capture(_request(0.7))
    assert time.monotonic() - t0 < 4.0  # bounded by the capture timeout plus one transfer
    assert _released(backend)
    _clean_capture_works(sdk, backend)


def test_firmware_busy_is_its_own_retryable_error_with_its_hint():
    assert issubclass(FirmwareBusy, RetryableError) and not issubclass(FirmwareBusy, DeviceBusy)
    sdk, backend = _sdk()
    with sdk.open("fingerprint") as dev:
        backend.set_faults("fingerprint", "busy@1*1000")
        with pytest.raises(FirmwareBusy) as exc:
            dev.capture(_request(0.5))
    assert "calibrating" in str(exc.value) and "another program" not in str(exc.value)
    assert isinstance(exc.value, BiocapError)


def test_clearing_faults_after_corrupt_leaves_no_queued_corruption():
    sdk, backend = _sdk()
    with sdk.open("fingerprint") as dev:
        backend.set_faults("fingerprint", "corrupt@1*1000")
        with pytest.raises(ProtocolError):
            dev.capture(_request(1.0))
        backend.set_faults("fingerprint", "")
        for _ in range(3):  # every following capture works (PROTOCOL.md: the next frame works)
            assert dev.capture(_request(2.0)).samples[0].metadata["retried"] == []
