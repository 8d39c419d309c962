"""`biocap bench verify --modality fingerprint`: 1:1 accuracy and speed, optionally beside NBIS.

Protocol ("FVC, all impostors"): every unordered pair of items once; genuine when both are of
the same finger. A failure to enrol (extraction failed, or fewer than `MIN_MINUTIAE` minutiae, or
no usable cylinder) stays in the protocol with the lowest score for every comparison it is part
of, as FVC counts it, and is reported as `fte` (fraction of items).

A dataset is a folder of images (`.tif .png .bmp .jpg .pgm .wsq` ...) or of minutiae records
(ISO/IEC 19794-2, ANSI INCITS 378: any other extension, decoded by
`biocap.templates.formats.decode`), in any layout of `biocap.evaluation.datasets`. Without
`--dataset` the four FVC2002 B sets of the shared data are measured at their true resolutions
and the top-level figures are their means (per set under `sets`).

Extractor: biocap's own (`biocap.templates.fingerprint.extract_template`); `extractor="nbis"`
(`--extractor nbis`) feeds the matcher mindtct's minutiae instead (NBIS extraction + biocap
matching). With `cache` (`--cache DIR`) extracted templates are kept there
(`template_cache`, keyed by the extractor's source files) and reused; figures read from the
cache are flagged (`extract_ms_from_cache`).

Speed is CPU time of this process (`time.process_time`), so it is per core whatever else runs:
`compare_per_s` is bulk throughput (each probe against the whole set in one batch, how 1:1
matching runs in bulk and inside 1:N), `compare_per_s_protocol` the triangular all-pairs run
(batches shrink to one at its end), `compare_per_s_single` one `compare()` call per pair.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BiocapError, InvalidDataError
from ..matching.fingerprint import mcc
from ..matching.fingerprint.comparator import FingerprintComparator
from ..matching.fingerprint.matcher import as_template
from . import template_cache
from .data import data_path
from .datasets import Item, all_pairs, load_layout
from .metrics import error_rates
from .options import BenchOptions
from .progress import progress

IMAGE_EXTS = {".tif", ".tiff", ".png", ".bmp", ".jpg", ".jpeg", ".pgm", ".ppm", ".gif", ".wsq"}
FVC_SETS = (("fvc2002_db1_b", 500.0), ("fvc2002_db2_b", 569.0), ("fvc2002_db3_b", 500.0),
            ("fvc2002_db4_b", 500.0))

@dataclass
class DatasetSpec:
    name: str
    root: Path
    ppi: float | None
    layout: str


@dataclass
class TemplateSet:
    """One dataset's items and templates (None = extraction failed), with extraction times."""

    name: str
    items: list[Item]
    templates: list[Any]
    ms: list[float]
    cached_at: str | None = None  # when the templates and times came from the cache: written at


def default_sets(options: BenchOptions) -> list[DatasetSpec]:
    if options.dataset:
        return [DatasetSpec(Path(options.dataset).name, Path(options.dataset), options.ppi,
                            options.layout or "fvc")]
    return [DatasetSpec(n, data_path("fingerprint", n), ppi, "fvc") for n, ppi in FVC_SETS]


def _limit(items: list[Item], limit: int | None) -> list[Item]:
    if not limit:
        return items
    keep = sorted({it.subject for it in items})[:int(limit)]
    return [it for it in items if it.subject in set(keep)]


def _extractor_key(name: str) -> str:
    if name == "nbis":
        return "nbis"
    src = Path(__file__).resolve().parents[1] / "templates" / "fingerprint"
    h = hashlib.sha1()
    for p in sorted(src.glob("*.py")):
        h.update(p.name.encode() + p.read_bytes())
    return "biocap-" + h.hexdigest()[:12]


def _read_image(path: Path) -> np.ndarray:
    if path.suffix.lower() == ".wsq":
        raise InvalidDataError(f"{path}: WSQ images are not read by biocap",
                               hint="convert them to PNG first (e.g. NBIS dwsq)")
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise InvalidDataError(f"cannot read image {path}")
    return img


def _extract_one(path: Path, ppi: float | None, extractor: str, nbis_ref=None):
    """(template or None, milliseconds)."""
    if path.suffix.lower() not in IMAGE_EXTS:  # a minutiae record
        t0 = time.perf_counter()
        try:
            tpl = as_template(path.read_bytes())
        except BiocapError:
            tpl = None
        return tpl, 1000 * (time.perf_counter() - t0)
    if ppi is None:
        raise InvalidDataError("--ppi is required for a dataset of images",
                               hint="give the sensor's resolution, e.g. --ppi 500")
    img = _read_image(path)
    t0 = time.process_time()
    try:
        if extractor == "nbis":
            tpl = nbis_ref.extract(img, ppi).template
        else:
            from ..templates.fingerprint import extract_template
            from ..types import Modality, Sample

            tpl = extract_template(Sample(img, ppi, Modality.FINGERPRINT))
    except BiocapError:
        tpl = None
    return tpl, 1000 * (time.process_time() - t0)


def load_templates(spec: DatasetSpec, options: BenchOptions) -> TemplateSet:
    """Items, templates (None = failed) and extraction ms per image of one dataset; from
    `options.cache` when it holds them for this data and extractor code."""
    items = _limit(load_layout(spec.root, spec.layout), options.limit)
    extractor = options.extractor
    cache = None
    if options.cache:
        key = template_cache.cache_key(str(spec.root), spec.ppi, spec.layout,
                                       [str(i.path) for i in items], _extractor_key(extractor))
        cache = Path(options.cache) / f"templates-{spec.name}-{key}.npz"
        hit = template_cache.load(cache, len(items))
        if hit is not None:
            templates, ms, written = hit
            return TemplateSet(spec.name, items, templates, ms, cached_at=written)
    ref = None
    if extractor == "nbis":
        from .nbis_reference import NbisReference

        ref = NbisReference()
    templates, ms = [], []
    for it in progress(items, desc=f"extract {spec.name}", enabled=options.progress):
        t, m = _extract_one(it.path, spec.ppi, extractor, ref)
        templates.append(t)
        ms.append(m)
    if cache is not None:
        template_cache.save(cache, templates, ms)
    return TemplateSet(spec.name, items, templates, ms)


def _scores_ours(cmp: FingerprintComparator, templates: list, items: list[Item], show: bool):
    enc = [cmp.encode(t) if t is not None else None for t in templates]
    ok = np.array([e is not None and e.enrollable for e in enc])
    stand_in = next((e for e in enc if e is not None), None)
    if stand_in is None:
        raise InvalidDataError("no template of the dataset could be made")
    enc = [e if e is not None else stand_in for e in enc]
    prep = cmp.prepare_many(enc)
    n = len(enc)
    scores = np.zeros((n, n), np.float32)
    t0 = time.process_time()
    for i in progress(range(n - 1), desc="compare", enabled=show):
        if ok[i]:
            sub = mcc._slice(prep, slice(i + 1, n))
            scores[i, i + 1:] = cmp.compare_prepared(enc[i], sub, ok[i + 1:])
    cpu = time.process_time() - t0
    n_cmp = n * (n - 1) // 2
    # bulk throughput: each probe against the whole set in one batch (how 1:1 matching runs in
    # bulk and inside 1:N); the triangular protocol above ends with tiny batches
    t0 = time.process_time()
    for i in range(n):
        cmp.compare_prepared(enc[i], prep)
    bulk = n * n / max(time.process_time() - t0, 1e-9)
    # one compare() call per pair, on a sample
    rng = np.random.default_rng(0)
    sample = rng.integers(0, n, size=(min(200, n_cmp), 2))
    t0 = time.process_time()
    for a, b in sample:
        cmp.compare(enc[a], enc[b])
    single = len(sample) / max(time.process_time() - t0, 1e-9)
    return scores, ok, bulk, n_cmp / max(cpu, 1e-9), single


def _scores_nbis(items: list[Item], ppi: float | None, show: bool):
    from .nbis_reference import NbisReference

    ref = NbisReference()
    res, ms = [], []
    for it in progress(items, desc="NBIS mindtct", enabled=show):
        img = _read_image(it.path)
        t0 = time.process_time()
        try:
            r = ref.extract(img, ppi or 500.0)
        except BiocapError:
            r = None
        ms.append(1000 * (time.process_time() - t0))
        res.append(r)
    n = len(res)
    ok = np.array([r is not None and len(r.template) >= 1 for r in res])
    scores = np.zeros((n, n), np.float32)
    times = []
    for i in progress(range(n - 1), desc="NBIS bozorth3", enabled=show):
        for j in range(i + 1, n):
            if ok[i] and ok[j]:
                t0 = time.process_time()
                scores[i, j] = ref.compare(res[i], res[j])
                times.append(time.process_time() - t0)
    cpu = float(np.sum(times))
    return scores, ok, ms, len(times) / max(cpu, 1e-9), times, res


def nbis_record(template, record_format: str = "iso19794-2:2011") -> bytes:
    """The record another reader gets from biocap: the template written by biocap's own
    `record_format` encoder, read back, then put in the ISO/IEC 19794-2:2005 dialect that NBIS's
    loader reads (the minutiae bytes are written by the same code in both)."""
    from ..templates.formats import FingerprintRecord, decode, encode
    from ..templates.formats.iso19794_2_2005 import encode_nbis

    data = encode(FingerprintRecord(format=record_format, views=[template]), record_format)
    return encode_nbis(decode(data).views[0])


def _scores_bozorth3_on_records(templates: list, show: bool):
    """bozorth3 on biocap's ISO records (what another vendor's reader gets): scores, ok, per_s."""
    from .nbis_reference import NbisReference

    ref = NbisReference()
    loader = ref._extractor(None)
    loaded = []
    for t in templates:
        try:
            loaded.append(loader.load_iso_19794_2_2005(nbis_record(t))
                          if t is not None and len(t) else None)
        except (BiocapError, ref._nbis.NbisError, ref._nbis.InternalError):
            loaded.append(None)
    n = len(loaded)
    ok = np.array([m is not None for m in loaded])
    scores = np.zeros((n, n), np.float32)
    cpu, count = 0.0, 0
    for i in progress(range(n - 1), desc="bozorth3 on biocap records", enabled=show):
        for j in range(i + 1, n):
            if ok[i] and ok[j]:
                t0 = time.process_time()
                scores[i, j] = ref.compare(loaded[i], loaded[j])
                cpu += time.process_time() - t0
                count += 1
    return scores, ok, count / max(cpu, 1e-9)


def _rates(scores: np.ndarray, items: list[Item]) -> tuple[dict, np.ndarray, np.ndarray]:
    gen, imp = all_pairs(items)
    g = np.array([scores[a, b] for a, b in gen], np.float64)
    i = np.array([scores[a, b] for a, b in imp], np.float64)
    return error_rates(g, i).to_json(), g, i


def run_set(spec: DatasetSpec, options: BenchOptions, reference: str | None) -> dict:
    cmp = FingerprintComparator()
    loaded = load_templates(spec, options)
    name, items, templates, ms = loaded.name, loaded.items, loaded.templates, loaded.ms
    scores, ok, per_s, per_s_protocol, single = _scores_ours(cmp, templates, items,
                                                             options.progress)
    out, g, i = _rates(scores, items)
    out.update(fte=float(np.mean(~ok)), fte_count=int((~ok).sum()), n_items=len(items),
               extract_ms_median=float(np.median(ms)), compare_per_s=per_s,
               compare_per_s_protocol=per_s_protocol, compare_per_s_single=single,
               extractor=options.extractor, ppi=spec.ppi,
               extract_ms_from_cache=loaded.cached_at is not None)
    if loaded.cached_at is not None:
        out["templates_cached_at"] = loaded.cached_at
    curves = {f"biocap-mcc {name}": (g, i)}
    if reference == "nbis":
        rs, rok, rms, rper_s, rtimes, _ = _scores_nbis(items, spec.ppi, options.progress)
        ref_out, rg, ri = _rates(rs, items)
        ref_out.update(fte=float(np.mean(~rok)), fte_count=int((~rok).sum()),
                       extract_ms_median=float(np.median(rms)), compare_per_s=rper_s,
                       compare_ms_median=1000 * float(np.median(rtimes)) if rtimes else None,
                       compare_ms_max=1000 * float(np.max(rtimes)) if rtimes else None,
                       name="nbis mindtct+bozorth3 (500 ppi assumed)")
        out["reference"] = ref_out
        out["speedup_vs_reference"] = per_s / rper_s if rper_s else None
        out["extract_ratio_vs_reference"] = (out["extract_ms_median"] / ref_out["extract_ms_median"]
                                             if ref_out["extract_ms_median"] else None)
        curves[f"NBIS {name}"] = (rg, ri)
        if options.extractor == "biocap":  # another reader of biocap's records: bozorth3
            bs, bok, bper_s = _scores_bozorth3_on_records(templates, options.progress)
            b_out, bg, bi = _rates(bs, items)
            b_out.update(fte=float(np.mean(~bok)), compare_per_s=bper_s,
                         name="bozorth3 on biocap's ISO/IEC 19794-2 records")
            out["bozorth3_on_biocap_records"] = b_out
            curves[f"bozorth3 on biocap records {name}"] = (bg, bi)
    return {"result": out, "curves": curves, "impostors": i}


def run(options: BenchOptions) -> dict:
    """The figures of `biocap bench verify --modality fingerprint`."""
    return run_with_impostors(options)[0]


def run_with_impostors(options: BenchOptions) -> tuple[dict, np.ndarray]:
    """(figures, every impostor score of biocap's comparator): the calibration script fits the
    comparator's thresholds on the impostor scores."""
    reference = options.reference
    if reference not in (None, "nbis"):
        raise InvalidDataError(f"unknown reference {reference!r} for fingerprint verify; use nbis")
    sets = default_sets(options)
    per_set, curves, impostors = {}, {}, []
    for spec in sets:
        r = run_set(spec, options, reference)
        per_set[spec.name] = r["result"]
        curves.update(r["curves"])
        impostors.append(r["impostors"])
    keys = ("eer", "fmr100", "fmr1000", "zero_fmr", "fte")
    if len(per_set) == 1:
        out = dict(next(iter(per_set.values())))
    else:
        out = {k: float(np.mean([r[k] for r in per_set.values()])) for k in keys}
        out.update(
            n_genuine=int(sum(r["n_genuine"] for r in per_set.values())),
            n_impostor=int(sum(r["n_impostor"] for r in per_set.values())),
            extract_ms_median=float(np.median([r["extract_ms_median"] for r in per_set.values()])),
            compare_per_s=float(np.median([r["compare_per_s"] for r in per_set.values()])),
            compare_per_s_single=float(np.median([r["compare_per_s_single"] for r in per_set.values()])),
            compare_per_s_protocol=float(np.median([r["compare_per_s_protocol"] for r in per_set.values()])),
            extractor=options.extractor, averaged_over=list(per_set), sets=per_set,
            extract_ms_from_cache=any(r["extract_ms_from_cache"] for r in per_set.values()))
        if reference:
            refs = [r["reference"] for r in per_set.values()]
            out["reference"] = {k: float(np.mean([r[k] for r in refs])) for k in keys}
            out["reference"].update(
                n_genuine=out["n_genuine"], n_impostor=out["n_impostor"],
                extract_ms_median=float(np.median([r["extract_ms_median"] for r in refs])),
                compare_per_s=float(np.median([r["compare_per_s"] for r in refs])),
                name=refs[0]["name"])
            out["speedup_vs_reference"] = float(np.median(
                [r["speedup_vs_reference"] for r in per_set.values()]))
    out["protocol"] = "FVC all impostors (every unordered pair once); figures are fractions"
    if options.plot:
        from .det_plot import plot_det

        plot_det(curves, options.plot, title="DET, FVC all-impostors protocol")
        out["plot"] = str(options.plot)
    return out, np.concatenate(impostors)
