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
