import pytest

from biocap.evaluation.data import data_dir


@pytest.fixture(scope="session")
def shared_data():
    """The shared research data folder; tests that need it skip with a clear message if absent."""
    root = data_dir()
    if not root.exists():
        pytest.skip(f"shared data not found at {root} (set BIOCAP_DATA to its location)")
    return root


def shared_or_none(*parts):
    """The shared data path if the research data is there, else None (the caller generates)."""
    path = data_dir().joinpath(*parts)
    return path if path.exists() else None


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
