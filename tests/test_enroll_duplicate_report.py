"""`biocap enroll` tells the operator what the desk duplicate check found (it used to keep it in
the JSON summary only, and a person enrolled twice under two ids exited 0 in silence)."""
from biocap.cli.station_commands import DUPLICATE_EXIT, _duplicate_line


def test_duplicate_finding_is_printed_with_what_to_do():
    dup = {"decision": "duplicate", "matched": "3201-0001", "residents_searched": 12,
           "candidates": [{"id": "3201-0001", "score": 26.0}]}
    line = _duplicate_line(dup)
    assert "DUPLICATE of 3201-0001" in line and "do not issue a second card" in line
    adj = dict(dup, decision="adjudication", matched=None)
    assert "POSSIBLE DUPLICATE of 3201-0001" in _duplicate_line(adj) and "supervisor" in _duplicate_line(adj)
    assert "unique among this office's 12 residents" in _duplicate_line(dict(dup, decision="unique", candidates=[]))
    assert DUPLICATE_EXIT not in (0, 1, 2, 3)  # distinct from success, errors and "stays open"
