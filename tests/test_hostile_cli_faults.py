"""Issue 17 items 7 and 8 through the CLI: simulated faults (BIOCAP_SIM_FAULTS) at open,
mid-capture and repeated give exit 0 after a retry or one clear error line and exit 2; a capture
that stays below the quality threshold is written but exits 3 with a warning.

Failed before: busy / timeout at open exited 2 (no retry during open); busy mid-capture exited 2
with "another program or handle holds the device"; a low-quality capture exited 0 silently.
"""
import pytest

import biocap_vendor_sim.plugin as sim_plugin
from biocap.cli import main

EXIT_LOW_QUALITY = 3  # biocap.cli.device_commands.EXIT_LOW_QUALITY


@pytest.fixture(autouse=True)
def fresh_bus(monkeypatch):
    monkeypatch.setattr(sim_plugin, "_shared", None)
    monkeypatch.setenv("BIOCAP_SIM_SOURCES", "fingerprint=fingerprint-synthetic")
    monkeypatch.setenv("BIOCAP_SIM_SEED", "3")


def _capture(tmp_path, monkeypatch, faults, *extra):
    monkeypatch.setattr(sim_plugin, "_shared", None)
    monkeypatch.setenv("BIOCAP_SIM_FAULTS", f"fingerprint={faults}")
    return main(["capture", "fingerprint", "--out", str(tmp_path), "--timeout", "1",
                 "--quality", "0", *extra])


# transfers 1-4 are the open (GET_INFO, RESET), 5+ the capture
# (the API tests in test_hostile_faults.py cover every kind x phase; here one of each outcome)
@pytest.mark.parametrize("faults, code", [
    ("slow@3", 0), ("busy@2", 0),                      # at open: retried
    ("busy@6", 0), ("corrupt@9*2", 0),                 # mid-capture: retried / re-fetched
    ("unplug@9", 2), ("corrupt@1*1000", 2),            # unrecoverable: one clear line
])
def test_fault_matrix_through_the_cli(tmp_path, monkeypatch, capsys, faults, code):
    assert _capture(tmp_path, monkeypatch, faults) == code
    err = capsys.readouterr().err
    if code:
        lines = [line for line in err.splitlines() if line.startswith("biocap: error")]
        assert len(lines) == 1 and "Traceback" not in err
        assert "another program" not in lines[0]
    else:
        assert list(tmp_path.glob("*.png"))


def test_repeated_firmware_busy_gives_the_calibrating_hint(tmp_path, monkeypatch, capsys):
    assert _capture(tmp_path, monkeypatch, "busy@5*1000") == 2
    err = capsys.readouterr().err
    assert "calibrating" in err and "another program" not in err


def test_low_quality_capture_is_not_silent(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BIOCAP_SIM_FAULTS", "fingerprint=poor@1*1000")
    code = main(["capture", "fingerprint", "--out", str(tmp_path), "--timeout", "0.5",
                 "--quality", "95"])
    err = capsys.readouterr().err
    assert code == EXIT_LOW_QUALITY and "below 95" in err
    assert list(tmp_path.glob("*.png"))  # kept on disk for the operator to judge
    monkeypatch.setattr(sim_plugin, "_shared", None)
    assert main(["capture", "fingerprint", "--out", str(tmp_path), "--timeout", "0.5",
                 "--quality", "95", "--accept-low-quality"]) == 0
