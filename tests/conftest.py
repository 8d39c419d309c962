import pytest

from biocap.evaluation.data import data_dir


@pytest.fixture(scope="session")
def shared_data():
    """The shared research data folder; tests that need it skip with a clear message if absent."""
    root = data_dir()
    if not root.exists():
        pytest.skip(f"shared data not found at {root} (set BIOCAP_DATA to its location)")
    return root


#: per-test limits: the default (pyproject `timeout`) for ordinary tests, this for `slow` ones
SLOW_TIMEOUT_S = 900


def pytest_collection_modifyitems(config, items):
    """`@pytest.mark.slow` tests still run, with a longer time limit than the others."""
    for item in items:
        if item.get_closest_marker("slow") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT_S))


def shared_or_none(*parts):
    """The shared data path if the research data is there, else None (the caller generates)."""
    path = data_dir().joinpath(*parts)
    return path if path.exists() else None


def shared_cases(cases, *parts):
    """`cases` when the research data at `parts` is there, else none. A test parametrised over
    generated cases + shared_cases(...) always runs on the generated ones and also compares with
    the public set where it exists; without the data nothing is collected to skip."""
    return list(cases) if shared_or_none(*parts) is not None else []


@pytest.fixture(scope="session")
def synthetic_eyes():
    """Generated NIR eyes with ground truth (`biocap.synthetic.iris`): 3 eyes x 3 captures,
    {(eye, capture): (image, truth)}; made once per session (about 3 s)."""
    from biocap.synthetic.iris.eye import eye_dataset
    return {(e, k): (img, truth) for e, k, img, truth in eye_dataset(3, 3, seed=16)}


@pytest.fixture(scope="session")
def synthetic_prints():
    """Generated fingerprints (`biocap.synthetic.fingerprint`, optical sensor profile, 500 ppi):
    fingers 3 and 6 of seed 16, impressions 1-2 (FVC2002's "normal" condition) each;
    {(finger, impression): grey image}. Made once per session: a rendered master costs seconds
    on a busy machine, so only two fingers. All four have quality 60-66 and no feedback."""
    from biocap.synthetic.fingerprint.dataset import impressions_of_finger
    from biocap.synthetic.fingerprint.sensors import sensor_profile
    profile = sensor_profile("optical")
    return {(f, k): imp.image for f in (3, 6)
            for k, imp in impressions_of_finger(16, f, 2, profile)}


def _sim_capture(bus, position=2):
    from biocap import CaptureRequest
    from biocap.sdk import SDK
    from biocap_vendor_sim.testing import SimDriversPlugin
    sdk = SDK(plugins=[SimDriversPlugin()], extra_buses=[bus], load_entry_points=False)
    with sdk.open("fingerprint") as device:
        return device.capture(CaptureRequest("fingerprint", positions=(position,),
                                             quality_threshold=0)).samples[0]


@pytest.fixture(scope="session")
def sim_recording(tmp_path_factory):
    """A recording the tests make themselves: one fingerprint capture on the simulator's FS-500
    (`biocap_vendor_sim`), recorded in umockdev's format (docs/writing-a-driver.md section 0).
    (folder, live sample, live bus factory)."""
    from biocap.plugins.recording.recorder import record_session
    from biocap_vendor_sim.plugin import make_bus

    def live_bus():
        return make_bus("rec", seed=5, faults={}, modalities=("fingerprint",))

    folder = tmp_path_factory.mktemp("sim-recording")
    got = {}
    record_session(live_bus(), folder, lambda bus: got.setdefault("sample", _sim_capture(bus)))
    return folder, got["sample"], live_bus


@pytest.fixture(scope="session")
def fvc_db1(tmp_path_factory):
    """An FVC2002-layout folder (`<finger>_<impression>` images, 8 impressions a finger, 500
    ppi): the research set's DB1_B when present, else 2 generated fingers x 8 impressions
    (`biocap.synthetic.fingerprint.dataset.generate_dataset`, FVC2002's conditions per
    impression, numbered from 1; ground truth in .json sidecars that the layout skips)."""
    path = shared_or_none("fingerprint", "fvc2002_db1_b")
    if path is not None:
        return path, ("101", "102")
    from biocap.synthetic.fingerprint.dataset import generate_dataset
    out = tmp_path_factory.mktemp("fvc-synthetic")
    generate_dataset(out, fingers=2, impressions=8, seed=16)
    return out, ("1", "2")
