"""Diagnostic for issue 23: bozorth3's EER on biocap's records when the record holds other subsets
of the extractor's candidates (one extraction per image, several record selections). Variants:
`base` (what ships), `border<M>` (plus the border rejects at least M ridge periods inside the
outline), `kept` (biocap-mcc's subset only).
Run:  .venv/bin/python research/fingerprint_cross_sensor/record_probe.py fvc2002_db1_b [--ppi 500]
"""
from __future__ import annotations

import argparse
import json

import cv2
import numpy as np

from biocap.evaluation.bench_verify_fingerprint import _rates, _scores_bozorth3_on_records
from biocap.evaluation.data import data_path
from biocap.evaluation.datasets import load_layout
from biocap.templates.fingerprint.pipeline import _template, trace_extraction
from biocap.types import Modality, Sample
from biocap.evaluation.bench_verify_fingerprint import _read_image

MARGINS = (0.6, 0.4, 0.2)


def _variants(tr):
    f, cand = tr.filtering, tr.minutiae
    wl = tr.frequency.wavelength
    inside = np.pad(tr.foreground.astype(np.uint8), 1)
    dist = cv2.distanceTransform(inside, cv2.DIST_L2, 3)[1:-1, 1:-1]
    xi = np.clip(np.round(cand["x"]).astype(int), 0, dist.shape[1] - 1)
    yi = np.clip(np.round(cand["y"]).astype(int), 0, dist.shape[0] - 1)
    d = dist[yi, xi] / wl
    base = f.interchange
    out = {"base": base, "kept": f.kept}
    for m in MARGINS:
        out[f"border{m}"] = base | ((f.reason == "border") & (d >= m))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("--ppi", type=float, default=500.0)
    args = ap.parse_args(argv)
    items = load_layout(data_path("fingerprint", args.name), "fvc")
    per_variant: dict[str, list] = {}
    from biocap.templates.fingerprint.quality import minutia_quality
    for it in items:
        sample = Sample(_read_image(it.path), args.ppi, Modality.FINGERPRINT)
        tr = trace_extraction(sample)
        if tr.filtering is None:
            for v in per_variant.values():
                v.append(tr.template)
            continue
        for name, sel in _variants(tr).items():
            kept = tr.minutiae[sel]
            q = minutia_quality(kept["x"], kept["y"], tr.foreground, tr.orientation.coherence,
                                tr.frequency.wavelength)
            t = _template(sample, tr.resolution, kept, q, [], tr.filtering.kept[sel])
            per_variant.setdefault(name, []).append(t)
    for name, templates in per_variant.items():
        scores, ok, _ = _scores_bozorth3_on_records(templates, False)
        rates, _, _ = _rates(scores, items)
        n = np.median([t.minutiae.size for t in templates if t is not None])
        print(json.dumps({"set": args.name, "variant": name, "bozorth3_eer": rates["eer"],
                          "median_minutiae": float(n)}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
