"""Crash safety: kill -9 during enrollment writes, backups and sending (bounded; the benchmark
benchmarks/bench_office_crash.py runs >= 50 kills per phase)."""
import random

import pytest

from office_crash import crash_backups, crash_sending, crash_writes


@pytest.mark.slow
def test_kill_during_writes(tmp_path):
    result = crash_writes(tmp_path, 6, random.Random(1))
    assert result["problems"] == [] and result["acknowledged"] > 0, result


@pytest.mark.slow
def test_kill_during_backups(tmp_path):
    result = crash_backups(tmp_path, 4, random.Random(2))
    assert result["problems"] == [] and result["verified"] >= 1, result


@pytest.mark.slow
def test_kill_during_sending(tmp_path):
    result = crash_sending(tmp_path, 4, random.Random(3), packages=8)
    assert result["problems"] == [] and result["processed_once"] == 8, result
