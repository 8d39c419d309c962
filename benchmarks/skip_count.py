"""Count the tests a clone without ../shared skips, fast (issue 16): a pytest plugin.

    BIOCAP_DATA=/nonexistent PYTHONPATH=benchmarks .venv/bin/pytest -q -rs -p no:cacheprovider -p skip_count

Collection (importorskip, module-level skips) and every fixture's setup (the `shared_data`
fixture, helpers it calls) run for real; a test body runs only when its own source calls
`pytest.skip`/`importorskip`, otherwise it is replaced by a no-op. So the run reports the same
skips as a full `make test` without the data (in-body skips in helpers called from a test body
would be missed: there are none in tests/ today, `grep -n "pytest.skip(" tests/*.py`), in
minutes instead of the full suite's time. Test outcomes other than skips mean nothing here.
"""
import inspect

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    try:
        source = inspect.getsource(pyfuncitem.obj)
    except (OSError, TypeError):
        return None  # unknown source: run it
    if "pytest.skip(" in source or "importorskip" in source:
        return None
    return True  # the body is not run
