import pytest

from biocap.evaluation.data import data_dir


@pytest.fixture(scope="session")
def shared_data():
    """The shared research data folder; tests that need it skip with a clear message if absent."""
    root = data_dir()
    if not root.exists():
        pytest.skip(f"shared data not found at {root} (set BIOCAP_DATA to its location)")
    return root
