"""`biocap template extract|info|convert`: minutiae templates and the standard record formats.

`info --json` prints the format, the header fields and `views`, each with its finger position
and `minutiae`: objects with `x`, `y` (pixels of the view's image), `angle` (DEGREES,
counter-clockwise; the JSON says so in "angle_unit"), `type` and `quality`.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidDataError, InvalidSample, TemplateFormatError

DEFAULT_FORMAT = "iso19794-2:2011"
TYPE_NAMES = {0: "other", 1: "ending", 2: "bifurcation"}


def register(sub: argparse._SubParsersAction) -> None:
    from ..templates.formats import ALL_FORMATS, FORMATS

    template = sub.add_parser("template", help="extract, inspect and convert minutiae templates")
    cmds = template.add_subparsers(dest="template_command", metavar="ACTION", required=True)

    p = cmds.add_parser("extract", help="extract minutiae from a fingerprint image")
    p.add_argument("image", type=Path, help="fingerprint image (PNG, TIFF, BMP, ...)")
    p.add_argument("--ppi", type=float, required=True, help="resolution of the image")
    p.add_argument("--out", type=Path, required=True, help="record file to write")
    p.add_argument("--format", default=DEFAULT_FORMAT, choices=FORMATS)
    p.add_argument("--position", type=int, default=0, help="finger position code (ISO 19794)")
    p.add_argument("--overlay", type=Path, help="also write the image with the minutiae (PNG)")
    p.set_defaults(func=_extract)

    p = cmds.add_parser("info", help="show a record's format, header and minutiae (or face images)")
    p.add_argument("file", type=Path)
    p.add_argument("--json", action="store_true", help="print JSON instead of a summary")
    p.add_argument("--format", choices=ALL_FORMATS, help="skip detection (needed for a bare card)")
    p.add_argument("--lenient", action="store_true",
                   help="accept views without minutiae and minutiae outside the image")
    p.add_argument("--overlay", type=Path, help="draw the minutiae of --view on --image (PNG)")
    p.add_argument("--image", type=Path, help="the image the record was extracted from")
    p.add_argument("--view", type=int, default=0, help="view index for --overlay")
    p.set_defaults(func=_info)

    p = cmds.add_parser("convert", help="re-encode a record in another format")
    p.add_argument("input", type=Path)
    p.add_argument("output", type=Path)
    p.add_argument("--to", required=True, choices=ALL_FORMATS)
    p.add_argument("--view", type=int, help="keep only this view (the card format holds one)")
    p.add_argument("--card-max", type=int, help="card: keep at most N minutiae (ISO removal rule)")
    p.add_argument("--card-sort", default="none",
                   choices=["none", "x_ascending", "x_descending", "y_ascending", "y_descending"],
                   help="card: minutiae order the card's Biometric Information Template asks for")
    p.add_argument("--dialect", choices=["nbis"],
                   help="nbis: the one-view ISO 19794-2:2005 variant NIST nbis-py loads "
                        "(its loader reads standard records as empty)")
    p.set_defaults(func=_convert)


# --- helpers ----------------------------------------------------------------------------------
def _read_record_bytes(path: Path) -> bytes:
    size = path.stat().st_size
    if size > 1 << 26:
        raise TemplateFormatError(f"{path} is {size} bytes, far larger than any minutiae record",
                                  field="record_length", offset=0)
    return path.read_bytes()


def _load_image(path: Path):
    import cv2

    if not path.is_file():
        raise FileNotFoundError(f"image {path} not found")
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise InvalidSample(f"cannot read {path} as an image",
                            hint="give a PNG, TIFF, BMP or JPEG fingerprint image")
    return image


def _write_overlay(image, template, out: Path) -> None:
    import cv2

    from ..templates.fingerprint.overlay import draw_minutiae

    if template.width != image.shape[1] or template.height != image.shape[0]:
        raise InvalidDataError(
            f"image is {image.shape[1]}x{image.shape[0]} but the template refers to a "
            f"{template.width}x{template.height} image", hint="give the image it came from")
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), draw_minutiae(image, template)):
        raise InvalidDataError(f"could not write the overlay to {out}",
                               hint="use a .png file name in a writable folder")


def view_to_json(view) -> dict[str, Any]:
    m = view.minutiae
    minutiae = [{"x": float(x), "y": float(y), "angle": round(math.degrees(a) % 360.0, 4),
                 "type": TYPE_NAMES.get(int(t), str(int(t))), "quality": int(q)}
                for x, y, a, t, q in zip(m["x"].tolist(), m["y"].tolist(), m["angle"].tolist(),
                                         m["type"].tolist(), m["quality"].tolist())]
    extended = {}
    for key, value in view.extended.items():
        if key == "vendor_blocks":
            value = [{"type": b["type"], "data_hex": bytes(b["data"]).hex()} for b in value]
        elif key == "ridge_counts":
            value = {"method": value["method"], "edges": [list(e) for e in value["edges"]]}
        elif key == "card_objects":
            value = [{"tag": o["tag"], "data_hex": bytes(o["data"]).hex()} for o in value]
        elif isinstance(value, (bytes, bytearray)):
            value = bytes(value).hex()
        elif isinstance(value, dict):
            value = {str(k): v for k, v in value.items()}
        extended[key] = value
    return {
        "finger_position": view.position,
        "view_number": view.view,
        "impression_type": view.impression_type,
        "finger_quality": view.quality,
        "width": view.width,
        "height": view.height,
        "ppi": round(view.ppi, 3),
        "angle_unit": "degrees counter-clockwise from the x axis (y down)",
        "quality_note": "0-100; 255 = not reported",
        "minutiae": minutiae,
        "singular_points": [
            {"kind": p.kind, "x": p.x, "y": p.y,
             "angles": [round(math.degrees(a) % 360.0, 4) for a in (p.angles or (
                 (p.angle,) if p.angle is not None else ()))]}
            for p in view.singular_points],
        "extended": extended,
    }


def record_to_json(record) -> dict[str, Any]:
    return {"format": record.format, "header": record.header_fields(), "notes": record.notes,
            "views": [view_to_json(v) for v in record.views]}


# --- commands ---------------------------------------------------------------------------------
def _extract(args: argparse.Namespace) -> int:
    from ..templates.formats import FingerprintRecord, encode
    from ..types import Modality, Sample

    from ..templates.fingerprint import extract_template

    image = _load_image(args.image)
    sample = Sample(image=image, ppi=args.ppi, modality=Modality.FINGERPRINT)
    template = extract_template(sample)
    template.position = args.position
    if len(template) > 255:   # the record formats hold 255 minutiae per view: keep the best
        best = np.sort(np.argsort(-template.minutiae["quality"].astype(int), kind="stable")[:255])
        print(f"note: kept the 255 best of {len(template)} minutiae", file=sys.stderr)
        template.minutiae = template.minutiae[best]
    record = FingerprintRecord.from_templates([template], format=args.format)
    data = encode(record, args.format)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    if args.overlay:
        _write_overlay(image, template, args.overlay)
    print(f"{args.out}: {args.format}, {len(template)} minutiae, {len(data)} bytes")
    return 0


def _info(args: argparse.Namespace) -> int:
    from ..templates.formats import decode

    record = decode(_read_record_bytes(args.file), args.format, strict=not args.lenient)
    if getattr(record, "images", None) is not None:     # an ISO/IEC 19794-5 face record
        return _face_info(args, record)
    if args.overlay:
        if args.image is None:
            raise InvalidDataError("--overlay needs --image, the picture the record refers to")
        if not 0 <= args.view < len(record.views):
            raise InvalidDataError(f"--view {args.view}: the record has {len(record.views)} views")
        _write_overlay(_load_image(args.image), record.views[args.view], args.overlay)
    if args.json:
        json.dump(record_to_json(record), sys.stdout, indent=2)
        print()
        return 0
    header = record.header_fields()
    print(f"{args.file}: {record.format}, {len(record.views)} view(s)")
    print("  " + ", ".join(f"{k}={v}" for k, v in header.items() if v not in (None, "")))
    for i, view in enumerate(record.views):
        print(f"  view {i}: finger position {view.position}, view {view.view}, "
              f"{len(view)} minutiae, {view.width}x{view.height} px at {view.ppi:.0f} ppi, "
              f"quality {view.quality}, {len(view.singular_points)} cores/deltas")
    for note in record.notes:
        print(f"  note: {note}")
    return 0


def _face_info(args: argparse.Namespace, record) -> int:
    images = []
    for img in record.images:
        item = img.summary()
        try:
            width, height, components = img.payload_dimensions()
            item["payload"] = {"width": width, "height": height, "components": components}
        except TemplateFormatError as exc:
            item["payload"] = {"error": str(exc)}
        images.append(item)
    if args.json:
        json.dump({"format": record.format, "header": record.header_fields(), "notes": record.notes,
                   "images": images}, sys.stdout, indent=2)
        print()
        return 0
    print(f"{args.file}: {record.format}, {len(images)} face image(s)")
    for i, item in enumerate(images):
        pose = item["pose_degrees"]
        print(f"  image {i}: {item['face_image_type']}, {item['image_data']} {item['width']}x"
              f"{item['height']} ({item['image_bytes']} bytes), {item['colour_space']}")
        print(f"    gender {item['gender']}, eyes {item['eye_colour']}, hair {item['hair_colour']}, "
              f"expression {item['expression']}, features: {', '.join(item['features']) or 'none'}")
        print(f"    pose yaw/pitch/roll {pose['yaw']}/{pose['pitch']}/{pose['roll']} degrees, "
              f"{len(item['feature_points'])} feature points")
        if "error" in item["payload"]:
            print(f"    payload: {item['payload']['error']}")
    for note in record.notes:
        print(f"  note: {note}")
    return 0


def _convert(args: argparse.Namespace) -> int:
    from ..templates.formats import decode, encode

    record = decode(_read_record_bytes(args.input))
    if getattr(record, "images", None) is not None:     # face records convert between editions
        data = encode(record, args.to)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_bytes(data)
        print(f"{args.output}: {record.format} -> {args.to}, {len(record.images)} face image(s), "
              f"{len(data)} bytes")
        return 0
    if args.view is not None:
        if not 0 <= args.view < len(record.views):
            raise InvalidDataError(f"--view {args.view}: the record has {len(record.views)} views")
        record.views = [record.views[args.view]]
    if args.card_max is not None or args.card_sort != "none":
        from ..templates.formats import iso19794_2_card

        if args.to != iso19794_2_card.NAME:
            raise InvalidDataError("--card-max/--card-sort apply to --to iso19794-2:card")
        record.views = [iso19794_2_card.prepare_for_card(v, max_minutiae=args.card_max,
                                                         sort=args.card_sort)
                        for v in record.views]
    if args.dialect == "nbis":
        from ..templates.formats import iso19794_2_2005

        if args.to != iso19794_2_2005.NAME or len(record.views) != 1:
            raise InvalidDataError("--dialect nbis writes one view as iso19794-2:2005",
                                   hint="add --to iso19794-2:2005 and, if needed, --view N")
        data = iso19794_2_2005.encode_nbis(record.views[0])
    else:
        data = encode(record, args.to)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(data)
    print(f"{args.output}: {record.format} -> {args.to}{' (NBIS dialect)' if args.dialect else ''}"
          f", {len(record.views)} view(s), {len(data)} bytes")
    return 0
