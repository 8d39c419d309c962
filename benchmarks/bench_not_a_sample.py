"""Not-a-sample probes (issue 17 item 7): fingerprint quality and extraction on images that are
not fingerprints (stripes, rings, noise, flat, irises, faces, signatures), iris extraction on
images that are not eyes, and the effect of the "is this a fingerprint / an eye" gates on real
and generated samples (FVC 2000/2002 B, biocap.synthetic prints, the simulator's prints,
CASIA-IrisV1, MMU2), side by side with the same providers with the new gates switched off (the
reference) in the same run.

    .venv/bin/python benchmarks/bench_not_a_sample.py [--data ../shared/data] [--out benchmarks/results/not_a_sample.md]
    .venv/bin/python benchmarks/bench_not_a_sample.py --part fingerprints --out /tmp/fp.md   # one part

Parts: probes (images that are not fingerprints / eyes), fingerprints (FVC 2000/2002 B and
generated prints), eyes (CASIA-IrisV1, MMU2), irises (every CASIA-IrisV1 / MMU2 eye through the
fingerprint check only); all four by default. The report is rewritten after every row.
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
import biocap.quality.fingerprint.ridge_flow as rf  # noqa: E402
import biocap.quality.iris.provider as iq  # noqa: E402
from biocap.errors import InvalidSample, NotASample  # noqa: E402
from biocap.synthetic import non_samples as ns  # noqa: E402
from biocap.sdk import SDK  # noqa: E402
from biocap.types import Modality, Sample  # noqa: E402

_SDK = SDK()  # extraction as an app gets it: the quality provider's check_sample first


class _GatesOff:
    """The providers as they were before issue 17: no orientation-spread, periodic-ridge-area,
    flow-deviation or not-an-eye test."""

    def __enter__(self):
        self.saved = (fq.MIN_ORIENTATION_SPREAD, iq.MIN_PUPIL_CIRCULARITY, iq.MAX_PUPIL_SPREAD,
                      iq.MIN_IRIS_RADIUS_PX, iq.MIN_GREY_BITS, rf.MIN_PERIODIC_AREA_MM2,
                      rf.MIN_PERIODIC_FRACTION, rf.MIN_FLOW_DEVIATION_DEG, rf.MIN_PERIODIC_AREA_FLOOR_MM2)
        fq.MIN_ORIENTATION_SPREAD, iq.MIN_PUPIL_CIRCULARITY = -1, -1
        iq.MAX_PUPIL_SPREAD, iq.MIN_IRIS_RADIUS_PX, iq.MIN_GREY_BITS = 1e9, -1, -1
        rf.MIN_PERIODIC_AREA_MM2 = rf.MIN_PERIODIC_FRACTION = rf.MIN_FLOW_DEVIATION_DEG = -1
        rf.MIN_PERIODIC_AREA_FLOOR_MM2 = -1

    def __exit__(self, *exc):
        (fq.MIN_ORIENTATION_SPREAD, iq.MIN_PUPIL_CIRCULARITY, iq.MAX_PUPIL_SPREAD,
         iq.MIN_IRIS_RADIUS_PX, iq.MIN_GREY_BITS, rf.MIN_PERIODIC_AREA_MM2,
         rf.MIN_PERIODIC_FRACTION, rf.MIN_FLOW_DEVIATION_DEG, rf.MIN_PERIODIC_AREA_FLOOR_MM2) = self.saved


def ridge_measures(img, ppi=500) -> tuple[float, float, float | None]:
    """(periodic ridge area mm², its foreground share, flow deviation deg) of the gate; zeros
    when the image has no foreground."""
    from biocap.imaging import to_working_resolution
    from biocap.quality.fingerprint.features import analyse
    a = analyse(to_working_resolution(img, ppi))
    return fq.ridge_evidence(a) if a["n_fg_blocks"] else (0.0, 0.0, None)


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
        for centre in ((0.5, 0.5), (0.25, 0.7), (0.0, 0.0), (1.6, 0.4)):
            yield "rings (concentric)", f"p{p} c{centre}", ns.rings(p, centre, noise_std=8, seed=p)
        for aspect in (0.6, 1.5, 2.5):
            yield "rings (elliptical)", f"p{p} a{aspect}", ns.rings(p, (0.45, 0.55), aspect=aspect,
                                                                     noise_std=8, seed=p)
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


def fingerprint_sets(data: Path | None):
    """(set name, [(name, image)]): the eight FVC B sets when the data is there, and generated
    prints: biocap.synthetic impressions on each sensor profile and the simulator's source."""
    for year in ("2002", "2000"):
        for db in (1, 2, 3, 4):
            files = sorted(glob.glob(str(data / f"fingerprint/fvc{year}_db{db}_b/*.tif"))) if data else []
            if files:
                yield f"FVC{year} DB{db}_B", ((Path(f).name, cv2.imread(f, 0)) for f in files)
    from biocap.synthetic.fingerprint.dataset import impressions_of_finger
    from biocap.synthetic.fingerprint.sensors import sensor_profile
    for sensor in ("optical", "capacitive", "thermal"):
        yield f"biocap.synthetic ({sensor}, seed 17, 6 fingers x 3)", (
            (f"{f}_{k}", imp.image) for f in range(1, 7)
            for k, imp in impressions_of_finger(17, f, 3, sensor_profile(sensor)))
    from biocap_vendor_sim.sources import make_source
    src = make_source("fingerprint-synthetic")
    yield "simulator fingerprint-synthetic (20)", (
        (str(i), src.next_sample(1 + i % 10, np.random.default_rng(i)).image) for i in range(20))


def eye_sets(data: Path):
    yield "CASIA-IrisV1", sorted(glob.glob(str(data / "iris/casia_irisv1/*/*.jpg")))[::4]
    yield "MMU2", sorted(glob.glob(str(data / "iris/mmu2/*/*.png")))[::3]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("BIOCAP_DATA", "../shared/data")))
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/not_a_sample.md"))
    ap.add_argument("--part", choices=("all", "probes", "fingerprints", "eyes", "irises"), default="all")
    args = ap.parse_args(argv)
    parts = {"probes", "fingerprints", "eyes", "irises"} if args.part == "all" else {args.part}
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
                  "| category | n | max score (gates off) | max score | refused by fingerprint extraction | refused by iris extraction | max periodic ridge area mm² / share | max flow deviation (deg) |",
                  "|---|---|---|---|---|---|---|---|"]
    cats: dict[str, list] = {}
    for cat, name, img in (probes(data) if "probes" in parts else ()):
        if img is None:
            continue
        with _GatesOff():
            before = fp_score(img)
            iris_before = iris_refused(img) if "iris" not in cat else None
        after = fp_score(img)
        cats.setdefault(cat, []).append((name, before, after, fp_refused(img),
                                         None if "iris" in cat else iris_refused(img), iris_before,
                                         ridge_measures(img)))
    for cat, rows in cats.items():
        iris = [r[4] for r in rows if r[4] is not None]
        iris_txt = f"{sum(iris)}/{len(iris)} (gates off {sum(r[5] for r in rows if r[5] is not None)})" \
            if iris else "-"
        devs = [r[6][2] for r in rows if r[6][2] is not None]
        lines.append(f"| {cat} | {len(rows)} | {max(r[1] for r in rows)} | {max(r[2] for r in rows)} | "
                     f"{sum(r[3] for r in rows)}/{len(rows)} | {iris_txt} | "
                     f"{max(r[6][0] for r in rows):.1f} / {max(r[6][1] for r in rows):.3f} | "
                     f"{max(devs) if devs else float('nan'):.2f} |")
        print(lines[-1], flush=True)
        flush()
    if "fingerprints" in parts:
        lines += ["", "## Real and generated fingerprints: scores with the gates vs gates off", "",
                  f"Limits: orientation spread >= {fq.MIN_ORIENTATION_SPREAD}; periodic ridge area >= "
                  f"{rf.MIN_PERIODIC_AREA_MM2:g} mm², or >= {rf.MIN_PERIODIC_AREA_FLOOR_MM2:g} mm² covering >= "
                  f"{rf.MIN_PERIODIC_FRACTION:g} of the foreground; "
                  f"flow deviation >= {rf.MIN_FLOW_DEVIATION_DEG:g} deg.", "",
                  "| set | prints | score changed | called not a fingerprint (refused by extraction) | min orientation spread | min periodic area mm² | min periodic share (area < limit) | min flow deviation (deg) | median score |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for name, files in fingerprint_sets(data):
            changed, refused, spreads, scores, ridge = [], 0, [], [], []
            for fname, img in files:
                sample = Sample(img, 500, Modality.FINGERPRINT)
                report = fq.FingerprintQuality().assess(sample)
                with _GatesOff():
                    s_old = fq.FingerprintQuality().assess(sample).score
                spreads.append(report.measures["orientation_spread"].value)
                ridge.append(ridge_measures(img))
                if report.score != s_old:
                    changed.append(f"{fname} {s_old}->{report.score}")
                # check_sample (what extraction runs) refuses exactly what this code marks
                refused += bool(report.feedback) and report.feedback[0].code == "not_a_fingerprint"
                scores.append(report.score)
            small = [r[1] for r in ridge if r[0] < rf.MIN_PERIODIC_AREA_MM2]
            devs = [r[2] for r in ridge if r[2] is not None]
            lines.append(f"| {name} | {len(scores)} | {len(changed)} {'(' + ', '.join(changed) + ')' if changed else ''} | "
                         f"{refused} | {min(spreads):.3f} | {min(r[0] for r in ridge):.1f} | "
                         f"{f'{min(small):.3f} ({len(small)} prints)' if small else '-'} | "
                         f"{min(devs):.2f} | {np.median(scores):.0f} |")
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
    if data is not None and "irises" in parts:
        lines += ["", "## Every eye of CASIA-IrisV1 and MMU2 passed as a fingerprint", "",
                  "| set | eyes | refused by the fingerprint check | passing (periodic area mm², share) |",
                  "|---|---|---|---|"]
        for name, pattern in (("CASIA-IrisV1", "iris/casia_irisv1/*/*.jpg"), ("MMU2", "iris/mmu2/*/*.png")):
            refused, passing = 0, []
            files = sorted(glob.glob(str(data / pattern)))
            for f in files:
                img = cv2.imread(f, 0)
                try:
                    fq.check_is_fingerprint(img, 500)
                    area, share, _ = ridge_measures(img)
                    passing.append(f"{Path(f).name} ({area:.0f}, {share:.2f})")
                except NotASample:
                    refused += 1
            lines.append(f"| {name} | {len(files)} | {refused} | {', '.join(passing) or '-'} |")
            print(lines[-1], flush=True)
            flush()
    lines += ["", f"Run time {time.time() - t0:.0f} s."]
    flush()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
