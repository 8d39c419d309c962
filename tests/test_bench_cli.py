"""`biocap bench ...` as an integrator runs it, on a small dataset the test generates: stdout is
one JSON document, progress goes to stderr, `--plot` writes a PNG, and figures read back from
`--cache` are flagged as such (issue 16)."""
from __future__ import annotations

import json

import pytest

from biocap.cli import main

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def synthetic_fvc(tmp_path_factory):
    """4 synthetic fingers x 3 impressions in the FVC layout (<finger>_<impression>.png)."""
    from biocap.synthetic.fingerprint.dataset import generate_dataset

    out = tmp_path_factory.mktemp("synthetic_fvc")
    generate_dataset(out, fingers=4, impressions=3, seed=11)
    return out


def _bench(capsys, *argv):
    code = main(["bench", *map(str, argv)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out), captured.err  # stdout is nothing but the JSON


def test_verify_json_progress_plot_and_flagged_cache(synthetic_fvc, tmp_path, capsys):
    cache, plot = tmp_path / "cache", tmp_path / "det.png"
    first, err = _bench(capsys, "verify", "--modality", "fingerprint", "--dataset", synthetic_fvc,
                        "--ppi", 500, "--plot", plot, "--cache", cache)
    assert "extract" in err  # the progress bar's label, on stderr
    assert plot.read_bytes()[:8] == PNG and first["plot"] == str(plot)
    assert first["n_genuine"] == 4 * 3 and first["n_impostor"] == 6 * 9
    assert first["extract_ms_from_cache"] is False and "templates_cached_at" not in first
    assert list(cache.glob("templates-*.npz")) and not list(cache.glob("*.pkl"))
    second, _ = _bench(capsys, "verify", "--modality", "fingerprint", "--dataset", synthetic_fvc,
                       "--ppi", 500, "--cache", cache, "--no-progress")
    assert second["extract_ms_from_cache"] is True and second["templates_cached_at"]
    assert second["eer"] == first["eer"]  # the cached templates are the same templates
    third, _ = _bench(capsys, "verify", "--modality", "fingerprint", "--dataset", synthetic_fvc,
                      "--ppi", 500, "--no-progress")
    assert third["extract_ms_from_cache"] is False  # no --cache: nothing is read or kept


def test_search_json_and_cmc_plot(synthetic_fvc, tmp_path, capsys):
    plot = tmp_path / "cmc.png"
    out, _ = _bench(capsys, "search", "--modality", "fingerprint", "--dataset", synthetic_fvc,
                    "--ppi", 500, "--gallery-size", 30, "--probes", 4, "--plot", plot,
                    "--no-progress")
    assert out["gallery_size"] == 30 and out["n_probes"] == 4
    assert out["extract_ms_from_cache"] is False and out["exhaustive_scores_from_cache"] is False
    assert plot.read_bytes()[:8] == PNG


def test_quality_json_and_scatter_plot(synthetic_fvc, tmp_path, capsys):
    plot = tmp_path / "quality.png"
    out, _ = _bench(capsys, "quality", "--modality", "fingerprint", "--dataset", synthetic_fvc,
                    "--ppi", 500, "--matcher", "biocap", "--plot", plot, "--no-progress")
    assert out["n_images"] == 12 and plot.read_bytes()[:8] == PNG


def test_help_of_each_kind_lists_only_its_options(capsys):
    for kind, absent in (("verify", "--gallery-size"), ("quality", "--mate-impression"),
                         ("search", "--matcher")):
        with pytest.raises(SystemExit):
            main(["bench", kind, "--help"])
        assert absent not in capsys.readouterr().out


def test_a_corrupt_cache_file_is_not_loaded_as_code(synthetic_fvc, tmp_path, capsys):
    cache = tmp_path / "cache"
    _bench(capsys, "verify", "--modality", "fingerprint", "--dataset", synthetic_fvc, "--ppi", 500,
           "--cache", cache, "--no-progress", "--limit", 2)
    (path,) = cache.glob("templates-*.npz")
    import pickle

    path.write_bytes(pickle.dumps({"not": "templates"}))  # another process's hostile file
    out, _ = _bench(capsys, "verify", "--modality", "fingerprint", "--dataset", synthetic_fvc,
                    "--ppi", 500, "--cache", cache, "--no-progress", "--limit", 2)
    assert out["extract_ms_from_cache"] is False  # refused and extracted afresh
