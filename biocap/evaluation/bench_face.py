"""`biocap bench verify|quality --modality face`: accuracy, speed and quality response on a face set.

verify (`verify_face`): every image is read in colour, extracted with FaceExtractor (a failure
counts towards FTE), every pair compared (all-pairs protocol); EER and FMR1000 over the pairs
whose two images enrolled, `eer_with_failures` counting a failed image's pairs as non-matches.
Reference in the same run: dlib's plain pipeline (HOG detector upsampled once on the padded
image, 5-point alignment, the same descriptor), so the pipeline around the descriptor is checked.

quality (`quality_face`): each image padded by replication (tight crops: the quality needs the
whole head and some background), measured, then degraded once per component by
biocap.evaluation.face_degrade and measured again; `responses[name]` = share of images whose
component score fell; `false_alarms[name]` = share of the clean originals scoring below 50 (its
feedback raised), `flagged[name]` = share of the degraded images below 50. ERC: the originals plus one degraded copy of each (degradations in turn),
FNMR at FMR 1e-3 (threshold from all impostor pairs) before and after dropping the 10 % genuine
pairs of lowest quality (pair quality = the lower unified score); `erc_heldout` the same on the
subjects that did not tune the eye measures (TUNING_SUBJECTS), with the oracle (failing pairs rejected first).
The ERC copy degrades the colour picture (the grey copies above are its luma, up to rounding) and
is extracted in colour like the originals; a copy whose extraction fails scores 0 on all its pairs
(failing genuine pairs) and, no face found, has unified quality 0. `erc_by_degradation`: FNMR of
the genuine pairs that hold a copy of each kind, at the no-reject threshold.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import BiocapError
from ..quality.face.provider import FaceQuality, report_from
from ..templates.face.params import FEEDBACK_BELOW
from ..templates.face.extractor import PAD_FRACTION, FaceExtractor
from ..types import Modality, Sample
from .datasets import Item, load_layout
from .face_degrade import DEGRADATIONS
from .metrics import error_rates, error_vs_reject

NOMINAL_PPI = 100.0  # a face image has no physical resolution; Sample needs one (not used)
#: quality bench canvas: the tight crop padded by half its side on each side (125 -> 250, LFW's
#: original framing), so the whole head and some background are in the picture
CANVAS_PAD = 1.0
#: the lfw7x50 subjects that chose the eye measures' parameters (docs/decisions/18-face-quality-
#: response.md); the quality bench also reports the ERC on the others (held out)
TUNING_SUBJECTS = ("Ariel_Sharon", "Colin_Powell", "Donald_Rumsfeld")


def face_items(dataset: Path, layout: str = "lfw-folders", limit: int | None = None,
               per_subject: int | None = None) -> list[Item]:
    """The dataset's items; `limit` keeps the first subjects, `per_subject` their first images."""
    items = load_layout(dataset, layout)
    if limit:
        keep = set(sorted({it.subject for it in items})[:limit])
        items = [it for it in items if it.subject in keep]
    if per_subject:
        count: dict[str, int] = {}
        items = [it for it in items if (count.__setitem__(it.subject, count.get(it.subject, 0) + 1)
                                        or count[it.subject] <= per_subject)]
    return items


def read_face(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(grey, rgb) of an image file; InvalidSample-like BiocapError when unreadable."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise BiocapError(f"cannot read image {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def pad(image: np.ndarray, fraction: float = PAD_FRACTION) -> np.ndarray:
    h, w = image.shape[:2]
    py, px = int(h * fraction / 2), int(w * fraction / 2)
    return cv2.copyMakeBorder(image, py, py, px, px, cv2.BORDER_REPLICATE)


@dataclass
class Embeddings:
    vectors: np.ndarray  # (n, 128) float32, zero rows for failures
    ok: np.ndarray  # (n,) bool
    ms: np.ndarray  # (n,) extraction CPU ms (successes)


def extract_all(images: list[tuple[np.ndarray, np.ndarray | None]]) -> Embeddings:
    extractor = FaceExtractor()
    n = len(images)
    vec = np.zeros((n, 128), np.float32)
    ok = np.zeros(n, bool)
    ms = []
    for k, (grey, rgb) in enumerate(images):
        t = time.process_time()
        try:
            vec[k] = extractor.extract(Sample(grey, NOMINAL_PPI, Modality.FACE, colour=rgb)).embedding
            ok[k] = True
            ms.append((time.process_time() - t) * 1000)
        except BiocapError:
            pass
    return Embeddings(vec, ok, np.array(ms))


def _dlib_reference(images) -> Embeddings:
    """dlib's plain pipeline: pad a quarter each side, HOG upsampled once, largest face."""
    import dlib
    import face_recognition_models as frm
    det = dlib.get_frontal_face_detector()
    sp = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
    rec = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
    n = len(images)
    vec = np.zeros((n, 128), np.float32)
    ok = np.zeros(n, bool)
    for k, (_, rgb) in enumerate(images):
        img = pad(rgb, 1.0)
        dets = det(img, 1)
        if not dets:
            continue
        d = max(dets, key=lambda r: r.area())
        v = np.asarray(rec.compute_face_descriptor(img, sp(img, d)), np.float32)
        vec[k], ok[k] = v / np.linalg.norm(v), True
    return Embeddings(vec, ok, np.zeros(0))


def pair_scores(emb: Embeddings, subjects: list[str]):
    """Every unordered pair (a < b): (scores, same subject, both enrolled, (a, b) indices)."""
    s = (1.0 + emb.vectors @ emb.vectors.T) / 2.0
    subj = np.array(subjects)
    iu = np.triu_indices(len(subjects), 1)
    same = subj[iu[0]] == subj[iu[1]]
    both = emb.ok[iu[0]] & emb.ok[iu[1]]
    scores = np.clip(s[iu], 0, 1)
    return scores, same, both, iu


def verify_face(dataset: Path, layout: str = "lfw-folders", *, limit: int | None = None,
                plot: Path | None = None, reference: bool = True) -> dict:
    items = face_items(dataset, layout, limit)
    images = [read_face(it.path) for it in items]
    subjects = [it.subject for it in items]
    emb = extract_all(images)
    scores, same, both, _ = pair_scores(emb, subjects)
    rates = error_rates(scores[same & both], scores[~same & both])
    with_fail = np.where(both, scores, 0.0)
    rates_fail = error_rates(with_fail[same], with_fail[~same])
    # 1:1 API speed: FaceComparator.compare on enrolled templates, one call per pair
    from ..matching.face import FaceComparator
    from ..templates.face.template import FaceTemplate
    comp = FaceComparator()
    tpl = [FaceTemplate(v) for v in emb.vectors[emb.ok][:50]]
    t = time.perf_counter()
    count = 0
    for a in tpl:
        for b in tpl:
            comp.compare(a, b)
            count += 1
    compare_per_s = count / (time.perf_counter() - t)
    result = {
        "dataset": str(dataset), "layout": layout, "n_images": len(items),
        "n_subjects": len(set(subjects)),
        "eer": rates.eer, "fmr100": rates.fmr100, "fmr1000": rates.fmr1000,
        "fte": float(1 - emb.ok.mean()), "n_genuine": rates.n_genuine,
        "n_impostor": rates.n_impostor, "eer_with_failures": rates_fail.eer,
        "extract_ms_median": float(np.median(emb.ms)) if emb.ms.size else None,
        "compare_per_s": compare_per_s,
    }
    curves = {"biocap": (scores[same & both], scores[~same & both])}
    if reference:
        ref = _dlib_reference(images)
        rs, rsame, rboth, _ = pair_scores(ref, subjects)
        rr = error_rates(rs[rsame & rboth], rs[~rsame & rboth])
        result["reference_dlib"] = {"eer": rr.eer, "fmr1000": rr.fmr1000,
                                    "fte": float(1 - ref.ok.mean()), "n_genuine": rr.n_genuine,
                                    "n_impostor": rr.n_impostor}
        curves["dlib-reference"] = (rs[rsame & rboth], rs[~rsame & rboth])
    if plot:
        from .det_plot import plot_det
        plot_det(curves, plot, title=f"face verification, {Path(dataset).name}")
        result["plot"] = str(plot)
    return result


def quality_face(dataset: Path, layout: str = "lfw-folders", *, limit: int | None = None,
                 per_subject: int | None = None, seed: int = 0) -> dict:
    items = face_items(dataset, layout, limit, per_subject)
    provider = FaceQuality()
    names = list(DEGRADATIONS)
    moved = {n: [] for n in names}
    clean = {n: [] for n in names}  # the originals' scores: below 50 raises the feedback
    flagged = {n: [] for n in names}
    erc_images: list[tuple[np.ndarray, np.ndarray | None]] = []
    erc_subjects: list[str] = []
    erc_quality: list[float] = []
    erc_kinds: list[str] = []  # "original" or the copy's degradation
    no_face = 0
    ms = []
    for k, it in enumerate(items):
        grey, rgb = read_face(it.path)
        canvas, canvas_rgb = pad(grey, CANVAS_PAD), pad(rgb, CANVAS_PAD)
        t = time.process_time()
        faces, comps = provider.measure(canvas, thorough=False)
        ms.append((time.process_time() - t) * 1000)
        if not faces:
            no_face += 1
            continue
        base = report_from(comps).score
        erc_images.append((canvas, canvas_rgb))
        erc_subjects.append(it.subject)
        erc_quality.append(float(base))
        erc_kinds.append("original")
        chosen = names[k % len(names)]
        for name in names:
            rng = np.random.default_rng([seed, k, names.index(name)])
            degraded = DEGRADATIONS[name](canvas, faces[0], rng)
            _, after = provider.measure(degraded, thorough=False)
            before_score = comps[name].score
            after_score = after[name].score if name in after else 0.0
            moved[name].append(after_score < before_score)
            clean[name].append(before_score < FEEDBACK_BELOW)
            flagged[name].append(after_score < FEEDBACK_BELOW)
            if name == chosen:
                # the ERC copy is the same degradation of the colour picture (a desk camera's
                # picture is colour; the embedding uses it), its quality measured on its grey
                copy_rgb = DEGRADATIONS[name](canvas_rgb, faces[0],
                                              np.random.default_rng([seed, k, names.index(name)]))
                copy = cv2.cvtColor(copy_rgb, cv2.COLOR_RGB2GRAY)
                erc_images.append((copy, copy_rgb))
                erc_subjects.append(it.subject)
                erc_quality.append(float(report_from(provider.measure(copy, thorough=False)[1]).score))
                erc_kinds.append(name)
    emb = extract_all(erc_images)
    scores, same, both, iu = pair_scores(emb, erc_subjects)
    scores = np.where(both, scores, 0.0)  # a failed extraction is a non-match
    q = np.array(erc_quality)
    pair_q = np.minimum(q[iu[0]], q[iu[1]])
    g, i = scores[same], scores[~same]
    before = error_vs_reject(g, i, pair_q[same], 0.0, 1e-3)
    after = error_vs_reject(g, i, pair_q[same], 0.1, 1e-3)
    # context: the best any quality could do at 10 % (failing pairs dropped first), and the
    # ERC on the originals alone (their natural variation, no degraded copies)
    oracle_q = np.where(g >= _threshold(g, i, 1e-3), 1.0, 0.0)
    best = error_vs_reject(g, i, oracle_q, 0.1, 1e-3)
    by_kind = _by_kind(np.array(erc_kinds), iu, same, g < _threshold(g, i, 1e-3), emb.ok)
    orig = np.array([k % 2 == 0 for k in range(len(erc_subjects))])  # originals at even rows
    both_orig = (orig[iu[0]] & orig[iu[1]])
    go, io = scores[same & both_orig], scores[~same & both_orig]
    qo = pair_q[same & both_orig]
    # the subjects that neither tuned the eye measures nor trained the unified score
    heldout = np.isin(erc_subjects, sorted(set(erc_subjects) - set(TUNING_SUBJECTS)))
    both_held = heldout[iu[0]] & heldout[iu[1]]
    gh, ih = scores[same & both_held], scores[~same & both_held]
    qh = pair_q[same & both_held]
    erc_heldout = None
    if gh.size and ih.size:
        oracle_h = np.where(gh >= _threshold(gh, ih, 1e-3), 1.0, 0.0)
        erc_heldout = {"subjects": sorted(set(np.array(erc_subjects)[heldout])),
                       "fnmr_no_reject": error_vs_reject(gh, ih, qh, 0.0, 1e-3),
                       "fnmr_at_10pct_reject": error_vs_reject(gh, ih, qh, 0.1, 1e-3),
                       "fnmr_at_10pct_reject_best_possible": error_vs_reject(gh, ih, oracle_h, 0.1, 1e-3),
                       "n_genuine": int(gh.size), "n_impostor": int(ih.size)}
    return {
        "dataset": str(dataset), "layout": layout, "n_images": len(items),
        "no_face_in_original": no_face,
        "responses": {n: float(np.mean(v)) if v else None for n, v in moved.items()},
        "false_alarms": {n: float(np.mean(v)) if v else None for n, v in clean.items()},
        "flagged": {n: float(np.mean(v)) if v else None for n, v in flagged.items()},
        "erc_heldout": erc_heldout,
        "degradations": {n: DEGRADATIONS[n].__name__ for n in names},
        "erc_fnmr_no_reject": before, "erc_fnmr_at_10pct_reject": after,
        "erc_fnmr_at_10pct_reject_best_possible": best,
        "erc_by_degradation": by_kind,
        "erc_originals_only": {"fnmr_no_reject": error_vs_reject(go, io, qo, 0.0, 1e-3),
                               "fnmr_at_10pct_reject": error_vs_reject(go, io, qo, 0.1, 1e-3),
                               "n_genuine": int(go.size), "n_impostor": int(io.size)},
        "erc_fmr": 1e-3, "erc_images": len(erc_images), "erc_fte": float(1 - emb.ok.mean()),
        "erc_n_genuine": int(same.sum()), "erc_n_impostor": int((~same).sum()),
        "quality_ms_median": float(np.median(ms)) if ms else None,
    }


def _by_kind(kinds: np.ndarray, iu, same: np.ndarray, fails: np.ndarray, ok: np.ndarray) -> dict:
    """Per ERC image kind ("original" or a degradation): images, share not extracted, genuine
    pairs holding such an image (two originals for "original") and the share of them failing."""
    a, b = iu[0][same], iu[1][same]
    out = {}
    for kind in sorted(set(kinds)):
        sel = ((kinds[a] == kind) & (kinds[b] == kind)) if kind == "original" else \
            ((kinds[a] == kind) | (kinds[b] == kind))
        members = kinds == kind
        out[kind] = {"images": int(members.sum()), "fte": float(1 - ok[members].mean()),
                     "genuine_pairs": int(sel.sum()),
                     "fnmr": float(fails[sel].mean()) if sel.any() else None,
                     "share_of_failures": float(fails[sel].sum() / max(int(fails.sum()), 1))}
    return out


def _threshold(g: np.ndarray, i: np.ndarray, fmr: float) -> float:
    from .metrics import det_curve
    thresholds, fmrs, _ = det_curve(g, i)
    return float(thresholds[fmrs <= fmr + 1e-12][0])


# --- CLI adapters (biocap.cli.bench_commands) ------------------------------------------------------
def _dataset(args) -> tuple[Path, str]:
    from .data import data_path
    dataset = args.dataset or data_path("face", "lfw7x50")
    layout = args.layout if args.layout not in (None, "fvc") else "lfw-folders"
    return Path(dataset), layout


def run_verify(args) -> dict:
    dataset, layout = _dataset(args)
    return verify_face(dataset, layout, limit=args.limit, plot=args.plot,
                       reference=args.reference != "none")


def run_quality(args) -> dict:
    dataset, layout = _dataset(args)
    result = quality_face(dataset, layout, limit=args.limit, seed=args.seed)
    if args.plot:
        from .det_plot import plot_bars

        plot_bars(result["responses"], args.plot, xlabel="share of images moving the right way "
                  "under the degradation", target=0.95,
                  title=f"face quality responses, {Path(dataset).name}")
        result["plot"] = str(args.plot)
    return result
