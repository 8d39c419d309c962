"""Capture overhead of the SDK over bare pyusb, and preview frame rate, on the emulated bus.

    .venv/bin/python benchmarks/bench_capture.py [--repeats 200] [--frames 60] [--out DIR]

1. Time from `device.capture(request)` to the `Sample` for a 500 ppi 400x500 fingerprint image
   through the SDK (driver, protocol checks, CRCs, Sample validation), against the very same
   transfers (ARM, POLL, GRAB, 4 x READ_CHUNK, DISARM) done with bare `dev.write`/`dev.read` on
   the same backend, interleaved in the same run. Medians; overhead = SDK / bare - 1 (target
   <= 10%). No quality provider is registered for this part, so the figure is the capture
   pipeline itself (scoring is the quality provider's cost, reported apart below).
2. Preview frame rate on the fingerprint scanner, with the installed quality providers (quick
   assessment per frame) and without any (target >= 15 frames/s).
Prints the report (Markdown) on stdout; with `--out DIR` also writes DIR/bench_capture.json and
DIR/bench_capture.md (the committed report is `--out benchmarks`).
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from biocap import SDK
from biocap.types import CaptureRequest
from biocap_vendor_sim import protocol as p
from biocap_vendor_sim.sources import make_source
from biocap_vendor_sim.testing import sim_sdk



def _immediate(backend) -> None:
    """The subject is always ready at the first poll: we time transfers, not the subject."""
    fw = backend.device("fingerprint").firmware
    fw.presentation_delay_polls = (0, 1)
    fw.off_centre_rate = 0.0


def bare_capture(dev, seq: list[int]) -> np.ndarray:
    """The same command sequence as the driver's, with raw pyusb calls and no checks."""
    def cmd(op, payload=b"", size=4096):
        seq[0] = (seq[0] + 1) & 0xFF
        dev.write(p.EP_OUT, p.encode_frame(p.Kind.COMMAND, op, seq[0], payload), 500)
        return bytes(dev.read(p.EP_IN, size, 500))

    cmd(p.Op.ARM, p.ARM.pack(2, 0))
    cmd(p.Op.POLL)
    info = cmd(p.Op.GRAB)
    _, _, ppi, _ = p.FRAME_INFO.unpack_from(info, p.HEADER_SIZE)
    _, _, width, height, size, _, chunks = p.BLOB_INFO.unpack_from(info, p.HEADER_SIZE + p.FRAME_INFO.size)
    parts = [cmd(p.Op.READ_CHUNK, p.CHUNK_REQ.pack(0, i), p.OVERHEAD + 3 + p.CHUNK_SIZE)[p.HEADER_SIZE + 3:-4]
             for i in range(chunks)]
    cmd(p.Op.DISARM)
    return np.frombuffer(b"".join(parts), np.uint8).reshape(height, width)


def measure_overhead(repeats: int) -> dict:
    sources = {"fingerprint": make_source("fingerprint-synthetic")}
    sdk, backend = sim_sdk(seed=0, sources=sources, modalities=("fingerprint",))
    _immediate(backend)
    request = CaptureRequest("fingerprint", positions=(2,), timeout_s=5)
    sdk_times, bare_times = [], []
    with sdk.open("fingerprint") as device:
        raw = device.driver.usb_device  # the same pyusb Device, interface already claimed
        seq = [100]
        for i in range(repeats + 5):
            order = (0, 1) if i % 2 else (1, 0)  # interleave, alternating who goes first
            for which in order:
                t0 = time.perf_counter()
                if which == 0:
                    sample = device.capture(request).samples[0]
                else:
                    image = bare_capture(raw, seq)
                elapsed = time.perf_counter() - t0
                if i >= 5:  # warm-up excluded
                    (sdk_times if which == 0 else bare_times).append(elapsed)
        assert sample.image.shape == image.shape == (500, 400) and sample.ppi == 500
    sdk_ms, bare_ms = statistics.median(sdk_times) * 1e3, statistics.median(bare_times) * 1e3
    return {"image": "400x500 at 500 ppi (200,000 bytes, 4 chunks)", "repeats": repeats,
            "sdk_median_ms": round(sdk_ms, 3), "bare_pyusb_median_ms": round(bare_ms, 3),
            "ratio": round(sdk_ms / bare_ms, 3), "overhead_pct": round((sdk_ms / bare_ms - 1) * 100, 1),
            "target_overhead_pct": 10.0, "met": sdk_ms / bare_ms <= 1.10}


def measure_scoring(repeats: int) -> dict:
    """Cost of the installed fingerprint quality provider on the captured frames (information)."""
    sdk = SDK()
    provider = sdk.quality_provider("fingerprint")
    if provider is None:
        return {"provider": None}
    src_sdk, backend = sim_sdk(seed=0, sources={"fingerprint": make_source("fingerprint-synthetic")},
                               modalities=("fingerprint",))
    _immediate(backend)
    with src_sdk.open("fingerprint") as device:
        sample = device.capture(CaptureRequest("fingerprint", positions=(2,))).samples[0]
    full, quick = [], []
    quick_fn = getattr(provider, "quick_assess", None)
    try:
        provider.assess(sample)
    except Exception as exc:  # a provider under construction: say so instead of a figure
        return {"provider": getattr(provider, "name", type(provider).__name__),
                "error": f"{type(exc).__name__}: {exc}"}
    for _ in range(repeats):
        t0 = time.perf_counter()
        provider.assess(sample)
        full.append(time.perf_counter() - t0)
        if quick_fn:
            t0 = time.perf_counter()
            quick_fn(sample)
            quick.append(time.perf_counter() - t0)
    return {"provider": getattr(provider, "name", type(provider).__name__),
            "assess_median_ms": round(statistics.median(full) * 1e3, 2),
            "quick_assess_median_ms": round(statistics.median(quick) * 1e3, 2) if quick else None}


def measure_preview(frames: int) -> dict:
    out = {}
    for label, with_providers in (("with_installed_quality_providers", True), ("device_only", False)):
        sdk, backend = sim_sdk(seed=0, sources={"fingerprint": make_source("fingerprint-synthetic")},
                               modalities=("fingerprint",), load_entry_points=with_providers)
        private = next(d for d in sdk.devices() if d.bus == "sim-private" and d.modality.value == "fingerprint")
        with sdk.open(private.id) as device:
            request = CaptureRequest("fingerprint", positions=(2,))
            stream = device.preview(request, max_frames=frames + 3)
            for _ in range(3):  # warm-up: first presentation and imports
                next(stream)
            t0 = time.perf_counter()
            shown = scored = 0
            for frame in stream:
                shown += 1
                scored += frame.sdk_score is not None
            elapsed = time.perf_counter() - t0
        provider = sdk.quality_provider("fingerprint")
        out[label] = {"frames": shown, "scored_frames": scored, "seconds": round(elapsed, 3),
                      "fps": round(shown / elapsed, 1),
                      "provider": getattr(provider, "name", None) if provider else None}
    worst = min(v["fps"] for v in out.values())
    out.update(target_fps=15, met=worst >= 15)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--out", type=Path,
                        help="also write bench_capture.json and .md here (e.g. benchmarks)")
    args = parser.parse_args()
    report = {
        "command": f"python benchmarks/bench_capture.py --repeats {args.repeats} --frames {args.frames}",
        "machine": f"{platform.machine()} {platform.python_implementation()} {platform.python_version()}",
        "capture_overhead": measure_overhead(args.repeats),
        "quality_scoring": measure_scoring(min(args.repeats, 20)),
        "preview": measure_preview(args.frames),
    }
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "bench_capture.json").write_text(json.dumps(report, indent=2) + "\n")
    c, pv, q = report["capture_overhead"], report["preview"], report["quality_scoring"]
    md = [
        "# Capture benchmark (emulated bus)", "",
        f"Command: `{report['command']}` ({report['machine']}). Medians, interleaved in one run.", "",
        "| measure | value | target | met |", "|---|---|---|---|",
        f"| capture request -> Sample, SDK ({c['image']}) | {c['sdk_median_ms']} ms | | |",
        f"| same transfers, bare pyusb | {c['bare_pyusb_median_ms']} ms | | |",
        f"| SDK overhead | {c['overhead_pct']}% (ratio {c['ratio']}) | <= 10% | {'yes' if c['met'] else 'no'} |",
    ]
    for label, v in pv.items():
        if isinstance(v, dict):
            scored = f", {v['scored_frames']}/{v['frames']} frames scored" if v["provider"] else ""
            md.append(f"| preview, {label.replace('_', ' ')} ({v['provider'] or 'no provider'}{scored}) | "
                      f"{v['fps']} frames/s | >= 15 | {'yes' if v['fps'] >= 15 else 'no'} |")
    if q.get("error"):
        md += ["", f"Quality scoring by `{q['provider']}` failed in this run: {q['error']}"]
    elif q.get("provider"):
        md += ["", f"Quality scoring by `{q['provider']}` (not part of the overhead figure): assess "
               f"{q['assess_median_ms']} ms, quick_assess {q['quick_assess_median_ms']} ms per frame."]
    if args.out:
        (args.out / "bench_capture.md").write_text("\n".join(md) + "\n")
        print(f"wrote {args.out / 'bench_capture.json'} and bench_capture.md", file=sys.stderr)
    print("\n".join(md))


if __name__ == "__main__":
    main()
