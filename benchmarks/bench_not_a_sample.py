"""Not-a-sample probes (issue 17 item 7): fingerprint quality and extraction on images that are
not fingerprints, iris extraction on images that are not eyes, and the effect of the
"is this a fingerprint / an eye" gates on real samples (FVC 2000/2002 B, CASIA-IrisV1, MMU2), side
by side with the same providers with the new gates switched off (the reference) in the same run.

    .venv/bin/python benchmarks/bench_not_a_sample.py [--data ../shared/data] [--out benchmarks/results/not_a_sample.md]
    .venv/bin/python benchmarks/bench_not_a_sample.py --part fingerprints --out /tmp/fp.md   # one part

Parts: probes (images that are not fingerprints / eyes), fingerprints (FVC 2000/2002 B), eyes
(CASIA-IrisV1, MMU2); all three by default. The report is rewritten after every row.
"""
from __future__ import annotations

import argparse
import glob
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import cv2  # noqa: E402
import numpy as np  # noqa: E402

import biocap.quality.fingerprint.provider as fq  # noqa: E402
import biocap.quality.iris.provider as iq  # noqa: E402
from biocap.errors import InvalidSample, NotASample  # noqa: E402
from biocap.synthetic import non_samples as ns  # noqa: E402
from biocap.sdk import SDK  # noqa: E402
from biocap.types import Modality, Sample  # noqa: E402

_SDK = SDK()  # extraction as an app gets it: the quality provider's check_sample first


class _GatesOff:
    """The providers as they were before issue 17: no orientation-spread, no not-an-eye test."""

    def __enter__(self):
        self.saved = (fq.MIN_ORIENTATION_SPREAD, iq.MIN_PUPIL_CIRCULARITY, iq.MAX_PUPIL_SPREAD,
                      iq.MIN_IRIS_RADIUS_PX, iq.MIN_GREY_BITS)
        fq.MIN_ORIENTATION_SPREAD, iq.MIN_PUPIL_CIRCULARITY = -1, -1
        iq.MAX_PUPIL_SPREAD, iq.MIN_IRIS_RADIUS_PX, iq.MIN_GREY_BITS = 1e9, -1, -1

    def __exit__(self, *exc):
        (fq.MIN_ORIENTATION_SPREAD, iq.MIN_PUPIL_CIRCULARITY, iq.MAX_PUPIL_SPREAD,
         iq.MIN_IRIS_RADIUS_PX, iq.MIN_GREY_BITS) = self.saved


def fp_score(img, ppi=500) -> int:
    return fq.FingerprintQuality().assess(Sample(img, ppi, Modality.FINGERPRINT)).score


def fp_refused(img, ppi=500) -> bool:
    try:
        _SDK.extract(Sample(img, ppi, Modality.FINGERPRINT))
    except NotASample:
        return True
    return False


def iris_refused(img) -> bool:
    try:
        _SDK.extract(Sample(img, 420, Modality.IRIS))
    except InvalidSample:
        return True
    return False


def probes(data: Path | None):
    """(category, name, image) of images that are not fingerprints."""
    for p in (5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15):
        for a in (0.0, 0.4, 0.8, 1.2, 1.57, 2.3):
            yield "stripes (sine)", f"p{p} a{a}", ns.stripes(p, a, noise_std=6, seed=p)
        yield "stripes (square)", f"p{p}", ns.stripes(p, 0.3 * p, square=True)
    for i in range(6):
        yield "noise", f"seed{i}", ns.noise(seed=i, blur_sigma=(0, 1, 2, 3, 4, 6)[i])
    for level in (0, 1, 128, 254, 255):
        yield "flat", f"level{level}", ns.flat(level)
    from biocap_vendor_sim.sources import make_source
    rng = np.random.default_rng(0)
    for i in range(4):
        yield "iris (synthetic)", f"{i}", make_source("iris-synthetic").next_sample(1 + i % 2, rng).image
        yield "face (synthetic)", f"{i}", make_source("face-synthetic").next_sample(0, rng).image
        pen = make_source("signature-synthetic").next_sample(0, rng).pen
        yield "signature (synthetic)", f"{i}", ns.rendered_pen(pen.x, pen.y, pen.pen_down)
    if data is None:
        return
    for f in sorted(glob.glob(str(data / "iris/casia_irisv1/*/*.jpg")))[::10]:
        yield "iris (CASIA-IrisV1)", Path(f).name, cv2.imread(f, 0)
    for f in sorted(glob.glob(str(data / "iris/mmu2/*/*.png")))[::10]:
        yield "iris (MMU2)", Path(f).name, cv2.imread(f, 0)
    for f in sorted(glob.glob(str(data / "face/lfw7x50/*/*.jpg")))[::7]:
        yield "face (LFW)", Path(f).name, cv2.imread(f, 0)
    from biocap_vendor_sim.sources import make_source as ms
    try:
        src = ms("signature-data")
        for i in range(20):
            pen = src.next_sample(0, np.random.default_rng(i)).pen
            yield "signature (SVC2004)", f"{i}", ns.rendered_pen(pen.x, pen.y, pen.pen_down)
    except Exception as exc:  # no SVC data
        print(f"no SVC2004 signatures: {exc}", file=sys.stderr)


def fingerprint_sets(data: Path):
    for year in ("2002", "2000"):
        for db in (1, 2, 3, 4):
            files = sorted(glob.glob(str(data / f"fingerprint/fvc{year}_db{db}_b/*.tif")))
            if files:
                yield f"FVC{year} DB{db}_B", files


def eye_sets(data: Path):
    yield "CASIA-IrisV1", sorted(glob.glob(str(data / "iris/casia_irisv1/*/*.jpg")))[::4]
    yield "MMU2", sorted(glob.glob(str(data / "iris/mmu2/*/*.png")))[::3]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("BIOCAP_DATA", "../shared/data")))
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/not_a_sample.md"))
    ap.add_argument("--part", choices=("all", "probes", "fingerprints", "eyes"), default="all")
    args = ap.parse_args(argv)
    parts = {"probes", "fingerprints", "eyes"} if args.part == "all" else {args.part}
    data = args.data if args.data.exists() else None
    t0 = time.time()
    part = "" if args.part == "all" else f" --part {args.part}"
    lines = ["# Not-a-sample probes and the gates' effect on real samples (issue 17 item 7)", "",
             f"Command: `.venv/bin/python benchmarks/bench_not_a_sample.py{part}` (data: {data}).",
             "Reference = the same providers in the same run with the new gates off "
             "(orientation spread, not-an-eye), i.e. as before issue 17. Extraction = `SDK.extract`, "
             "which runs the modality's `check_sample` first.", ""]

    def flush():
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(lines) + "\n")

    if "probes" in parts:
        lines += ["## Images that are not fingerprints (fingerprint quality 0-100, 500 ppi)", "",
                  "| category | n | max score (gates off) | max score | refused by fingerprint extraction | refused by iris extraction |",
                  "|---|---|---|---|---|---|"]
    cats: dict[str, list] = {}
    for cat, name, img in (probes(data) if "probes" in parts else ()):
        if img is None:
            continue
        with _GatesOff():
            before = fp_score(img)
            iris_before = iris_refused(img) if "iris" not in cat else None
        after = fp_score(img)
        cats.setdefault(cat, []).append((name, before, after, fp_refused(img),
                                         None if "iris" in cat else iris_refused(img), iris_before))
    for cat, rows in cats.items():
        iris = [r[4] for r in rows if r[4] is not None]
        iris_txt = f"{sum(iris)}/{len(iris)} (gates off {sum(r[5] for r in rows if r[5] is not None)})" \
            if iris else "-"
        lines.append(f"| {cat} | {len(rows)} | {max(r[1] for r in rows)} | {max(r[2] for r in rows)} | "
                     f"{sum(r[3] for r in rows)}/{len(rows)} | {iris_txt} |")
        print(lines[-1], flush=True)
        flush()
    if data is not None and "fingerprints" in parts:
        lines += ["", "## Real fingerprints: scores with the gate vs gates off", "",
                  "| set | prints | score changed | called not a fingerprint (refused by extraction) | min orientation spread | median score |",
                  "|---|---|---|---|---|---|"]
        for name, files in fingerprint_sets(data):
            changed, refused, spreads, scores = [], 0, [], []
            for f in files:
                img = cv2.imread(f, 0)
                sample = Sample(img, 500, Modality.FINGERPRINT)
                report = fq.FingerprintQuality().assess(sample)
                with _GatesOff():
                    s_old = fq.FingerprintQuality().assess(sample).score
                spreads.append(report.measures["orientation_spread"].value)
                if report.score != s_old:
                    changed.append(f"{Path(f).name} {s_old}->{report.score}")
                # check_sample (what extraction runs) refuses exactly what this code marks
                refused += bool(report.feedback) and report.feedback[0].code == "not_a_fingerprint"
                scores.append(report.score)
            lines.append(f"| {name} | {len(files)} | {len(changed)} {'(' + ', '.join(changed) + ')' if changed else ''} | "
                         f"{refused} | {min(spreads):.3f} | {np.median(scores):.0f} |")
            print(lines[-1], flush=True)
            flush()
    if data is not None and "eyes" in parts:
        lines += ["", "## Real eyes: refused by the not-an-eye gate", "",
                  "| set | images | refused (gates off) | refused | iris quality changed | min pupil circularity | max pupil spread | min iris radius px |",
                  "|---|---|---|---|---|---|---|---|"]
        for name, files in eye_sets(data):
            before = after = changed = 0
            circ = []
            for f in files:
                img = cv2.imread(f, 0)
                if img is None:
                    continue
                with _GatesOff():
                    b = iris_refused(img)
                    q_old = iq.IrisQuality().assess_image(img)
                q_new = iq.IrisQuality().assess_image(img)
                before += b
                after += iris_refused(img)
                changed += q_old.score != q_new.score
                if "pupil_boundary_circularity" in q_new.measures:
                    m = q_new.measures
                    circ.append((m["pupil_boundary_circularity"].value, m["pupil_uniformity"].value,
                                 m["iris_radius"].value))
            c = np.array(circ)
            lines.append(f"| {name} | {len(files)} | {before} | {after} | {changed} | "
                         f"{c[:, 0].min():.1f} | {c[:, 1].max():.0f} | {c[:, 2].min():.0f} |")
            print(lines[-1], flush=True)
            flush()
    lines += ["", f"Run time {time.time() - t0:.0f} s."]
    flush()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
