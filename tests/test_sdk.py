"""SDK: discovery (entry points and code), plugin isolation, capture semantics, providers."""
import importlib.metadata

import numpy as np
import pytest

import biocap
from biocap.errors import DeviceError, NoProvider, NoSuchDevice, SubjectTimeout
from biocap.plugins import manager as manager_module
from biocap.plugins.hookspecs import hookimpl
from biocap.quality.report import Feedback, QualityReport
from biocap.types import CaptureRequest, Modality, Sample
from biocap_vendor_sim.sources import make_source
from biocap_vendor_sim.testing import sim_sdk

SOURCES = {m: make_source(f"{m}-synthetic") for m in ("fingerprint", "iris", "face", "signature")}


class ScriptedQuality:
    """A fingerprint quality provider whose scores follow a script (then repeat the last)."""

    name = "scripted"
    modality = Modality.FINGERPRINT

    def __init__(self, scores):
        self.scores = list(scores)
        self.calls = 0

    def assess(self, sample):
        score = self.scores[min(self.calls, len(self.scores) - 1)]
        self.calls += 1
        return QualityReport(Modality.FINGERPRINT, score, self.name,
                             feedback=[Feedback("low_pressure", "press harder")] if score < 50 else [])


class QualityPlugin:
    def __init__(self, provider):
        self.provider = provider

    @hookimpl
    def biocap_quality_providers(self):
        return [self.provider]


def _sdk(*plugins, **kw):
    return sim_sdk(seed=2, sources=SOURCES, plugins=plugins, **kw)


def test_sdk_is_exported_lazily():
    assert biocap.SDK is __import__("biocap.sdk", fromlist=["SDK"]).SDK


def test_discovery_through_installed_entry_points():
    sdk = biocap.SDK()
    assert "vendor_sim" in sdk.plugins.plugin_names
    sim = [d for d in sdk.devices() if d.bus == "sim"]
    assert sorted(d.modality.value for d in sim) == ["face", "fingerprint", "iris", "signature"]
    assert all(d.vendor and d.model and d.serial for d in sim)


def test_discovery_through_code_registration():
    sdk, _ = _sdk()
    assert sdk.plugins.plugin_names  # only what the code registered
    assert len(sdk.devices()) == 4
    bare = biocap.SDK(load_entry_points=False)
    assert [d for d in bare.devices() if d.bus == "sim"] == []


def test_broken_plugins_are_reported_by_name_and_break_nothing(monkeypatch):
    real = list(importlib.metadata.entry_points(group="biocap"))

    class BrokenEntryPoint:
        name = "broken-import"
        value = "no_such_module_xyz"
        group = "biocap"

        def load(self):
            raise ImportError("No module named 'no_such_module_xyz'")

    monkeypatch.setattr(manager_module, "entry_points", lambda group: real + [BrokenEntryPoint()])

    class RaisingPlugin:
        @hookimpl
        def biocap_drivers(self):
            raise RuntimeError("driver table corrupt")

        @hookimpl
        def biocap_quality_providers(self):
            return "not a list"

    sdk = biocap.SDK(plugins=[RaisingPlugin()])
    sim = [d for d in sdk.devices() if d.bus == "sim"]
    assert len(sim) == 4
    sdk.quality_provider("fingerprint")  # asks the hook that returns garbage
    text = "\n".join(map(str, sdk.problems))
    assert "broken-import" in text and "load" in text
    assert "'RaisingPlugin' failed at biocap_drivers" in text and "driver table corrupt" in text
    assert "must return a list" in text


def test_driver_failing_to_describe_is_isolated():
    from biocap_vendor_sim.drivers import SimFaceDriver

    class BadFace(SimFaceDriver):
        name = "bad-face"

        @classmethod
        def describe(cls, usb_device, bus):
            raise ValueError("cannot read descriptors")

    class Plugin:
        @hookimpl
        def biocap_drivers(self):
            return [BadFace]

    sdk, _ = sim_sdk(seed=0, sources=SOURCES, plugins=[])
    sdk.plugins._pm.unregister(name=sdk.plugins.plugin_names[0])  # drop the stock drivers
    sdk.register(Plugin())
    assert sdk.devices() == []
    assert any("bad-face" in str(p) and "cannot read descriptors" in str(p) for p in sdk.problems)


def test_open_by_id_modality_or_driver_and_clear_errors():
    sdk, _ = _sdk()
    infos = {d.modality.value: d for d in sdk.devices()}
    with sdk.open(infos["iris"].id) as dev:
        assert dev.info.modality is Modality.IRIS
    with sdk.open("sim-face") as dev:
        assert dev.info.modality is Modality.FACE
    with pytest.raises(NoSuchDevice, match="connected devices"):
        sdk.open("nothing-like-this")
    with sdk.open("face") as dev:
        with pytest.raises(DeviceError, match="captures face"):
            dev.capture(CaptureRequest("iris"))
    with sdk.open("iris") as dev:
        with pytest.raises(DeviceError, match="cannot capture position"):
            dev.capture(CaptureRequest("iris", positions=(7,)))


def test_ambiguous_name_lists_the_candidates():
    from biocap_vendor_sim import make_bus
    sdk, _ = _sdk()
    sdk.extra_buses.append(make_bus("sim2", faults={}, sources=SOURCES))
    with pytest.raises(NoSuchDevice, match="matches 2 devices"):
        sdk.open("fingerprint")


def test_auto_capture_as_soon_as_the_threshold_is_reached():
    provider = ScriptedQuality([10, 30, 70, 90])
    sdk, _ = _sdk(QualityPlugin(provider))
    with sdk.open("fingerprint") as dev:
        r = dev.capture(CaptureRequest("fingerprint", positions=(2,), quality_threshold=60, timeout_s=5))
    s, report = r.samples[0], r.reports[0]
    assert r.auto_captured == [True]
    assert report.score == 70 and s.metadata["sdk_quality"] == 70
    assert s.metadata["frames_seen"] == 3 and provider.calls == 3
    assert s.device_quality is not None  # the device's own score, reported apart


def test_best_frame_at_the_timeout():
    sdk, _ = _sdk(QualityPlugin(ScriptedQuality([10, 55, 20, 30])))
    with sdk.open("fingerprint") as dev:
        r = dev.capture(CaptureRequest("fingerprint", positions=(2,), quality_threshold=95, timeout_s=0.3))
    assert r.auto_captured == [False]
    assert r.reports[0].score == 55
    assert r.samples[0].metadata["frames_seen"] > 2


def test_attempts_give_further_tries():
    import time

    class LateQuality(ScriptedQuality):
        first = None

        def assess(self, sample):  # good only after the first attempt's window has closed
            now = time.monotonic()
            self.first = self.first or now
            self.scores = [99 if now - self.first > 0.2 else 10]
            return super().assess(sample)

    sdk, _ = _sdk(QualityPlugin(LateQuality([10])))
    with sdk.open("fingerprint") as dev:
        r = dev.capture(CaptureRequest("fingerprint", positions=(2,), quality_threshold=95,
                                       timeout_s=0.15, attempts=30))
    assert r.samples[0].metadata["attempt"] > 1


def test_without_a_quality_provider_the_report_says_so():
    sdk, _ = _sdk()
    with sdk.open("iris") as dev:
        r = dev.capture(CaptureRequest("iris", quality_threshold=100, timeout_s=2))
    assert len(r.samples) == 2
    for report in r.reports:
        assert report.score is None and "no quality provider" in report.reason
    assert r.samples[0].metadata["frames_seen"] == 1  # the first valid frame, no waiting


def test_missing_positions_are_reported_and_not_captured():
    sdk, _ = _sdk()
    with sdk.open("fingerprint") as dev:
        r = dev.capture(CaptureRequest("fingerprint", positions=(2, 7), missing={7: "amputated"}))
    assert [int(s.position) for s in r.samples] == [2]
    assert r.missing == {7: "amputated"}


def test_preview_frames_carry_quality_and_a_hint():
    sdk, _ = _sdk(QualityPlugin(ScriptedQuality([20, 40, 80])))
    with sdk.open("fingerprint") as dev:
        frames = list(dev.preview(CaptureRequest("fingerprint", positions=(2,), quality_threshold=60),
                                  max_frames=5))
    good = [f for f in frames if f.error is None]
    assert len(frames) == 5 and good
    assert good[0].hint == "press harder"
    assert good[-1].sdk_score == 80 and "ready" in good[-1].hint


def test_preview_without_provider_shows_device_quality():
    sdk, _ = _sdk()
    with sdk.open("face") as dev:
        frame = next(iter(dev.preview(max_frames=1)))
    assert frame.sdk_score is None and "device quality" in frame.hint


def test_subject_timeout_when_nothing_is_presented():
    sdk, backend = _sdk()
    with sdk.open("face") as dev:
        backend.set_faults("face", "nopresent@1*100")
        with pytest.raises(SubjectTimeout, match="no usable frame"):
            dev.capture(CaptureRequest("face", timeout_s=0.6))


def test_algorithm_dispatch_and_no_provider():
    sample = Sample(np.zeros((64, 64), np.uint8), 500, Modality.SIGNATURE)
    sdk, _ = _sdk()
    with pytest.raises(NoProvider, match="signature"):
        sdk.assess(sample)
    with pytest.raises(NoProvider, match="extractor"):
        sdk.extract(sample)
    with pytest.raises(NoProvider, match="comparator"):
        sdk.compare(object(), object(), modality="signature")

    class Matcher:
        name, modality = "m", Modality.SIGNATURE

        def extract(self, s):
            return ("tmpl", int(s.image.sum()))

        def compare(self, a, b):
            return 1.0 if a == b else 0.0

    class Plugin:
        @hookimpl
        def biocap_extractors(self):
            return [Matcher()]

        @hookimpl
        def biocap_comparators(self):
            return [Matcher()]

    sdk.register(Plugin())
    assert sdk.compare(sample, sample, modality="signature") == 1.0
    with pytest.raises(Exception):
        sdk.assess("not a sample")


def test_bad_arguments_raise_biocap_errors():
    from biocap.errors import BiocapError
    with pytest.raises(BiocapError, match="UsbBus"):
        biocap.SDK(extra_buses=["not a bus"], load_entry_points=False)
    sdk, _ = _sdk()
    with sdk.open("face") as dev:
        with pytest.raises(BiocapError, match="max_frames"):
            next(iter(dev.preview(max_frames=0)))
        with pytest.raises(BiocapError, match="CaptureRequest"):
            dev.capture("face")
    with pytest.raises(BiocapError, match="closed"):
        dev.capture(CaptureRequest("face"))
    with pytest.raises(NoSuchDevice):
        sdk.open(None)
