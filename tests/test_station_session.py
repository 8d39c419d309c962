"""The enrollment session on the simulated devices, into a real office store: steps, quality
gating, overrides with reasons, exceptions, resume after an interruption, re-enrollment."""
import json

import numpy as np
import pytest

pytest.importorskip("cryptography")
from biocap.office import CaptureRecord, KeyRing, OfficeStore  # noqa: E402
from biocap.station.errors import PolicyError, SessionError, StoreConflict  # noqa: E402
from biocap.station.policy import parse_policy  # noqa: E402
from biocap.station.session import EnrollmentSession  # noqa: E402
from biocap.types import Modality, Sample  # noqa: E402

sim = pytest.importorskip("biocap_vendor_sim.testing")
from biocap_vendor_sim.sources import make_source  # noqa: E402

import biocap.builtin_plugin as builtin  # noqa: E402

# a small programme: one finger alone, the right slap, both irises, the face (no quality provider)
MINI = """
[programme]
name = "mini"
[attempts]
max = 2
[quality]
fingerprint = 20
iris = 20
face = 0
unscored = "operator"
[[step]]
id = "index-right"
modality = "fingerprint"
positions = [2]
[[step]]
id = "slap-right"
modality = "fingerprint"
positions = [13]
[[step]]
id = "irises"
modality = "iris"
positions = [1, 2]
[[step]]
id = "face"
modality = "face"
[checks]
verify_positions = [2]
[[exception]]
code = "XX"
modality = "fingerprint"
reason = "amputated"
"""


def _sdk(seed=5):
    sources = {"fingerprint": make_source("fingerprint-realistic", person=5),
               "iris": make_source("iris-synthetic"), "face": make_source("face-synthetic"),
               "signature": make_source("signature-synthetic")}
    sdk, _ = sim.sim_sdk(plugins=[builtin], seed=seed, sources=sources)
    return sdk


@pytest.fixture
def store(tmp_path):
    keys = KeyRing.create(tmp_path / "keys", "office-t")
    with OfficeStore(tmp_path / "office.db", keys=keys) as s:
        yield s


def _run(session, reason="operator checked", stop_after=None):
    steps = 0
    while session.next_step() is not None:
        if stop_after is not None and steps == stop_after:
            return
        outcome = session.capture(timeout_s=5)
        if not outcome.accepted:
            assert outcome.problems and all(p.message for p in outcome.problems)
            if outcome.can_override:
                session.override(reason)
        steps += 1
        assert steps < 30


@pytest.mark.slow
def test_whole_enrollment_resume_and_reenrollment(store):
    policy = parse_policy(MINI)
    sdk = _sdk()
    session = EnrollmentSession.begin(sdk, policy, store, "R-1", operator="ani",
                                      capture_type=CaptureRecord)
    _run(session, stop_after=2)  # "crash" after the finger alone and the slap
    stored_before = {c.step: c for c in store.captures(session.enrollment_id)}
    assert "slap-right" in stored_before and "index-right:2" in stored_before
    with pytest.raises(StoreConflict):
        EnrollmentSession.begin(sdk, policy, store, "R-1", operator="ani", capture_type=CaptureRecord)
    resumed = EnrollmentSession.resume(_sdk(seed=9), policy, store, "R-1", capture_type=CaptureRecord)
    assert resumed.enrollment_id == session.enrollment_id
    assert resumed.next_step().step.id == "irises"  # where it stopped
    _run(resumed)
    summary = resumed.finish()
    assert summary["complete"] is True
    record = store.record("R-1")
    steps = [c.step for c in record.captures]
    assert len(steps) == len(set(steps))  # nothing doubled
    for step, cap in stored_before.items():  # nothing lost or changed
        after = next(c for c in record.captures if c.step == step)
        assert np.array_equal(after.sample.image, cap.sample.image)
    fingers = {c.position for c in record.captures if c.step.startswith("slap-right:")}
    assert fingers == {2, 3, 4, 5}
    for c in record.captures:
        if c.modality is Modality.FINGERPRINT and c.step != "slap-right":
            assert "iso19794-2:2011" in c.templates  # the ISO record beside the image
        if c.modality is Modality.IRIS:
            assert "biocap-iris:IrisTemplate" in c.templates
        if c.modality is Modality.FACE:  # scored by the face quality, or accepted with a reason
            scored = c.quality is not None and c.quality.get("score") is not None
            assert scored or (c.override_reason and "unscored" in c.override_reason)
        if c.quality and c.quality.get("score") is not None and c.override_reason is None:
            assert c.quality["score"] >= policy.threshold(c.modality, c.position, slap=c.step.startswith("slap"))
    verify = [c for c in record.captures if c.step == "verify:2"]
    assert verify and verify[0].quality["verification"]["score"] > 0
    # a second enrollment of the same subject is a re-enrollment with history
    again = EnrollmentSession.begin(sdk, policy, store, "R-1", operator="budi",
                                    capture_type=CaptureRecord)
    assert again.enrollment_id != session.enrollment_id
    assert [h.enrollment_id for h in store.record("R-1").history] == [session.enrollment_id]


def _sample(modality, position, value=128):
    rng = np.random.default_rng(position)
    img = rng.integers(0, 256, (300, 300), dtype=np.uint8) if value is None else \
        np.full((300, 300), value, np.uint8)
    return Sample(img, 500, modality, position=position)


def test_low_quality_is_never_accepted_silently(store):
    policy = parse_policy(MINI)
    session = EnrollmentSession.begin(_sdk(), policy, store, "Q-1", operator="ani",
                                      capture_type=CaptureRecord, check_devices=False)
    flat = _sample(Modality.FINGERPRINT, 2)  # no ridges at all: quality ~0
    first = session.submit([flat])
    assert not first.accepted and first.quality[2] < 20 and not first.can_override
    with pytest.raises(SessionError, match="after 2 attempts"):
        session.override("looks fine")
    second = session.submit([flat])
    assert not second.accepted and second.can_override
    with pytest.raises(SessionError, match="reason"):
        session.override("  ")
    assert store.captures(session.enrollment_id) == []  # nothing stored yet
    done = session.override("subject has worn ridges")
    assert done.accepted
    [stored] = store.captures(session.enrollment_id)
    assert "worn ridges" in stored.override_reason and "quality" in stored.override_reason


def test_exceptions_need_policy_codes_and_end_an_incomplete_record(store):
    policy = parse_policy(MINI.replace('[checks]\nverify_positions = [2]', ''))
    session = EnrollmentSession.begin(_sdk(), policy, store, "E-1", operator="ani",
                                      capture_type=CaptureRecord, check_devices=False)
    with pytest.raises(PolicyError, match="not declared"):
        session.declare_exception(2, "ZZ", "lost")
    session.declare_exception(2, "XX", "amputated in 2019")
    assert session.next_step().step.id == "slap-right"
    with pytest.raises(SessionError, match="not finished"):
        session.finish()
    for p in (2, 3, 4, 5):
        session.declare_exception(p, "XX", None, step="slap-right")  # the policy's reason
    assert session.next_step().step.id == "irises"
    exc = {e.step: e for e in store.exceptions(session.enrollment_id)}
    assert exc["slap-right:3"].reason == "amputated" and exc["index-right:2"].code == "XX"


def test_record_show_json(store, tmp_path, capsys):
    from biocap.cli import main
    policy = parse_policy(MINI.replace('[checks]\nverify_positions = [2]', ''))
    session = EnrollmentSession.begin(_sdk(), policy, store, "J-1", operator="ani",
                                      capture_type=CaptureRecord, check_devices=False)
    session.declare_exception(2, "XX", "amputated")
    store.close()
    assert main(["record", "show", "J-1", "--store", str(tmp_path / "office.db"),
                 "--keys", str(tmp_path / "keys"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["complete"] is False and data["exceptions"][0]["code"] == "XX"
    assert data["captures"] == []


def test_cli_refuses_bad_exception_before_capture(tmp_path, capsys):
    from biocap.cli import main
    rc = main(["enroll", "--subject", "X", "--store", str(tmp_path / "o.db"),
               "--keys", str(tmp_path / "k"), "--exception", "5:QQ:lost"])
    assert rc == 2 and "not declared" in capsys.readouterr().err
    rc = main(["enroll", "--subject", "X", "--store", str(tmp_path / "o.db"),
               "--keys", str(tmp_path / "k"), "--exception", "5:XX:"])
    assert rc == 2 and "reason is empty" in capsys.readouterr().err
    assert not (tmp_path / "o.db").exists()


@pytest.mark.slow
def test_desk_duplicate_check_finds_the_same_person_under_another_id(store):
    """Two enrollments of one simulated person under two ids: the second is a duplicate."""
    # the finger alone and both irises (no slap: this test is about the person-level search)
    policy = parse_policy(MINI.replace('[checks]\nverify_positions = [2]', '[checks]\nduplicate_fmr = 1e-6')
                          .replace('[[step]]\nid = "slap-right"\nmodality = "fingerprint"\npositions = [13]\n', ''))
    assert [s.id for s in policy.steps] == ["index-right", "irises", "face"]
    first = EnrollmentSession.begin(_sdk(seed=3), policy, store, "D-1", operator="ani",
                                    capture_type=CaptureRecord)
    _run(first)
    assert first.finish()["duplicate_check"]["decision"] == "unique"  # an empty office
    second = EnrollmentSession.begin(_sdk(seed=4), policy, store, "D-2", operator="ani",
                                     capture_type=CaptureRecord)
    _run(second)
    check = second.finish()["duplicate_check"]
    assert check["residents_searched"] == 1
    assert check["decision"] == "duplicate" and check["matched"] == "D-1"


SLAP_ONLY = """
[programme]
name = "slap-only"
[attempts]
max = 1
[quality]
fingerprint = 0
[checks]
sequence = false
[[step]]
id = "slap-right"
modality = "fingerprint"
positions = [13]
"""


def test_a_crash_between_a_slaps_writes_is_repaired_from_the_stored_slap(store):
    from biocap_vendor_sim.slaps import compose_slap
    policy = parse_policy(SLAP_ONLY)
    session = EnrollmentSession.begin(_sdk(), policy, store, "C-1", operator="ani",
                                      capture_type=CaptureRecord, check_devices=False)
    image, _ = compose_slap(make_source("fingerprint-synthetic"), 13, np.random.default_rng(4))
    real_put, written = store.put_capture, []

    def power_cut_after_one_write(eid, capture):
        if written:
            raise KeyboardInterrupt("power cut")
        written.append(capture.step)
        real_put(eid, capture)

    store.put_capture = power_cut_after_one_write
    with pytest.raises(KeyboardInterrupt):
        outcome = session.submit([Sample(image, 500, Modality.FINGERPRINT, position=13)])
        if not outcome.accepted:
            session.override("test operator")
    store.put_capture = real_put
    assert written == ["slap-right"]  # the slap's own image is written first
    resumed = EnrollmentSession.resume(_sdk(), policy, store, "C-1", capture_type=CaptureRecord,
                                       check_devices=False)
    steps = {c.step: c for c in store.captures(resumed.enrollment_id)}
    assert {"slap-right:2", "slap-right:3", "slap-right:4", "slap-right:5"} <= set(steps)
    assert resumed.next_step() is None  # nothing to capture again
    assert steps["slap-right:3"].sample.metadata["segmented_from"] == 13
