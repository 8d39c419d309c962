"""`biocap bench quality --modality fingerprint --dataset DIR --layout fvc --ppi N --reference nfiq2`

For every image of the dataset: biocap's quality score (timed), and with `--reference nfiq2`
NFIQ 2 through `nbis-py` in the same run, image by image (timed the same way). Then:

- `spearman`: rank correlation of biocap's score with NFIQ 2;
- `ms_median` / `reference_ms_median`: median milliseconds per image. NFIQ 2's time is its own
  share: nbis-py runs NFIQ 2 only together with mindtct, so each image is also run through
  mindtct alone and the difference is NFIQ 2's (`reference_ms_median_with_mindtct` keeps the
  total);
- error-versus-reject (ISO/IEC 29794-1): FNMR at FMR = 1% over all genuine and impostor pairs
  ("FVC, all impostors"), before and after dropping the 10% of genuine pairs with the lowest
  pair quality (min of the two scores), by biocap's score and by NFIQ 2. Matcher: NBIS bozorth3
  on mindtct minutiae (`matcher` in the JSON); `matcher="biocap"` (or "both") uses biocap's own
  extractor and comparator. `plot` draws biocap's score against NFIQ 2's, image by image.

Images go to the reference resampled to 500 ppi (NFIQ 2 and mindtct are defined at 500 ppi and
`nbis-py` ignores its ppi setting).
"""
from __future__ import annotations

import platform
import time
from pathlib import Path

import cv2
import numpy as np

from ..errors import InvalidSample, NoProvider
from ..types import Modality, Sample
from .datasets import all_pairs, load_layout
from .metrics import error_rates, error_vs_reject
from .options import BenchOptions
from .progress import progress

REJECT_FRACTIONS = (0.05, 0.10, 0.20)


def _read_grey(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise InvalidSample(f"cannot read image {path}", hint="check the file and its format")
    return image


def _spearman(a, b) -> float:
    from ..quality.fingerprint.model import spearman

    return spearman(a, b)


def _erc(genuine, impostor, pair_quality) -> dict:
    """FNMR at FMR = 1% before and after rejecting the lowest-quality genuine pairs."""
    out = {"fnmr_at_fmr1": error_vs_reject(genuine, impostor, pair_quality, 0.0)}
    for fraction in REJECT_FRACTIONS:
        out[f"fnmr_at_fmr1_reject_{int(round(fraction * 100))}pct"] = \
            error_vs_reject(genuine, impostor, pair_quality, fraction)
    return out


def _matcher_block(name: str, scores_gen, scores_imp, qualities: dict[str, np.ndarray],
                   genuine_pairs) -> dict:
    g, i = np.asarray(scores_gen, float), np.asarray(scores_imp, float)
    idx = np.asarray(genuine_pairs, dtype=np.int64).reshape(-1, 2)
    block = {"matcher": name, "rates": error_rates(g, i).to_json(), "error_vs_reject": {}}
    for qname, q in qualities.items():
        pair_q = np.minimum(q[idx[:, 0]], q[idx[:, 1]])
        block["error_vs_reject"][qname] = _erc(g, i, pair_q)
    return block


def _biocap_matcher_scores(samples, genuine, impostor):
    """Genuine and impostor scores of biocap's extractor and comparator (failures score 0)."""
    from ..matching.fingerprint.comparator import FingerprintComparator
    from ..templates.fingerprint import FingerprintExtractor

    extractor, comparator = FingerprintExtractor(), FingerprintComparator()
    encoded = []
    for sample in samples:
        try:
            encoded.append(comparator.encode(extractor.extract(sample)))
        except Exception:  # noqa: BLE001 - a failure to extract counts as a non-match
            encoded.append(None)

    def score(a, b):
        if encoded[a] is None or encoded[b] is None:
            return 0.0
        return float(comparator.compare(encoded[a], encoded[b]))

    return [score(a, b) for a, b in genuine], [score(a, b) for a, b in impostor]


def run(args: BenchOptions) -> dict:
    """The figures of `biocap bench quality --modality fingerprint`."""
    if args.modality != "fingerprint":
        raise NoProvider(f"bench quality supports fingerprint only, not {args.modality}")
    if args.dataset is None:
        raise InvalidSample("no dataset given", hint="pass --dataset DIR (e.g. "
                            "../shared/data/fingerprint/fvc2002_db1_b)")
    if args.ppi is None:
        raise InvalidSample("the dataset's resolution is not given",
                            hint="pass --ppi N (fvc2002_db2_b is 569 ppi, the others 500)")
    reference = (args.reference or "").lower() or None
    if reference not in (None, "nfiq2"):
        raise NoProvider(f"unknown quality reference {args.reference!r}; use nfiq2")
    matcher = (args.matcher or "bozorth3").lower()
    if matcher not in ("bozorth3", "biocap", "both"):
        raise NoProvider(f"unknown matcher {matcher!r}; use bozorth3, biocap or both")

    from ..quality.fingerprint.provider import FingerprintQuality

    items = load_layout(args.dataset, args.layout or "fvc")
    if args.limit:
        keep = sorted({it.subject for it in items})[: args.limit]
        items = [it for it in items if it.subject in keep]
    quality = FingerprintQuality()
    nbis_ref = None
    if reference == "nfiq2" or matcher in ("bozorth3", "both"):
        from .nbis_reference import NbisReference

        nbis_ref = NbisReference()

    samples, scores, ms = [], [], []
    ref_scores, ref_ms, ref_ms_total, mindtct_ms, minutiae = [], [], [], [], []
    quality.assess(Sample(_read_grey(items[0].path), args.ppi, Modality.FINGERPRINT))  # warm-up
    for item in progress(items, desc="quality", enabled=args.progress):
        sample = Sample(_read_grey(item.path), args.ppi, Modality.FINGERPRINT)
        samples.append(sample)
        t0 = time.perf_counter()
        report = quality.assess(sample)
        ms.append((time.perf_counter() - t0) * 1e3)
        scores.append(report.score if report.score is not None else 0)
        if nbis_ref is not None:
            r = nbis_ref.analyse(sample.image, sample.ppi)
            minutiae.append(r.minutiae)
            mindtct_ms.append(r.ms_mindtct)
            if reference == "nfiq2":
                ref_scores.append(r.nfiq2)
                ref_ms.append(r.ms_nfiq2)
                ref_ms_total.append(r.ms_with_nfiq2)

    scores_a = np.asarray(scores, float)
    result = {
        "dataset": str(args.dataset), "layout": args.layout, "ppi": args.ppi,
        "n_images": len(items), "provider": quality.name,
        "score_median": float(np.median(scores_a)),
        "ms_median": float(np.median(ms)), "ms_p90": float(np.percentile(ms, 90)),
        "machine": platform.machine(), "timing": "single thread, side by side per image",
    }
    qualities = {"biocap": scores_a}
    if reference == "nfiq2":
        ref_a = np.asarray(ref_scores, float)
        qualities["nfiq2"] = ref_a
        result.update({
            "reference": "NFIQ 2 (nbis-py, image resampled to 500 ppi)",
            "reference_score_median": float(np.median(ref_a)),
            "reference_ms_median": float(np.median(ref_ms)),
            "reference_ms_median_with_mindtct": float(np.median(ref_ms_total)),
            "mindtct_ms_median": float(np.median(mindtct_ms)),
            "speed_ratio": float(np.median(ref_ms) / max(np.median(ms), 1e-9)),
            "spearman": _spearman(scores_a, ref_a),
            "mean_abs_diff": float(np.mean(np.abs(scores_a - ref_a))),
        })

    genuine, impostor = all_pairs(items)
    result["n_genuine"], result["n_impostor"] = len(genuine), len(impostor)
    blocks = []
    if matcher in ("bozorth3", "both"):
        g = [nbis_ref.compare(minutiae[a], minutiae[b]) for a, b in genuine]
        i = [nbis_ref.compare(minutiae[a], minutiae[b]) for a, b in impostor]
        blocks.append(_matcher_block("NBIS bozorth3 (mindtct minutiae, nbis-py)", g, i,
                                     qualities, genuine))
    if matcher in ("biocap", "both"):
        g, i = _biocap_matcher_scores(samples, genuine, impostor)
        blocks.append(_matcher_block("biocap MCC (biocap.matching.fingerprint)", g, i,
                                     qualities, genuine))
    result["matchers"] = blocks
    first = blocks[0]
    result["matcher"] = first["matcher"]
    result["error_vs_reject"] = first["error_vs_reject"]
    biocap_erc = first["error_vs_reject"]["biocap"]
    result["fnmr_at_fmr1"] = biocap_erc["fnmr_at_fmr1"]
    result["fnmr_at_fmr1_reject10_biocap"] = biocap_erc["fnmr_at_fmr1_reject_10pct"]
    if "nfiq2" in first["error_vs_reject"]:
        result["fnmr_at_fmr1_reject10_nfiq2"] = \
            first["error_vs_reject"]["nfiq2"]["fnmr_at_fmr1_reject_10pct"]
    result["scores"] = {it.path.name: int(s) for it, s in zip(items, scores)}
    if reference == "nfiq2":
        result["reference_scores"] = {it.path.name: int(s) for it, s in zip(items, ref_scores)}
    if args.plot:
        from .det_plot import plot_scatter

        if reference == "nfiq2":
            plot_scatter(ref_scores, scores, args.plot, xlabel="NFIQ 2", ylabel="biocap quality",
                         title=f"{Path(args.dataset).name}: Spearman {result['spearman']:.3f}")
        else:
            plot_scatter(range(len(scores)), scores, args.plot, xlabel="image",
                         ylabel="biocap quality", title=Path(args.dataset).name)
        result["plot"] = str(args.plot)
    return result
