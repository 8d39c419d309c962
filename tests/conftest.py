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
