"""The package for the centre: one resident's record as a signed, chained ANSI/NIST-ITL 1-2011
transaction (traditional encoding, version 0500).

Records written (built with `nistitl`):

- Type-1: TOT "ENR", DAI the centre, ORI the office, TCN "<office>-<sequence>", TCR the previous
  package's TCN, DOM "BIOCAP" 1.0 (the domain that defines Type-2 and Type-98's user fields).
- Type-2 (IDC 0), minimal: 2.003 subject, 2.004 enrollment id, 2.005 name (when the record's
  metadata has one), 2.006 capture policy, 2.007 operator, 2.008 enrollment start (GMT),
  2.009 complete (0/1), 2.010 exceptions (modality, position, code, reason per subfield),
  2.011 operator overrides (modality, position, step, reason per subfield: a capture accepted
  below the policy's quality after the desk's attempts, with the operator's stated reason).
- Type-14 per finger and per slap, WSQ (NBIS's encoder in `wsq`, WSQ_BITRATE bit/pixel, the image's
  own resolution in 14.009/14.010 and the WSQ comment), 14.024 FQM quality
  (biocap's 0-100 score; 254 = not computed), 14.018 AMP on the slap for an amputated or
  unprintable finger, 14.996 HAS (SHA-256 of the image data).
- Type-9 per finger template: FMT "U", the "other feature set" fields 9.176 OOD, 9.177 PAG,
  9.178 SOD, 9.179 DTX, and the ISO/IEC 19794-2 (or ANSI 378) record base64 in 9.180; its IDC is the
  IDC of the finger's Type-14 record.
- Type-17 per eye and Type-10 for the face: JPEG 2000 lossless (CGA "JP2L", `imagecodecs`,
  reversible 5/3 wavelet: bit-exact), CSP "GRAY", 17.024 IQS / 10.024 SQS quality.
- Type-8 signature: the image (SRT 0, uncompressed, resampled to 19.69 px/mm = 500 ppi as ISR 0
  requires) and, for an online signature, its pen vectors (SRT 2, 0.001 inch units).
- Type-99 (CBEFF biometric data record) per iris and face template the desk extracted: the
  biocap template record (`encode_template_record`: versioned, CRC-32, the template's own
  `to_bytes()` and the extraction algorithm's id) in 99.999 BDB, BFO "FFFF" / BFT "0001", BTY
  iris 00000010 / face 00000002, 99.102 BDQ the capture's quality; its IDC is the IDC of the
  image record it was extracted from (docs/decisions/22-template-records.md). Readers that do not
  know the format skip it; the centre searches it instead of extracting again from the image.
- Type-98 (last): the office, sequence, previous package hash, idempotency key, "Ed25519", the
  key's fingerprint, and 98.207 the Ed25519 signature (hex) over the exact bytes of the
  transaction with that field's 128 hex digits set to "0".

`read_package` verifies before it trusts anything: strict parse (bounded), signature with the
named office's trusted key, mandatory fields, per-image hashes, image sizes against the header
before decoding. `PackageChain` refuses a dropped, replayed or re-chained package.
"""
from __future__ import annotations

import base64
import ctypes
import hashlib
import re
import struct
import sys
import threading
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import cv2
import imagecodecs
import nistitl
import numpy as np
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ..errors import TemplateFormatError
from ..types import MAX_IMAGE_SIDE, Modality
from .an2k import FS, Transaction, missing_fields, read_transaction
from .errors import PackageError
from .keys import OfficeIdentity
from .records import CaptureRecord, ResidentRecord

# --- parameters (one place, one reason each) -------------------------------------------------------
VERSION = "0500"                 # ANSI/NIST-ITL 1-2011
DOMAIN = ("BIOCAP", "1.0")       # 1.013: the domain defining Type-2 and Type-98 user fields
TOT = "ENR"                      # transaction type: an enrollment
WSQ_BITRATE = 1.5                # lowest rate losing no genuine pair on FVC2002 DB1 B (decisions/21-wsq-bitrate.md)
SIGNATURE_PPI = 500              # Type-8 ISR 0 = 19.69 px/mm
QUALITY_VENDOR = "FFFF"          # QAV: biocap has no registered CBEFF owner code
QUALITY_PRODUCT = "1"            # QAP: biocap's own quality algorithms
TEMPLATE_OWNER = "ISO/IEC JTC 1/SC 37"
MAX_PACKAGE = 256 * 1024 * 1024  # a package is refused unread above this
SIG_TAG = b"98.207:"
SIG_HEX = 128                    # 64-byte Ed25519 signature as hex
ZERO_HASH = b"\x00" * 32
_FINGER_FORMATS = ("iso19794-2", "ansi378")
CBEFF_HEADER_VERSION = "0101"    # 99.100 HDV: CBEFF 1.1, the header version ANSI/NIST-ITL 1-2011 names
TEMPLATE_RECORD_OWNER = "FFFF"   # 99.103 BFO: biocap has no registered CBEFF owner code (as QAV)
TEMPLATE_RECORD_TYPE = "0001"    # 99.104 BFT: the biocap template record, layout version 1
IRIS_TEMPLATE = "biocap-iris:IrisTemplate"   # CaptureRecord.templates names (station/templates.py)
FACE_TEMPLATE = "biocap-face:FaceTemplate"
#: CBEFF biometric types (99.101 BTY) of the template records written
_TEMPLATE_BTY = {IRIS_TEMPLATE: "00000010", FACE_TEMPLATE: "00000002"}
MAX_TEMPLATE_RECORD = 64 * 1024  # an iris template is ~600 B, a face one ~750 B: anything larger is refused
_TR_MAGIC = b"BCTR"
_TR_VERSION = 1


@dataclass(frozen=True)
class FingerEntry:
    position: int
    image: np.ndarray
    ppi: float
    quality: int | None
    impression: int
    compressed: bytes
    templates: dict[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class TemplateRecord:
    """A template the office extracted at the desk, as carried in a Type-99 record."""

    format: str      # e.g. "biocap-iris:IrisTemplate"
    algorithm: str   # the extraction algorithm's id (`template_algorithm`), "" when not known
    data: bytes      # the template's own `to_bytes()` (versioned, checksummed)


@dataclass(frozen=True)
class ImageEntry:
    position: int
    image: np.ndarray
    ppi: float
    quality: int | None
    compressed: bytes
    templates: dict[str, TemplateRecord] = field(default_factory=dict)  # format -> record (Type-99)


@dataclass(frozen=True)
class SignatureEntry:
    image: np.ndarray | None
    ppi: float
    vectors: np.ndarray | None  # (n, 3): x, y in 0.001 inch, pressure 0 (pen up) .. 255


@dataclass(frozen=True)
class ResidentPackage:
    office_id: str
    sequence: int
    previous_hash: bytes
    package_hash: bytes
    idempotency_key: str
    subject: str
    enrollment_id: str
    name: str | None
    policy: str
    operator: str
    complete: bool
    fingers: dict[int, FingerEntry]          # single fingers, positions 1-10
    irises: dict[int, ImageEntry]
    face: ImageEntry | None
    signature: SignatureEntry | None
    exceptions: list[dict[str, Any]]
    warnings: list[str]
    slaps: dict[int, FingerEntry] = field(default_factory=dict)  # 13, 14, 15: four-finger/thumb slaps
    overrides: list[dict[str, Any]] = field(default_factory=list)  # 2.011: modality, position, step, reason


# --- helpers -----------------------------------------------------------------------------------------
_LOWER_HEX = re.compile(rb"[0-9a-f]{128}")
_TEXT_OK = re.compile(r"^[^\x00-\x1f\x7f]*$")


def _text(value: Any, what: str) -> str:
    s = "" if value is None else str(value)
    if not _TEXT_OK.match(s) or len(s) > 1000:
        raise PackageError(f"{what} holds control characters or is too long for a text field: {s!r:.60}")
    # nistitl writes latin-1; pass UTF-8 bytes through so any name survives
    return s.encode("utf-8").decode("latin-1")


def _from_field(value: str | None) -> str | None:
    return value  # biocap's reader already decodes field bytes as UTF-8


def _gmt(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y%m%d%H%M%SZ")


def _date(dt: datetime) -> str:
    return dt.strftime("%Y%m%d")


def _quality(capture: CaptureRecord) -> int:
    q = (capture.quality or {}).get("score")
    return int(q) if isinstance(q, (int, float)) and 0 <= q <= 100 else 254


def _qfield(position: int | None, capture: CaptureRecord) -> list:
    items = [str(_quality(capture)), QUALITY_VENDOR, QUALITY_PRODUCT]
    return [[str(position), *items]] if position is not None else [items]


_WSQ_LOCK = threading.Lock()  # NBIS's WSQ encoder keeps its tables in globals
_WSQ_ENCODE: Any = None


def _wsq_encoder() -> Any:
    """NBIS's `wsq_encode_mem` from the `wsq` wheel's C extension.

    `_wsq.compress` ignores its rate argument (`wsq` 0.9 always encodes at 0.75 bit/pixel and writes
    PPI 500 into the WSQ comment); the NBIS function it wraps takes both, as `cwsq` does."""
    global _WSQ_ENCODE
    if _WSQ_ENCODE is None:
        import _wsq
        try:
            fn = ctypes.CDLL(_wsq.__file__).wsq_encode_mem
        except (OSError, AttributeError):
            raise PackageError("the installed `wsq` build does not export NBIS's wsq_encode_mem; "
                               "reinstall `wsq` 0.9 from PyPI") from None
        u8p = ctypes.POINTER(ctypes.c_ubyte)
        fn.argtypes = [ctypes.POINTER(u8p), ctypes.POINTER(ctypes.c_int), ctypes.c_float, u8p,
                       ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_char_p]
        fn.restype = ctypes.c_int
        libc = ctypes.CDLL("ucrtbase") if sys.platform == "win32" else ctypes.CDLL(None)
        libc.free.argtypes = [ctypes.c_void_p]
        _WSQ_ENCODE = (fn, libc.free, u8p)
    return _WSQ_ENCODE


def wsq_encode(image: np.ndarray, ppi: float, bitrate: float | None = None) -> bytes:
    """WSQ (FBI IAFIS-IC-0110 v3, NBIS) at `bitrate` bit/pixel (default WSQ_BITRATE), `ppi`
    written into the WSQ comment."""
    bitrate = WSQ_BITRATE if bitrate is None else float(bitrate)
    h, w = image.shape
    if h < 32 or w < 32:
        raise PackageError(f"a {w}x{h} fingerprint image is too small for WSQ (32x32 minimum)")
    if not 0.1 <= bitrate <= 8.0:
        raise PackageError(f"WSQ bit rate {bitrate} is outside 0.1-8 bit/pixel")
    fn, free, u8p = _wsq_encoder()
    pixels = np.ascontiguousarray(image, np.uint8)
    out, size = u8p(), ctypes.c_int(0)
    with _WSQ_LOCK:
        rc = fn(ctypes.byref(out), ctypes.byref(size), bitrate, pixels.ctypes.data_as(u8p), w, h, 8,
                int(round(ppi)), None)
    if rc != 0 or not out:
        raise PackageError(f"WSQ encoding of a {w}x{h} image failed (NBIS code {rc})")
    try:
        return ctypes.string_at(out, size.value)
    finally:
        free(out)


def _wsq_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the WSQ start-of-frame marker, before decoding anything."""
    pos = 0
    while pos + 10 <= len(data):
        marker = data[pos:pos + 2]
        if marker in (b"\xff\xa0", b"\xff\xa1"):
            pos += 2
        elif marker == b"\xff\xa2":
            return struct.unpack_from(">H", data, pos + 8)[0], struct.unpack_from(">H", data, pos + 6)[0]
        elif marker in (b"\xff\xa3", b"\xff\xa4", b"\xff\xa5", b"\xff\xa6", b"\xff\xa7", b"\xff\xa8"):
            pos += 2 + struct.unpack_from(">H", data, pos + 2)[0]
        else:
            break
    raise PackageError("WSQ data has no readable start-of-frame marker")


def wsq_decode(data: bytes, expect: tuple[int, int] | None = None) -> np.ndarray:
    import _wsq
    w, h = _wsq_size(data)
    if expect is not None and (w, h) != expect:
        raise PackageError(f"WSQ image is {w}x{h} but its record says {expect[0]}x{expect[1]}")
    if not (0 < w <= MAX_IMAGE_SIDE and 0 < h <= MAX_IMAGE_SIDE):
        raise PackageError(f"WSQ image of {w}x{h} exceeds the {MAX_IMAGE_SIDE}-pixel limit")
    try:
        buf, dw, dh, _ = _wsq.decompress(data)
    except Exception as exc:  # noqa: BLE001 - the C decoder raises plain Exceptions
        raise PackageError(f"WSQ data does not decode: {exc}") from None
    if (dw, dh) != (w, h) or len(buf) != w * h:
        raise PackageError("WSQ data decodes to another size than its header says")
    return np.frombuffer(buf, np.uint8).reshape(h, w).copy()


def jp2_encode(image: np.ndarray) -> bytes:
    """JPEG 2000 lossless (reversible 5/3 wavelet, JP2 container): bit-exact."""
    return bytes(imagecodecs.jpeg2k_encode(np.ascontiguousarray(image, np.uint8), level=0,
                                           reversible=True, codecformat="jp2"))


def _jp2_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the JP2 header box and the codestream's SIZ marker, which must agree
    (the decoder allocates what SIZ says)."""
    i = data.find(b"ihdr", 0, 256)
    if i < 0 or i + 12 > len(data):
        raise PackageError("JPEG 2000 data has no image header box")
    h, w = struct.unpack_from(">II", data, i + 4)
    j = data.find(b"\xff\x4f\xff\x51")  # start of codestream + SIZ
    if j < 0 or j + 24 > len(data):
        raise PackageError("JPEG 2000 data has no codestream size marker (SIZ)")
    xs, ys, xo, yo = struct.unpack_from(">IIII", data, j + 8)
    if (xs - xo, ys - yo) != (w, h):
        raise PackageError(f"JPEG 2000 header says {w}x{h} but its codestream {xs - xo}x{ys - yo}")
    return w, h


def jp2_decode(data: bytes, expect: tuple[int, int] | None = None) -> np.ndarray:
    w, h = _jp2_size(data)
    if expect is not None and (w, h) != expect:
        raise PackageError(f"JPEG 2000 image is {w}x{h} but its record says {expect[0]}x{expect[1]}")
    if not (0 < w <= MAX_IMAGE_SIDE and 0 < h <= MAX_IMAGE_SIDE):
        raise PackageError(f"JPEG 2000 image of {w}x{h} exceeds the {MAX_IMAGE_SIDE}-pixel limit")
    try:
        img = imagecodecs.jpeg2k_decode(data)
    except Exception as exc:  # noqa: BLE001 - imagecodecs raises its own error types
        raise PackageError(f"JPEG 2000 data does not decode: {exc}") from None
    if img.shape != (h, w) or img.dtype != np.uint8:
        raise PackageError(f"JPEG 2000 data decodes to {img.shape} {img.dtype}, not {h}x{w} grey")
    return img


def idempotency_key(office_id: str, sequence: int, enrollment_id: str) -> str:
    return f"{office_id}-{sequence:08d}-{enrollment_id[:16]}"


def key_fingerprint(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


# --- the biocap template record (Type-99 BDB) ----------------------------------------------------------
_TR_HEAD = struct.Struct("<4sBBH")  # magic, layout version, reserved (0), format length


def encode_template_record(fmt: str, algorithm: str, data: bytes) -> bytes:
    """magic "BCTR" | version u8 | 0 u8 | format length u16 | format (UTF-8) | algorithm length
    u16 | algorithm (UTF-8) | template length u32 | template | CRC-32 of everything before."""
    f, a, d = fmt.encode(), algorithm.encode(), bytes(data)
    if not 0 < len(f) < 256 or len(a) > 255:
        raise PackageError(f"template format {fmt!r} or algorithm {algorithm!r} is too long")
    body = _TR_HEAD.pack(_TR_MAGIC, _TR_VERSION, 0, len(f)) + f + struct.pack("<H", len(a)) + a \
        + struct.pack("<I", len(d)) + d
    out = body + struct.pack("<I", zlib.crc32(body))
    if len(out) > MAX_TEMPLATE_RECORD:
        raise PackageError(f"a {fmt} template of {len(d)} bytes exceeds the template record limit")
    return out


def decode_template_record(data: bytes) -> TemplateRecord:
    """The record of `encode_template_record`; damaged or of another layout version raises
    PackageError."""
    if len(data) > MAX_TEMPLATE_RECORD or len(data) < _TR_HEAD.size + 10:
        raise PackageError(f"a template record of {len(data)} bytes is not a biocap template record")
    magic, version, _, flen = _TR_HEAD.unpack_from(data)
    if magic != _TR_MAGIC:
        raise PackageError("the template record does not start with BCTR")
    if version != _TR_VERSION:
        raise PackageError(f"template record layout version {version}; this biocap reads {_TR_VERSION}")
    if zlib.crc32(data[:-4]) != struct.unpack_from("<I", data, len(data) - 4)[0]:
        raise PackageError("the template record fails its CRC-32 (damaged)")
    try:
        q = _TR_HEAD.size
        fmt = data[q:q + flen].decode()
        q += flen
        (alen,) = struct.unpack_from("<H", data, q)
        algorithm = data[q + 2:q + 2 + alen].decode()
        q += 2 + alen
        (dlen,) = struct.unpack_from("<I", data, q)
        q += 4
        if q + dlen + 4 != len(data) or len(fmt) != flen or not fmt:
            raise ValueError("lengths do not add up")
    except (ValueError, struct.error, UnicodeDecodeError) as exc:
        raise PackageError(f"the template record is malformed ({exc})") from None
    return TemplateRecord(fmt, algorithm, bytes(data[q:q + dlen]))


_ALGORITHMS: dict[str, str] = {}


def template_algorithm(fmt: str) -> str:
    """The id of the algorithm this build extracts `fmt` templates with: the extractor's name and a
    digest of every parameter it runs with (iris: segmentation, normalisation, encoding; face: the
    template version, the alignment constants and the dlib model package's version). Two builds
    whose ids agree make the same template from the same image; the centre uses a carried
    template only when its id is its own (else it extracts again from the image)."""
    if fmt not in _ALGORITHMS:
        import dataclasses
        import json

        if fmt == IRIS_TEMPLATE:
            from ..templates.iris import IrisExtractor
            from ..templates.iris.template import _VERSION as iris_version

            x = IrisExtractor()
            spec = {"template": iris_version, **dataclasses.asdict(x)}
            name = x.name
        elif fmt == FACE_TEMPLATE:
            from importlib import metadata

            from ..templates.face import extractor as fx
            from ..templates.face.template import VERSION as face_version

            try:
                model = metadata.version("face_recognition_models")
            except metadata.PackageNotFoundError:
                model = "absent"
            spec = {"template": face_version, "model": model, "chip_padding": fx.CHIP_PADDING,
                    "pad_fraction": fx.PAD_FRACTION, "edge_margin": fx.EDGE_MARGIN}
            name = fx.FaceExtractor.name
        else:
            raise PackageError(f"no template algorithm is known for format {fmt!r}")
        digest = hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]
        _ALGORITHMS[fmt] = f"{name}/{digest}"
    return _ALGORITHMS[fmt]


def _template_records(capture: CaptureRecord, idc: int, office_id: str) -> list[nistitl.AsciiRecord]:
    """Type-99 records of the capture's iris / face templates. A templates key "<format>@<algorithm>"
    names its algorithm; a plain "<format>" was made by this build's extractor at the desk."""
    out = []
    for key, blob in sorted(capture.templates.items()):
        fmt, _, algorithm = key.partition("@")
        if fmt not in _TEMPLATE_BTY:
            continue
        r = nistitl.AsciiRecord(99)
        r.IDC = idc
        r._4 = office_id
        r._5 = _date(capture.captured_at)
        r._100 = CBEFF_HEADER_VERSION
        r._101 = _TEMPLATE_BTY[fmt]
        r._102 = _qfield(None, capture)
        r._103 = TEMPLATE_RECORD_OWNER
        r._104 = TEMPLATE_RECORD_TYPE
        r.DATA = encode_template_record(fmt, algorithm or template_algorithm(fmt), bytes(blob))
        out.append(r)
    return out


# --- building ------------------------------------------------------------------------------------------
def _image_record(rtype: int, idc: int, fields: dict[int, Any], data: bytes) -> nistitl.AsciiRecord:
    r = nistitl.AsciiRecord(rtype)
    r.IDC = idc
    for tag, value in sorted(fields.items()):
        setattr(r, f"_{tag}", value)
    r._996 = hashlib.sha256(data).hexdigest().upper()
    r.DATA = data
    return r


def _signature_records(capture: CaptureRecord, idc: int) -> list[nistitl.BinaryRecord]:
    sample = capture.sample
    out = []
    img = sample.image
    if sample.ppi != SIGNATURE_PPI:
        scale = SIGNATURE_PPI / sample.ppi
        size = (max(1, round(img.shape[1] * scale)), max(1, round(img.shape[0] * scale)))
        if max(size) > 65535:
            raise PackageError("the signature image is too large for a Type-8 record")
        img = cv2.resize(img, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    h, w = img.shape
    r = nistitl.BinaryRecord(8)
    r.IDC = idc
    r.value = struct.pack(">BBBHH", 0, 0, 0, w, h) + np.ascontiguousarray(img).tobytes()
    out.append(r)
    if sample.pen is not None:
        pen = sample.pen
        to_mil = 1000.0 / sample.ppi  # pen x/y are in image pixels at sample.ppi
        x = np.clip(np.round(np.asarray(pen.x, float) * to_mil), 0, 65535).astype(">u2")
        y = np.clip(np.round(np.asarray(pen.y, float) * to_mil), 0, 65535).astype(">u2")
        p = np.asarray(pen.pressure, float)
        top = float(np.nanmax(p)) if p.size and np.nanmax(p) > 0 else 1.0
        pressure = np.where(np.asarray(pen.pen_down, bool),
                            np.clip(np.round(1 + 254 * np.nan_to_num(p) / top), 1, 255), 0).astype("u1")
        vec = np.empty(len(x), dtype=[("x", ">u2"), ("y", ">u2"), ("p", "u1")])
        vec["x"], vec["y"], vec["p"] = x, y, pressure
        v = nistitl.BinaryRecord(8)
        v.IDC = idc + 1
        v.value = struct.pack(">BBBHH", 0, 2, 0, 0, 0) + vec.tobytes()
        out.append(v)
    return out


def build_package(record: ResidentRecord, *, office: OfficeIdentity, previous_hash: bytes | None,
                  sequence: int | None = None, centre: str = "CENTRE",
                  created_at: datetime | None = None) -> bytes:
    """The signed transaction for `record`, as link `sequence` of the office's chain.

    `previous_hash` is the SHA-256 of the office's previous package (None for the first, which is
    sequence 1)."""
    if previous_hash is None:
        previous_hash = ZERO_HASH
        sequence = 1 if sequence is None else sequence
    if sequence is None or not isinstance(sequence, int) or sequence < 1:
        raise PackageError("give the package's sequence number (1 for the office's first package)")
    if len(previous_hash) != 32 or (sequence == 1) != (previous_hash == ZERO_HASH):
        raise PackageError("previous_hash must be the 32-byte hash of the previous package "
                           "(None only for sequence 1)")
    if record.enrollment.state != "finished":
        raise PackageError(f"enrollment {record.enrollment_id} of {record.subject} is not finished")
    now = created_at or datetime.now(timezone.utc)
    office_id = _text(office.office_id, "office id")
    key = idempotency_key(office.office_id, sequence, record.enrollment_id)

    msg = nistitl.Message()
    t1 = msg[0]
    t1.VER = VERSION
    t1.TOT = TOT
    t1.DAT = _date(now)
    t1.DAI = _text(centre, "centre id")
    t1.ORI = office_id
    t1.TCN = f"{office_id}-{sequence:08d}"
    if sequence > 1:
        t1.TCR = f"{office_id}-{sequence - 1:08d}"
    t1.DOM = [list(DOMAIN)]
    t1.GMT = _gmt(now)

    t2 = nistitl.AsciiRecord(2)
    t2.IDC = 0
    t2._3 = _text(record.subject, "subject")
    t2._4 = record.enrollment_id
    name = record.metadata.get("name")
    if name:
        t2._5 = _text(name, "name")
    t2._6 = _text(record.enrollment.policy, "policy")
    t2._7 = _text(record.enrollment.operator, "operator")
    t2._8 = _gmt(datetime.fromisoformat(record.enrollment.started_at))
    t2._9 = "1" if record.enrollment.complete else "0"
    if record.exceptions:
        t2._10 = [[e.modality.value, str(e.position), _text(e.code, "exception code"),
                   _text(e.reason, "exception reason") or "-"] for e in record.exceptions]
    overridden = [c for c in record.captures if c.override_reason]
    if overridden:
        t2._11 = [[c.modality.value, str(c.position), _text(c.step, "step"),
                   _text(c.override_reason, "override reason") or "-"] for c in overridden]
    msg += t2

    idc = 1
    amputated = {e.position: ("XX" if "amput" in e.code.lower() else "UP")
                 for e in record.exceptions if e.modality is Modality.FINGERPRINT}
    fingers = sorted((c for c in record.captures if c.modality is Modality.FINGERPRINT),
                     key=lambda c: c.position)
    for c in fingers:
        s = c.sample
        if s.ppi < 300:
            raise PackageError(f"fingerprint {c.step} at {s.ppi} ppi is below the 300 ppi WSQ minimum")
        data = wsq_encode(s.image, s.ppi)
        imp = 1 if str(s.metadata.get("impression", "")).lower() == "rolled" else 0
        fields: dict[int, Any] = {
            3: str(imp), 4: office_id, 5: _date(c.captured_at), 6: str(s.width), 7: str(s.height),
            8: "1", 9: str(round(s.ppi)), 10: str(round(s.ppi)), 11: "WSQ20", 12: "8",
            13: str(c.position), 24: _qfield(c.position, c)}
        if c.position in (13, 14, 15):
            from ..types import FingerPosition
            covered = [int(f) for f in FingerPosition(c.position).fingers]
            amp = [[str(p), amputated[p]] for p in covered if p in amputated]
            if amp:
                fields[18] = amp
        msg += _image_record(14, idc, fields, data)
        for fmt, blob in sorted(c.templates.items()):
            if not fmt.lower().startswith(_FINGER_FORMATS):
                continue
            t9 = nistitl.AsciiRecord(9)
            t9.IDC = idc
            t9._3 = str(imp)
            t9._4 = "U"
            t9._176 = TEMPLATE_OWNER
            t9._177 = _text(f"{fmt} record, base64 (RFC 4648) in 9.180", "template format")
            t9._178 = "biocap"
            t9._179 = office_id
            t9._180 = base64.b64encode(bytes(blob)).decode("ascii")
            msg += t9
        idc += 1
    for c in sorted((c for c in record.captures if c.modality is Modality.IRIS), key=lambda c: c.position):
        s = c.sample
        data = jp2_encode(s.image)
        msg += _image_record(17, idc, {
            3: str(c.position if c.position in (0, 1, 2) else 0), 4: office_id,
            5: _date(c.captured_at), 6: str(s.width), 7: str(s.height), 8: "1",
            9: str(round(s.ppi)), 10: str(round(s.ppi)), 11: "JP2L", 12: "8", 13: "GRAY",
            24: _qfield(None, c)}, data)
        for r in _template_records(c, idc, office_id):
            msg += r
        idc += 1
    faces = [c for c in record.captures if c.modality is Modality.FACE]
    for c in faces[:1]:
        s = c.sample
        data = jp2_encode(s.image)
        msg += _image_record(10, idc, {
            3: "FACE", 4: office_id, 5: _date(c.captured_at), 6: str(s.width), 7: str(s.height),
            8: "1", 9: str(round(s.ppi)), 10: str(round(s.ppi)), 11: "JP2L", 12: "GRAY", 13: "1",
            20: "F", 24: _qfield(None, c)}, data)
        for r in _template_records(c, idc, office_id):
            msg += r
        idc += 1
    for c in [c for c in record.captures if c.modality is Modality.SIGNATURE][:1]:
        for r in _signature_records(c, idc):
            msg += r
        idc += 2
    if idc > 99:
        raise PackageError(f"{idc - 1} image records exceed the 99 IDCs of one transaction")

    t98 = nistitl.AsciiRecord(98)
    t98.IDC = idc
    t98._3 = QUALITY_VENDOR
    t98._4 = office_id
    t98._5 = "0001"
    t98._6 = _gmt(now)
    t98._200 = office_id
    t98._201 = str(sequence)
    t98._202 = previous_hash.hex()
    t98._203 = key
    t98._205 = "Ed25519"
    t98._206 = key_fingerprint(office.public_key)
    t98._207 = "0" * SIG_HEX
    msg += t98
    unsigned = msg.NIST
    if not unsigned.endswith(SIG_TAG + b"0" * SIG_HEX + FS):
        raise PackageError("internal: the signature field is not the transaction's last field")
    signature = office.signing_key.sign(unsigned)
    return unsigned[:-SIG_HEX - 1] + signature.hex().encode() + FS


def package_hash(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


# --- reading -------------------------------------------------------------------------------------------
def _refuse(reason: str) -> PackageError:
    return PackageError(f"package refused: {reason}")


def verify_signature(data: bytes, trusted: dict[str, Ed25519PublicKey]) -> tuple[Transaction, str]:
    """Parse (strict, bounded) and check the signature; the parsed transaction and the office id."""
    if not isinstance(data, (bytes, bytearray)):
        raise _refuse(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > MAX_PACKAGE:
        raise _refuse(f"{len(data)} bytes exceed the {MAX_PACKAGE}-byte limit")
    try:
        tx = read_transaction(data, strict=True)
    except TemplateFormatError as exc:
        raise _refuse(f"malformed transaction: {exc}") from None
    last = tx.records[-1]
    tail = data[-SIG_HEX - 1 - len(SIG_TAG):]
    if last.type != 98 or not tail.startswith(SIG_TAG) or tail[-1:] != FS:
        raise _refuse("no office signature (the last record must be Type-98 ending in 98.207)")
    sig_hex = tail[len(SIG_TAG):-1]
    if not _LOWER_HEX.fullmatch(sig_hex):  # exactly as written: lower-case hex (no other spelling)
        raise _refuse("the signature field 98.207 is not 128 lower-case hex digits (altered)")
    signature = bytes.fromhex(sig_hex.decode("ascii"))
    office_id = _from_field(last.get(200)) or ""
    if office_id != _from_field(tx.type1.get(8)):
        raise _refuse(f"Type-98 names office {office_id!r} but 1.008 ORI names "
                      f"{_from_field(tx.type1.get(8))!r}")
    key = trusted.get(office_id)
    if key is None:
        raise _refuse(f"office {office_id!r} is not a trusted office (no public key for it)")
    unsigned = data[:-SIG_HEX - 1] + b"0" * SIG_HEX + FS
    try:
        key.verify(signature, unsigned)
    except InvalidSignature:
        for other, other_key in trusted.items():
            if other == office_id:
                continue
            try:
                other_key.verify(signature, unsigned)
            except InvalidSignature:
                continue
            raise _refuse(f"bad signature: signed by office {other!r}, not by office {office_id!r} "
                          "that it names") from None
        raise _refuse(f"the signature does not verify with office {office_id!r}'s key: the bytes "
                      "were altered after signing, or another key signed them") from None
    return tx, office_id


def _int(rec, tag: int, what: str) -> int:
    try:
        return int(rec.get(tag))
    except (TypeError, ValueError):
        raise _refuse(f"{rec.type}.{tag:03d} ({what}) is not a number") from None


def _quality_value(rec, tag: int) -> int | None:
    f = rec.fields.get(tag)
    if f is None:
        return None
    items = f.subfields()[0]
    try:
        q = int(items[-3])
    except (IndexError, ValueError):
        return None
    return q if 0 <= q <= 100 else None


def read_package(data: bytes, *, trusted: dict[str, Ed25519PublicKey],
                 chain: "PackageChain | None" = None, decode_images: bool = True) -> ResidentPackage:
    """Verify and decode a package; any failure raises PackageError naming the reason.

    With `chain`, the package must also be the next link of its office's chain (and is then
    recorded in it)."""
    tx, office_id = verify_signature(data, trusted)
    missing = missing_fields(tx)
    if missing:
        raise _refuse(f"mandatory fields missing: {', '.join(missing[:5])}")
    t98 = tx.records[-1]
    if tx.type1.get(2) != VERSION or tx.type1.get(4) != TOT:
        raise _refuse(f"not a biocap enrollment transaction (VER {tx.type1.get(2)}, TOT {tx.type1.get(4)})")
    sequence = _int(t98, 201, "sequence")
    try:
        previous = bytes.fromhex(t98.get(202) or "")
    except ValueError:
        previous = b""
    if len(previous) != 32:
        raise _refuse("98.202 (previous package hash) is not a 32-byte hex hash")
    t2s = tx.of_type(2)
    if len(t2s) != 1:
        raise _refuse(f"{len(t2s)} Type-2 records (exactly one expected)")
    t2 = t2s[0]
    subject = _from_field(t2.get(3))
    if not subject:
        raise _refuse("2.003 (subject) is missing")
    exceptions = []
    if 10 in t2.fields:
        for items in t2.fields[10].subfields():
            if len(items) != 4:
                raise _refuse("2.010 (exceptions) is malformed")
            exceptions.append({"modality": items[0], "position": int(items[1]) if items[1].isdigit() else 0,
                               "code": _from_field(items[2]), "reason": _from_field(items[3])})
    overrides = []
    if 11 in t2.fields:
        for items in t2.fields[11].subfields():
            if len(items) != 4 or not items[1].isdigit():
                raise _refuse("2.011 (operator overrides) is malformed")
            overrides.append({"modality": items[0], "position": int(items[1]),
                              "step": _from_field(items[2]), "reason": _from_field(items[3])})
    templates: dict[int, dict[str, bytes]] = {}
    for t9 in tx.of_type(9):
        fmt = (_from_field(t9.get(177)) or "").split(" record")[0]
        try:
            blob = base64.b64decode(t9.get(180) or "", validate=True)
        except ValueError:
            raise _refuse(f"9.180 of the Type-9 record IDC {t9.idc} is not base64") from None
        templates.setdefault(t9.idc, {})[fmt] = blob
    carried: dict[tuple[str, int], dict[str, TemplateRecord]] = {}  # (BTY, IDC) -> format -> record
    warnings = list(tx.warnings)
    for t99 in tx.of_type(99):
        owner, kind = (t99.get(103) or "").upper(), (t99.get(104) or "").upper()
        if (owner, kind) != (TEMPLATE_RECORD_OWNER, TEMPLATE_RECORD_TYPE):
            warnings.append(f"Type-99 IDC {t99.idc}: format {owner}/{kind} is not read by biocap")
            continue
        try:
            tr = decode_template_record(t99.data)
        except PackageError as exc:  # signed by the office, yet damaged: its builder is broken
            raise _refuse(f"the Type-99 record IDC {t99.idc}: {exc}") from None
        if _TEMPLATE_BTY.get(tr.format) != t99.get(101):
            raise _refuse(f"the Type-99 record IDC {t99.idc} holds a {tr.format} template but "
                          f"names biometric type {t99.get(101)}")
        carried.setdefault((t99.get(101), t99.idc), {})[tr.format] = tr
    fingers, slaps, irises, face, signature = {}, {}, {}, None, None
    for rec in tx.records[1:]:
        if rec.type in (10, 14, 17):
            digest = hashlib.sha256(rec.data).hexdigest().upper()
            if (rec.get(996) or "").upper() != digest:
                raise _refuse(f"the image of the Type-{rec.type} record IDC {rec.idc} does not match "
                              "its hash (field 996)")
            size = (_int(rec, 6, "HLL"), _int(rec, 7, "VLL"))
            ppi = float(_int(rec, 9, "THPS"))
        if rec.type == 14:
            if rec.get(11) != "WSQ20":
                raise _refuse(f"Type-14 IDC {rec.idc}: compression {rec.get(11)!r}, WSQ20 expected")
            pos = _int(rec, 13, "FGP")
            img = wsq_decode(rec.data, size) if decode_images else np.zeros((1, 1), np.uint8)
            entry = FingerEntry(pos, img, ppi, _quality_value(rec, 24), _int(rec, 3, "IMP"),
                                rec.data, templates.get(rec.idc, {}))
            (slaps if pos in (13, 14, 15) else fingers)[pos] = entry
        elif rec.type in (10, 17):
            if rec.get(11) != "JP2L":
                raise _refuse(f"Type-{rec.type} IDC {rec.idc}: compression {rec.get(11)!r}, JP2L expected")
            img = jp2_decode(rec.data, size) if decode_images else np.zeros((1, 1), np.uint8)
            bty = _TEMPLATE_BTY[IRIS_TEMPLATE if rec.type == 17 else FACE_TEMPLATE]
            tmpl = carried.pop((bty, rec.idc), {})
            if rec.type == 17:
                pos = _int(rec, 3, "ELR")
                irises[pos] = ImageEntry(pos, img, ppi, _quality_value(rec, 24), rec.data, tmpl)
            else:
                face = ImageEntry(0, img, ppi, _quality_value(rec, 24), rec.data, tmpl)
        elif rec.type == 8:
            h = rec.header
            if h["srt"] == 0:
                if len(rec.data) != h["hll"] * h["vll"]:
                    raise _refuse(f"Type-8 IDC {rec.idc}: {len(rec.data)} image bytes for "
                                  f"{h['hll']}x{h['vll']}")
                img = np.frombuffer(rec.data, np.uint8).reshape(h["vll"], h["hll"]).copy()
                signature = SignatureEntry(img, SIGNATURE_PPI, signature.vectors if signature else None)
            elif h["srt"] == 2:
                if len(rec.data) % 5:
                    raise _refuse(f"Type-8 IDC {rec.idc}: vector data is not a multiple of 5 bytes")
                vec = np.frombuffer(rec.data, dtype=[("x", ">u2"), ("y", ">u2"), ("p", "u1")])
                arr = np.stack([vec["x"].astype(np.int32), vec["y"].astype(np.int32),
                                vec["p"].astype(np.int32)], axis=1)
                signature = SignatureEntry(signature.image if signature else None, SIGNATURE_PPI, arr)
    for bty, idc in carried:
        raise _refuse(f"a Type-99 template record (IDC {idc}) has no image record of its IDC")
    pkg = ResidentPackage(
        office_id=office_id, sequence=sequence, previous_hash=previous,
        package_hash=package_hash(bytes(data)), idempotency_key=t98.get(203) or "",
        subject=subject, enrollment_id=t2.get(4) or "", name=_from_field(t2.get(5)),
        policy=_from_field(t2.get(6)) or "", operator=_from_field(t2.get(7)) or "",
        complete=t2.get(9) == "1", fingers=fingers, irises=irises, face=face, signature=signature,
        exceptions=exceptions, warnings=warnings, slaps=slaps, overrides=overrides)
    if chain is not None:
        chain.accept(pkg)
    return pkg


class PackageChain:
    """What a receiver knows of each office's chain: the last accepted (sequence, hash).

    `accept` refuses a replayed package (a sequence already accepted), a dropped one (a gap
    before it) and one whose previous hash is not the hash of the package accepted before it."""

    def __init__(self, state: dict[str, tuple[int, bytes]] | None = None):
        self.state: dict[str, tuple[int, bytes]] = dict(state or {})
        self._seen: dict[str, set[bytes]] = {}

    def check(self, pkg: ResidentPackage) -> None:
        last_seq, last_hash = self.state.get(pkg.office_id, (0, ZERO_HASH))
        if pkg.sequence <= last_seq or pkg.package_hash in self._seen.get(pkg.office_id, set()):
            raise _refuse(f"replayed: package {pkg.sequence} of office {pkg.office_id!r} was already "
                          f"received (last accepted: {last_seq})")
        if pkg.sequence > last_seq + 1:
            raise _refuse(f"dropped: package {last_seq + 1} of office {pkg.office_id!r} is missing "
                          f"(got {pkg.sequence}; packages {last_seq + 1}-{pkg.sequence - 1} not received)")
        if pkg.previous_hash != last_hash:
            raise _refuse(f"chain broken: package {pkg.sequence} of office {pkg.office_id!r} names a "
                          f"previous package {pkg.previous_hash.hex()[:16]}... but the one received "
                          f"was {last_hash.hex()[:16]}... (altered or substituted)")

    def accept(self, pkg: ResidentPackage) -> None:
        self.check(pkg)
        self.state[pkg.office_id] = (pkg.sequence, pkg.package_hash)
        self._seen.setdefault(pkg.office_id, set()).add(pkg.package_hash)
