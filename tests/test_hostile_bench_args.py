"""Issue 17 item 9: benchmark command-line arguments are parsed, never evaluated as Python."""
import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "research" / "matching_fingerprint" / "iterate.py"


@pytest.fixture(scope="module")
def iterate():
    spec = importlib.util.spec_from_file_location("matching_fingerprint_iterate", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_code_in_an_argument_is_not_run(iterate, tmp_path):
    marker = tmp_path / "ran"
    payload = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    with pytest.raises(SystemExit):
        iterate.main([f"n_rel={payload}"])
    assert not marker.exists()


@pytest.mark.parametrize("text", ["np.pi", "().__class__", "open('x')", "lambda: 1", "2**10**10",
                                  "[x for x in ()]", "1/0"])
def test_refused_values(iterate, text):
    with pytest.raises(SystemExit):
        iterate.parse_value(text)


@pytest.mark.parametrize("text, value", [("5", 5), ("0.5", 0.5), ("-3", -3), ("(1, 2.5)", (1, 2.5))])
def test_accepted_values(iterate, text, value):
    assert iterate.parse_value(text) == value


def test_pi_arithmetic(iterate):
    import math
    assert iterate.parse_value("pi/8") == pytest.approx(math.pi / 8)
    assert iterate.parse_value("2*pi") == pytest.approx(2 * math.pi)
