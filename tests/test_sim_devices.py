"""Capture on each simulated device, descriptors, sources, determinism."""
import numpy as np
import pytest
import usb.util

from biocap.types import CaptureRequest, FingerPosition, IrisPosition, Modality
from biocap_vendor_sim import make_bus
from biocap_vendor_sim.sources import (available_sources, default_source, make_source,
                                       register_source)
from biocap_vendor_sim.testing import sim_sdk

SYNTHETIC = {m: make_source(f"{m}-synthetic") for m in ("fingerprint", "iris", "face", "signature")}


def test_four_devices_with_their_own_descriptors_and_strings():
    bus = make_bus(faults={}, sources=SYNTHETIC)
    seen = {}
    for dev in bus.find_all():
        seen[(dev.idVendor, dev.idProduct)] = (usb.util.get_string(dev, dev.iManufacturer),
                                               dev.product, dev.serial_number)
        cfg = dev[0]
        eps = [ep.bEndpointAddress for ep in cfg[(0, 0)]]
        assert eps == [0x01, 0x82]
        usb.util.dispose_resources(dev)
    assert sorted(pid for _, pid in seen) == [1, 2, 3, 4]
    assert len({vid for vid, _ in seen}) == 1
    assert all(m == "Biocap Simulated Sensors" for m, _, _ in seen.values())
    assert len({s for _, _, s in seen.values()}) == 4
    assert bus.backend.open_handle_count() == 0


@pytest.fixture
def synthetic_sdk():
    return sim_sdk(seed=3, sources=SYNTHETIC)


def test_fingerprint_single_and_slaps(synthetic_sdk):
    sdk, backend = synthetic_sdk
    with sdk.open("fingerprint") as dev:
        r = dev.capture(CaptureRequest("fingerprint", positions=(2, 7), timeout_s=3))
        assert [s.position for s in r.samples] == [FingerPosition.RIGHT_INDEX, FingerPosition.LEFT_INDEX]
        for s in r.samples:
            assert s.image.shape == (500, 400) and s.image.dtype == np.uint8 and s.ppi == 500
            assert 0 <= s.device_quality <= 100
            assert s.device.id == dev.info.id
        slaps = dev.capture(CaptureRequest("fingerprint", positions=(13, 14, 15), timeout_s=3))
        assert [s.image.shape for s in slaps.samples] == [(1000, 1600)] * 3
        # four fingers show as four dark blobs side by side in a 4-finger slap
        cols = (slaps.samples[0].image < 230).sum(axis=0)
        occupied = [cols[i * 400:(i + 1) * 400].sum() for i in range(4)]
        assert min(occupied) > 0
    assert backend.claimed_interfaces() == {}


def test_dual_iris_captures_both_eyes_at_once(synthetic_sdk):
    sdk, _ = synthetic_sdk
    with sdk.open("iris") as dev:
        r = dev.capture(CaptureRequest("iris", positions=(1, 2), timeout_s=3))
        assert [s.position for s in r.samples] == [IrisPosition.RIGHT, IrisPosition.LEFT]
        assert r.samples[0].metadata["frame"] == r.samples[1].metadata["frame"]  # one shot
        assert not np.array_equal(r.samples[0].image, r.samples[1].image)
        one = dev.capture(CaptureRequest("iris", positions=(2,), timeout_s=3))
        assert [s.position for s in one.samples] == [IrisPosition.LEFT]


def test_face_and_signature(synthetic_sdk):
    sdk, _ = synthetic_sdk
    with sdk.open("face") as dev:
        face = dev.capture(CaptureRequest("face", timeout_s=3)).samples[0]
        assert face.image.shape == (480, 640) and face.modality is Modality.FACE
    with sdk.open("signature") as dev:
        sig = dev.capture(CaptureRequest("signature", timeout_s=3)).samples[0]
    assert sig.pen is not None and len(sig.pen) > 50
    assert np.all(np.diff(sig.pen.t_ms) >= 0)
    assert sig.image.shape == (300, 600) and (sig.image < 128).sum() > 200  # ink was rendered


def test_captures_vary_but_a_seed_reproduces_them():
    def grab(seed):
        sdk, _ = sim_sdk(seed=seed, sources=SYNTHETIC, modalities=("fingerprint",))
        with sdk.open("fingerprint") as dev:
            return [dev.capture(CaptureRequest("fingerprint", positions=(2,), timeout_s=3)).samples[0].image
                    for _ in range(2)]
    a, b = grab(5), grab(5)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], a[1])  # each presentation is varied


def test_real_data_sources(shared_data):
    for modality in ("fingerprint", "iris", "face", "signature"):
        src = make_source(f"{modality}-data")
        s = src.next_sample(2 if modality != "face" else 0, np.random.default_rng(0))
        assert (s.image is not None) or (s.pen is not None)
        assert s.label
    sdk, _ = sim_sdk(seed=1, modalities=("fingerprint",))
    with sdk.open("fingerprint") as dev:
        s = dev.capture(CaptureRequest("fingerprint", positions=(2,), timeout_s=3)).samples[0]
    assert s.metadata["source"] == "fingerprint-data"


def test_source_registry_takes_a_new_source_and_env_choice(monkeypatch):
    class Flat:
        name = "fingerprint-flat-test"
        modality = "fingerprint"

        def next_sample(self, position, rng):
            from biocap_vendor_sim.sources import SourceSample
            return SourceSample(np.full((300, 300), 100, np.uint8), 500, label="flat")

    register_source("fingerprint-flat-test", Flat)
    assert "fingerprint-flat-test" in available_sources()
    monkeypatch.setenv("BIOCAP_SIM_SOURCES", "fingerprint=fingerprint-flat-test")
    assert default_source("fingerprint").name == "fingerprint-flat-test"
    monkeypatch.setenv("BIOCAP_SIM_SOURCES", "fingerprint=no-such-source")
    with pytest.raises(ValueError, match="no sample source"):
        default_source("fingerprint")
    monkeypatch.setenv("BIOCAP_SIM_SOURCES", "garbage")
    with pytest.raises(ValueError, match="cannot read"):
        default_source("fingerprint")


def test_image_folder_source(tmp_path):
    import cv2
    for person in ("a", "b"):
        (tmp_path / person).mkdir()
        for i in range(2):
            cv2.imwrite(str(tmp_path / person / f"{i}.png"), np.full((40, 40), 10 * i + (person == "b") * 100, np.uint8))
    src = make_source("image-folder", modality="face", path=tmp_path, ppi=100)
    rng = np.random.default_rng(0)
    assert src.next_sample(0, rng).image.max() < 100 <= src.next_sample(1, rng).image.min()
    with pytest.raises(FileNotFoundError):
        make_source("image-folder", modality="face", path=tmp_path / "a" / "none", ppi=100)
    with pytest.raises(ValueError):
        make_source("image-folder", modality="face", path=tmp_path, ppi=0)
