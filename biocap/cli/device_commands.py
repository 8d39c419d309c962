"""`biocap devices | info | capture | preview | demo`: the device side of the command line.

Every command takes `--usb-recording DIR` to add a recorded bus (replayed traffic of a real
sensor) next to the live and emulated ones.
"""
from __future__ import annotations

import argparse
import csv
import importlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import cv2

from ..errors import BiocapError, InvalidDataError, NoSuchDevice
from ..types import CaptureRequest, FingerPosition, IrisPosition, Modality, Sample


def register(sub: argparse._SubParsersAction) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--usb-recording", type=Path, metavar="DIR",
                        help="also offer the device recorded in DIR (replayed USB traffic)")

    p = sub.add_parser("devices", parents=[common], help="list the connected capture devices")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=_devices)

    p = sub.add_parser("info", parents=[common], help="describe one device")
    p.add_argument("device", help="device id (or its modality / driver name when unambiguous)")
    p.set_defaults(func=_info)

    p = sub.add_parser("capture", parents=[common],
                       help="capture a sample: PNG + JSON sidecar (+ CSV pen series for signatures)")
    p.add_argument("device", help="device id (or its modality / driver name when unambiguous)")
    p.add_argument("--out", type=Path, required=True, help="folder for the files")
    p.add_argument("--position", action="append", default=[],
                   help="finger code 1-10 / 13-15 or name (right_index...), iris right/left; repeatable")
    p.add_argument("--quality", type=int, default=40,
                   help="auto-capture as soon as the SDK quality reaches this (0-100)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per position")
    p.set_defaults(func=_capture)

    p = sub.add_parser("preview", parents=[common], help="live frames with their quality")
    p.add_argument("device")
    p.add_argument("--frames", type=int, default=30, help="how many frames to show")
    p.add_argument("--position", default=None, help="position to preview")
    p.set_defaults(func=_preview)

    p = sub.add_parser("demo", parents=[common],
                       help="find the simulated sensors, capture each modality, store an enrollment")
    p.add_argument("--out", type=Path, default=Path("demo-output"))
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--quality", type=int, default=40)
    p.add_argument("--subject", default="demo-subject-0001")
    p.set_defaults(func=_demo)


# --- building the SDK -----------------------------------------------------------------------------
def make_sdk(args: argparse.Namespace):
    from ..sdk import SDK
    extra = []
    if getattr(args, "usb_recording", None):
        try:
            recording = importlib.import_module("biocap.plugins.recording")
        except ModuleNotFoundError as exc:
            if exc.name in ("biocap.plugins.recording",):
                raise BiocapError("--usb-recording needs biocap.plugins.recording, which this "
                                  "build does not have") from exc
            raise
        extra.append(recording.open_recording(args.usb_recording))
    return SDK(extra_buses=extra)


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- devices / info -------------------------------------------------------------------------------
def _devices(args: argparse.Namespace) -> int:
    sdk = make_sdk(args)
    infos = sdk.devices()
    if args.json:
        print(json.dumps([i.to_json() for i in infos], indent=2))
    else:
        if not infos:
            print("no capture devices found")
        for info in infos:
            print(f"{info.id:34} {info.modality.value:11} {info.vendor} {info.model} "
                  f"(serial {info.serial})")
    for problem in sdk.problems:
        print(f"warning: {problem}", file=sys.stderr)
    return 0


def _info(args: argparse.Namespace) -> int:
    sdk = make_sdk(args)
    info = sdk._resolve(args.device).info
    for key, value in info.to_json().items():
        print(f"{key:11} {value}")
    return 0


# --- positions ------------------------------------------------------------------------------------
def parse_position(text: str, modality: Modality) -> int:
    text = text.strip()
    enum = IrisPosition if modality is Modality.IRIS else FingerPosition
    if text.isdigit():
        try:
            return int(enum(int(text)))
        except ValueError:
            pass
    else:
        name = text.upper().replace("-", "_")
        if name in enum.__members__:
            return int(enum[name])
    choices = ", ".join(m.name.lower() for m in enum)
    raise InvalidDataError(f"unknown {modality.value} position {text!r}; use a code or one of {choices}")


def position_name(sample: Sample) -> str:
    return sample.position.name.lower() if sample.position is not None else "none"


# --- writing a sample -----------------------------------------------------------------------------
def sample_record(sample: Sample, report, auto_captured: bool | None = None) -> dict[str, Any]:
    """Every metadata field of a captured sample, JSON-ready (the sidecar's content)."""
    return {
        "modality": sample.modality.value,
        "position": None if sample.position is None else int(sample.position),
        "position_name": position_name(sample),
        "ppi": sample.ppi, "width": sample.width, "height": sample.height,
        "captured_at": sample.captured_at.isoformat(),
        "device": sample.device.to_json() if sample.device else None,
        "device_quality": sample.device_quality,
        "sdk_quality": report.score if report is not None else None,
        "quality_report": report.to_json() if report is not None else None,
        "auto_captured": auto_captured,
        "pen_points": len(sample.pen) if sample.pen is not None else None,
        "metadata": _jsonable(sample.metadata),
    }


def _jsonable(value):
    return json.loads(json.dumps(value, default=str))


def write_sample(sample: Sample, report, out: Path, stem: str,
                 auto_captured: bool | None = None) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {"image": out / f"{stem}.png", "sidecar": out / f"{stem}.json"}
    if not cv2.imwrite(str(paths["image"]), sample.image):
        raise InvalidDataError(f"could not write {paths['image']}")
    record = sample_record(sample, report, auto_captured)
    if sample.pen is not None:
        paths["pen"] = out / f"{stem}.csv"
        pen = sample.pen
        with open(paths["pen"], "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["t_ms", "x", "y", "pressure", "pen_down"])
            for row in zip(pen.t_ms, pen.x, pen.y, pen.pressure, pen.pen_down):
                writer.writerow([f"{row[0]:g}", f"{row[1]:g}", f"{row[2]:g}", f"{row[3]:g}", int(row[4])])
    record["files"] = {k: p.name for k, p in paths.items()}
    paths["sidecar"].write_text(json.dumps(record, indent=2) + "\n")
    return paths


def _describe(sample: Sample, report) -> str:
    sdk = report.score if report is not None and report.score is not None else \
        f"none ({report.reason})" if report is not None else "none"
    return (f"{sample.modality.value} {position_name(sample)}: {sample.width}x{sample.height} "
            f"@ {sample.ppi:g} ppi, device quality {sample.device_quality}, SDK quality {sdk}")


# --- capture --------------------------------------------------------------------------------------
def _capture(args: argparse.Namespace) -> int:
    sdk = make_sdk(args)
    with sdk.open(args.device) as device:
        modality = device.info.modality
        positions = tuple(parse_position(p, modality) for p in args.position)
        request = CaptureRequest(modality, positions=positions, quality_threshold=args.quality,
                                 timeout_s=args.timeout)
        _progress(f"capturing {modality.value} on {device.info.id} "
                  f"(positions {list(positions) or 'default'}, quality >= {args.quality}, "
                  f"timeout {args.timeout:g} s)...")
        result = device.capture(request)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    for sample, report, auto in zip(result.samples, result.reports, result.auto_captured):
        stem = f"{modality.value}_{position_name(sample)}_{stamp}"
        paths = write_sample(sample, report, args.out, stem, auto)
        print(f"{_describe(sample, report)} -> {paths['image']}")
    return 0


# --- preview --------------------------------------------------------------------------------------
def _preview(args: argparse.Namespace) -> int:
    sdk = make_sdk(args)
    with sdk.open(args.device) as device:
        modality = device.info.modality
        positions = (parse_position(args.position, modality),) if args.position else ()
        request = CaptureRequest(modality, positions=positions, timeout_s=3600)
        tty = sys.stdout.isatty()
        started = time.monotonic()
        n = 0
        for n, frame in enumerate(device.preview(request, max_frames=args.frames), 1):
            score = frame.sdk_score
            bar_value = score if score is not None else (frame.device_quality or 0)
            bar = "#" * (bar_value // 5)
            line = (f"frame {n:4d}  device {frame.device_quality if frame.device_quality is not None else '-':>3}"
                    f"  sdk {score if score is not None else '-':>3}  [{bar:<20}]  {frame.hint}")
            print(("\r" + line[:110].ljust(110)) if tty else line, end="" if tty else "\n", flush=True)
        if tty:
            print()
        elapsed = time.monotonic() - started
        print(f"{n} frames in {elapsed:.2f} s ({n / elapsed if elapsed else 0:.1f} frames/s)")
    return 0


# --- demo -----------------------------------------------------------------------------------------
DEMO_PLAN = (
    (Modality.FINGERPRINT, (FingerPosition.RIGHT_INDEX, FingerPosition.LEFT_INDEX)),
    (Modality.IRIS, (IrisPosition.RIGHT, IrisPosition.LEFT)),
    (Modality.FACE, ()),
    (Modality.SIGNATURE, ()),
)


def _demo(args: argparse.Namespace) -> int:
    from ..store import EnrollmentStore
    sdk = make_sdk(args)
    _progress("discovering devices...")
    infos = sdk.devices()
    for info in infos:
        _progress(f"  found {info.id}: {info.vendor} {info.model} ({info.modality.value})")
    by_modality: dict[Modality, list] = {}
    for info in infos:
        by_modality.setdefault(info.modality, []).append(info)
    missing = [m.value for m, _ in DEMO_PLAN if m not in by_modality]
    if missing:
        raise NoSuchDevice(f"demo needs a device for {', '.join(missing)}; found "
                           f"{', '.join(i.id for i in infos) or 'none'}",
                           hint="install the simulator: pip install -e plugins/vendor_sim")
    args.out.mkdir(parents=True, exist_ok=True)
    captured = []
    steps = len(DEMO_PLAN)
    for step, (modality, positions) in enumerate(DEMO_PLAN, 1):
        # prefer a simulated device so the demo runs the same everywhere
        info = sorted(by_modality[modality], key=lambda i: i.bus != "sim")[0]
        names = ", ".join(p.name.lower() for p in positions) or "default"
        _progress(f"[{step}/{steps}] capturing {modality.value} ({names}) on {info.id}...")
        request = CaptureRequest(modality, positions=tuple(int(p) for p in positions),
                                 quality_threshold=args.quality, timeout_s=args.timeout)
        with sdk.open(info.id) as device:
            result = device.capture(request)
        for sample, report, auto in zip(result.samples, result.reports, result.auto_captured):
            stem = f"{modality.value}_{position_name(sample)}"
            paths = write_sample(sample, report, args.out, stem, auto)
            print(f"  {_describe(sample, report)} -> {paths['image'].name}")
            if sample.pen is not None:  # the ISO/IEC 19794-7 record and the card image beside it
                from .signature_outputs import write_signature_outputs
                extra = write_signature_outputs(sample, args.out, stem)
                print(f"  signature record -> {extra['iso19794_7'].name}, card image -> "
                      f"{extra['card_image'].name}")
            captured.append((sample, report, auto))
    enrollment_meta = {"tool": "biocap demo", "devices": [i.id for i in infos]}
    enrollment_meta.update(_demo_templates_and_verification(sdk, args, captured, by_modality))
    db_path = args.out / "enrollment.sqlite"
    _progress(f"storing the enrollment record in {db_path}...")
    with EnrollmentStore(db_path) as store:
        enrollment_id = store.add_enrollment(
            args.subject, [(s, r) for s, r, _ in captured],
            metadata=enrollment_meta)
        problems = store.check_integrity()
        count = len(store.samples(enrollment_id))
    if problems:
        raise InvalidDataError(f"the stored enrollment failed its integrity check: {problems}")
    print(f"enrollment {enrollment_id} of {args.subject}: {count} samples stored in {db_path}")
    return 0


def _demo_templates_and_verification(sdk, args, captured, by_modality) -> dict[str, Any]:
    """Templates of what was captured (the fingers as one ISO/IEC 19794-2:2011 record), then the
    desk's 1:1 check: the index fingers captured again and verified against the fresh templates."""
    from ..enrollment import extract_templates, verify
    from ..templates.formats import encode
    from ..templates.formats.record import FingerprintRecord

    samples = [s for s, _, _ in captured]
    _progress("extracting templates...")
    templates = extract_templates(sdk, samples)
    summary: dict[str, Any] = {"templates": {}, "verification": []}
    fingers = {int(samples[i].position): t for i, t in templates.items()
               if samples[i].modality is Modality.FINGERPRINT}
    for i, t in templates.items():
        if samples[i].modality is Modality.IRIS:
            print(f"  iris {position_name(samples[i])}: code of {t.usable_bits} usable bits")
    if not fingers:
        return summary
    for position, t in fingers.items():
        print(f"  fingerprint {FingerPosition(position).name.lower()}: {len(t)} minutiae")
    record_path = args.out / "fingerprints.iso19794-2-2011"
    record = FingerprintRecord.from_templates(list(fingers.values()), format="iso19794-2:2011")
    record_path.write_bytes(encode(record, "iso19794-2:2011"))
    print(f"  finger minutiae record -> {record_path.name}")
    summary["templates"]["fingerprint"] = record_path.name

    fp_device = sorted(by_modality[Modality.FINGERPRINT], key=lambda i: i.bus != "sim")[0]
    _progress("verifying the index fingers 1:1 (captured again)...")
    request = CaptureRequest(Modality.FINGERPRINT, positions=tuple(fingers),
                             quality_threshold=args.quality, timeout_s=args.timeout)
    with sdk.open(fp_device.id) as device:
        probes = device.capture(request).samples
    for probe in probes:
        result = verify(sdk, fingers[int(probe.position)], probe)
        verdict = "MATCH" if result.accepted else "NO MATCH"
        print(f"  {FingerPosition(result.position).name.lower()}: score {result.score:.3f}, "
              f"threshold {result.threshold:.3f} at FMR {result.fmr:g} -> {verdict}")
        summary["verification"].append({"position": result.position, "score": result.score,
                                         "threshold": result.threshold, "fmr": result.fmr,
                                         "accepted": result.accepted})
    return summary
