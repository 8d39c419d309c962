"""`biocap office ...` end to end: init, export, verify, backup, restore, send, status; one-line errors."""
import json

import pytest

from biocap.cli import main
from biocap.office import KeyRing, OfficeStore

from office_helpers import enroll
from office_stub import StubCentre


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_office_cli_end_to_end(tmp_path, capsys, monkeypatch):
    keys, store = tmp_path / "keys", tmp_path / "office.db"
    code, out, _ = _run(capsys, "office", "init", "--keys", str(keys), "--office-id", "jkt-01",
                        "--store", str(store))
    assert code == 0 and out.strip().endswith("office-signing.pub")
    monkeypatch.setenv("BIOCAP_KEYS", str(keys))
    ring = KeyRing.load(keys)
    with OfficeStore(store, keys=ring) as s:
        enroll(s, "3201010101010001")
        enroll(s, "3201010101010002", seed=1)
    pkg = tmp_path / "p.an2"
    code, out, err = _run(capsys, "office", "export", "3201010101010001", "--store", str(store),
                          "--out", str(pkg))
    assert code == 0 and "package 1" in out and "signing" in err
    code, out, _ = _run(capsys, "office", "verify", str(pkg))
    assert code == 0 and "sound: package 1 of office jkt-01" in out
    bad = tmp_path / "bad.an2"
    data = bytearray(pkg.read_bytes())
    data[len(data) // 3] ^= 4
    bad.write_bytes(bytes(data))
    code, out, err = _run(capsys, "office", "verify", str(bad))
    assert code == 2 and err.count("\n") == 1 and "package refused" in err

    code, out, err = _run(capsys, "office", "backup", "--store", str(store), "--to", str(tmp_path / "b"))
    assert code == 0 and "verified" in out and "copying" in err
    code, out, _ = _run(capsys, "office", "verify", str(tmp_path / "b"))
    assert code == 0 and "sound: 2 enrollments" in out
    code, out, _ = _run(capsys, "office", "restore", str(tmp_path / "b"), "--store", str(tmp_path / "r.db"))
    assert code == 0 and "restored" in out
    code, _, err = _run(capsys, "office", "restore", str(tmp_path / "b"), "--store", str(store))
    assert code == 2 and "not empty" in err

    code, out, _ = _run(capsys, "office", "export", "3201010101010002", "--store", str(store),
                        "--out", str(tmp_path / "p2.an2"))
    with StubCentre({"jkt-01": ring.identity.public_key}) as centre:
        code, out, err = _run(capsys, "office", "send", "--store", str(store), "--to", centre.url)
        assert code == 0 and "accepted 2" in out
        code, out, _ = _run(capsys, "office", "status", "--store", str(store), "3201010101010001",
                            "--json", "--centre", centre.url)
    status = json.loads(out)
    assert status["status"] == "accepted" and status["centre_view"]["status"] == "enrolled"
    code, out, _ = _run(capsys, "office", "status", "--store", str(store))
    assert out.splitlines() == ["3201010101010001: accepted", "3201010101010002: accepted"]
    code, out, _ = _run(capsys, "office", "check", "--store", str(store))
    assert code == 0 and "sound" in out
    code, out, _ = _run(capsys, "office", "rotate-key", "--store", str(store))
    assert code == 0 and "store-2.key" in out
    # the centre's side: no office keys, only the office's public key
    monkeypatch.delenv("BIOCAP_KEYS")
    code, out, _ = _run(capsys, "office", "verify", str(pkg), "--trust",
                        f"jkt-01={keys / 'office-signing.pub'}")
    assert code == 0 and "sound" in out
    code, _, err = _run(capsys, "office", "verify", str(pkg), "--trust",
                        f"other={keys / 'office-signing.pub'}")
    assert code == 2 and "not a trusted office" in err


@pytest.mark.parametrize("argv, needle", [
    (["office", "status", "--store", "{tmp}/missing.db"], "does not exist"),
    (["office", "backup", "--store", "{tmp}/x.db", "--to", "{tmp}/b"], "does not exist"),
    (["office", "send", "--store", "{tmp}/x.db", "--to", "http://127.0.0.1:9"], "does not exist"),
    (["office", "verify", "{tmp}/nothing"], "not a backup"),
])
def test_office_cli_errors_are_one_line(tmp_path, capsys, monkeypatch, argv, needle):
    KeyRing.create(tmp_path / "keys", "o")
    monkeypatch.setenv("BIOCAP_KEYS", str(tmp_path / "keys"))
    code, _, err = _run(capsys, *[a.format(tmp=tmp_path) for a in argv])
    assert code == 2 and needle in err and err.count("\n") == 1


def test_office_cli_without_keys(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("BIOCAP_KEYS", raising=False)
    code, _, err = _run(capsys, "office", "init")
    assert code == 2 and "--keys" in err
    (tmp_path / "s.db").write_bytes(b"")
    code, _, err = _run(capsys, "office", "status", "--store", str(tmp_path / "s.db"))
    assert code == 2 and "BIOCAP_KEYS" in err
