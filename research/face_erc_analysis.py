"""Where the face ERC's genuine failures come from: FNMR at FMR 1e-3 per degradation type.

The quality bench's ERC protocol (biocap.evaluation.bench_face.quality_face): every lfw7x50
image padded to LFW's framing, plus one degraded copy (degradations in turn, the bench's seeds).
Here each copy is made twice, from the grey image (as the bench did up to session 7: the copy was
extracted without colour) and from the colour image (the desk camera's picture is colour), and
every genuine pair (copy, any other image of the person) is attributed to the copy's degradation.
The threshold comes from all impostor pairs of the set (as the bench). A copy whose extraction
fails scores 0 on every pair (counted as a failing genuine pair, as the bench does).

    .venv/bin/python research/face_erc_analysis.py --colour-only --out benchmarks/results/face_erc_analysis.json

(`face_erc_analysis_before.json`: the same without --colour-only, with the extractor of 074c7cc,
before the chip normalisation and the rotated retry.) research/face_erc_ranking.py then tries
unified-score variants on the cached embeddings.

Embeddings are cached in --cache (npz) so pipeline variants can be compared on the same images.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from biocap.errors import BiocapError
from biocap.evaluation.bench_face import (CANVAS_PAD, NOMINAL_PPI, TUNING_SUBJECTS, _threshold,
                                          face_items, pad, read_face)
from biocap.evaluation.face_degrade import DEGRADATIONS
from biocap.quality.face.provider import FaceQuality, report_from
from biocap.templates.face.extractor import FaceExtractor
from biocap.types import Modality, Sample


def build(dataset: Path, seed: int = 0, grey_copies: bool = True):
    """(rows, images): one row per ERC image (original then its copy), with its subject, kind
    (the degradation name or 'original') and unified quality; images (grey, rgb, grey-copy flag)."""
    provider = FaceQuality()
    names = list(DEGRADATIONS)
    rows, images = [], []
    for k, it in enumerate(face_items(dataset, "lfw-folders")):
        grey, rgb = read_face(it.path)
        canvas, canvas_rgb = pad(grey, CANVAS_PAD), pad(rgb, CANVAS_PAD)
        faces, comps = provider.measure(canvas, thorough=False)
        if not faces:
            continue
        name = names[k % len(names)]
        rng_seed = [seed, k, names.index(name)]
        copy_grey = DEGRADATIONS[name](canvas, faces[0], np.random.default_rng(rng_seed))
        copy_rgb = DEGRADATIONS[name](canvas_rgb, faces[0], np.random.default_rng(rng_seed))
        _, after = provider.measure(copy_grey, thorough=False) if grey_copies else (None, None)
        _, after_c = provider.measure(cv2.cvtColor(copy_rgb, cv2.COLOR_RGB2GRAY), thorough=False)
        rows.append({"subject": it.subject, "kind": "original", "image": it.path.name,
                     "quality": float(report_from(comps).score),
                     "components": {n: round(c.score, 1) for n, c in comps.items()}})
        rows.append({"subject": it.subject, "kind": name, "image": it.path.name,
                     "quality": float(report_from(after if grey_copies else after_c).score),
                     "quality_colour": float(report_from(after_c).score),
                     "components": {n: round(c.score, 1) for n, c in after_c.items()}})
        images.append({"original": (canvas, canvas_rgb), "grey": (copy_grey, None),
                       "colour": (cv2.cvtColor(copy_rgb, cv2.COLOR_RGB2GRAY), copy_rgb)})
    return rows, images


def embed(extractor, grey, rgb):
    try:
        return extractor.extract(Sample(grey, NOMINAL_PPI, Modality.FACE, colour=rgb)).embedding
    except BiocapError:
        return None


def per_kind(rows, vectors, ok) -> dict:
    subj = np.array([r["subject"] for r in rows])
    kind = np.array([r["kind"] for r in rows])
    s = np.clip((1 + vectors @ vectors.T) / 2, 0, 1)
    n = len(rows)
    iu = np.triu_indices(n, 1)
    both = ok[iu[0]] & ok[iu[1]]
    scores = np.where(both, s[iu], 0.0)
    same = subj[iu[0]] == subj[iu[1]]
    thr = _threshold(scores[same], scores[~same], 1e-3)
    g = scores[same]
    fail = g < thr
    ga, gb = iu[0][same], iu[1][same]
    out = {"threshold": thr, "fnmr": float(fail.mean()), "n_genuine": int(same.sum()), "kinds": {}}
    for k in sorted(set(kind)):
        idx = np.flatnonzero(kind == k)
        if k == "original":  # pairs of two originals
            sel = (kind[ga] == "original") & (kind[gb] == "original")
        else:  # pairs with a copy of this kind on one side
            sel = (kind[ga] == k) | (kind[gb] == k)
        out["kinds"][k] = {"images": int(idx.size), "fte": float(1 - ok[idx].mean()),
                           "genuine_pairs": int(sel.sum()), "fnmr": float(fail[sel].mean()),
                           "share_of_failures": float(fail[sel].sum() / max(fail.sum(), 1))}
    held = ~np.isin(subj, TUNING_SUBJECTS)
    out["heldout_fnmr"] = float(fail[held[ga] & held[gb]].mean())
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", type=Path, default=Path("../shared/data/face/lfw7x50"))
    ap.add_argument("--cache", type=Path, default=Path("/tmp/face_erc_cache.npz"))
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--colour-only", action="store_true", help="skip the grey copies")
    args = ap.parse_args()
    t = time.process_time()
    rows, images = build(args.dataset, grey_copies=not args.colour_only)
    extractor = FaceExtractor()
    vec = {}
    modes = ("grey", "colour") if not args.colour_only else ("colour",)
    for mode in ("original",) + modes:
        vs = [embed(extractor, *im[mode]) for im in images]
        vec[mode] = (np.stack([v if v is not None else np.zeros(128, np.float32) for v in vs]),
                     np.array([v is not None for v in vs]))
    np.savez(args.cache, **{f"{m}_v": v for m, (v, _) in vec.items()},
             **{f"{m}_ok": o for m, (_, o) in vec.items()})
    result = {"cpu_s": time.process_time() - t, "n_originals": len(images)}
    for mode in modes:
        v = np.empty((2 * len(images), 128), np.float32)
        ok = np.empty(2 * len(images), bool)
        v[0::2], ok[0::2] = vec["original"]
        v[1::2], ok[1::2] = vec[mode]
        result[f"copies_{mode}"] = per_kind(rows, v, ok)
    result["rows"] = rows
    text = json.dumps(result, separators=(",", ":"))
    if args.out:
        args.out.write_text(text)
    for mode in modes:
        r = result[f"copies_{mode}"]
        print(mode, "FNMR", round(r["fnmr"], 4), "held out", round(r["heldout_fnmr"], 4))
        for k, d in r["kinds"].items():
            print(f"  {k:26s} fte {d['fte']:.2f} fnmr {d['fnmr']:.3f} share {d['share_of_failures']:.3f}")


if __name__ == "__main__":
    main()
