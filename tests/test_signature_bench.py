"""Signature datasets (SVC2004 files, manifest layout) and the bench runner on generated data;
the simulated pad's captures pass the real quality gate."""
import csv
import json

import numpy as np
import pytest

from biocap.errors import InvalidDataError
from biocap.evaluation.bench_verify_signature import bench_verify_signature
from biocap.evaluation.datasets_signature import load_manifest, load_svc2004, read_svc2004
from biocap.synthetic.signature import genuine, make_signer, skilled_forgery
from biocap.types import CaptureRequest


def _write_csv(path, pen):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["t_ms", "x", "y", "pressure", "pen_down"])
        for row in zip(pen.t_ms, pen.x, pen.y, pen.pressure, pen.pen_down):
            w.writerow([row[0], row[1], row[2], row[3], int(row[4])])


def _write_svc(path, pen):
    rows = [f"{int(x)} {int(y)} {int(t)} {int(d)} 0 0 {int(p)}"
            for x, y, t, d, p in zip(pen.x, pen.y, pen.t_ms, pen.pen_down, pen.pressure)]
    path.write_text(f"{len(rows)}\n" + "\n".join(rows) + "\n")


@pytest.fixture(scope="module")
def manifest_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("sigs")
    rng = np.random.default_rng(0)
    lines = ["user,kind,path"]
    for u in range(4):
        s = make_signer(40 + u)
        for i in range(11):
            name = f"u{u}_g{i}.csv"
            _write_csv(root / name, genuine(s, rng).pen)
            lines.append(f"{u},genuine,{name}")
        for i in range(3):
            name = f"u{u}_f{i}.txt"
            _write_svc(root / name, skilled_forgery(s, rng).pen)
            lines.append(f"{u},skilled,{name}")
    (root / "manifest.csv").write_text("\n".join(lines) + "\n")
    return root


@pytest.mark.slow
def test_bench_on_a_generated_manifest(manifest_dir, tmp_path):
    users = load_manifest(manifest_dir)
    assert len(users) == 4 and len(users[0].genuine) == 11 and len(users[0].skilled) == 3
    r = bench_verify_signature(manifest_dir, "manifest", trials=1, plot=tmp_path / "det.png")
    for key in ("eer_skilled", "eer_random", "n_users", "compare_per_s", "fte", "reference"):
        assert key in r
    assert r["n_users"] == 4 and r["fte"] == 0.0 and r["compare_per_s"] > 0
    assert r["eer_random"] <= 0.05 and r["eer_skilled"] <= 0.2
    assert r["reference"]["eer_skilled"] is not None and (tmp_path / "det.png").exists()
    json.dumps(r)  # the CLI writes it as JSON


def test_cli_bench_verify_signature(manifest_dir, tmp_path, capsys):
    from biocap.cli import main
    out = tmp_path / "r.json"
    assert main(["bench", "verify", "--modality", "signature", "--dataset", str(manifest_dir),
                 "--layout", "manifest", "--json", str(out), "--limit", "3"]) == 0
    assert json.loads(out.read_text())["n_users"] == 3


def test_hostile_dataset_files(tmp_path):
    bad = tmp_path / "U1S1.TXT"
    for text in ("", "abc\n1 2 3 4 5 6 7\n", "3\n1 2 3 4 5 6 7\n", "1\n1 2 3\n", "1\n1 2 nan 1 0 0 5\n"):
        bad.write_text(text)
        with pytest.raises(InvalidDataError):
            read_svc2004(bad)
    with pytest.raises(InvalidDataError):
        load_svc2004(tmp_path / "missing")
    (tmp_path / "manifest.csv").write_text("user,kind,path\n1,genuine,../../etc/passwd\n")
    with pytest.raises(InvalidDataError, match="outside"):
        load_manifest(tmp_path)
    (tmp_path / "manifest.csv").write_text("user,kind,path\n1,maybe,a.csv\n")
    with pytest.raises(InvalidDataError, match="kind"):
        load_manifest(tmp_path)


def test_svc2004_reader(shared_data):
    root = shared_data / "signature" / "svc2004_task2"
    if not root.exists():
        pytest.skip("svc2004_task2 not in the shared data")
    users = load_svc2004(root, users=[3])
    assert len(users[0].genuine) == 20 and len(users[0].skilled) == 20
    pen = users[0].genuine[0]
    assert pen.azimuth is not None and pen.pen_down.any()


def test_simulated_pad_passes_the_real_quality_gate(monkeypatch):
    from biocap_vendor_sim.sources import make_source
    from biocap_vendor_sim.testing import sim_sdk
    import biocap.builtin_plugin as builtin
    sdk, _ = sim_sdk(seed=5, plugins=(builtin,),
                     sources={"signature": make_source("signature-realistic")})
    with sdk.open("signature") as dev:
        result = dev.capture(CaptureRequest("signature", quality_threshold=60, timeout_s=5))
    sample, report = result.samples[0], result.reports[0]
    assert sample.pen is not None and sample.metadata["pad"]["units_per_mm"] == 100.0
    assert report.provider == "biocap-signature-quality" and report.score >= 60
    assert not report.feedback
