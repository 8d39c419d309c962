"""Codecs for the standard finger minutiae records: one module per format version.

    from biocap.templates.formats import detect_format, decode, encode
    record = decode(data)                      # FingerprintRecord, format detected from the bytes
    data = encode(record, "iso19794-2:2011")   # any record into any format

Format names: iso19794-2:2005, iso19794-2:2011, ansi378:2004, ansi378:2009, ansi378:2009am1,
iso19794-2:card (compact card), and ansi378:2007 (the layout NIST libbiomeval calls ANSI 2007).
Signature/sign time series: iso19794-7:2007 (full format; `decode` returns a SignatureRecord);
the headerless compact format is in `iso19794_7_compact` (it needs its layout to be read).
Face image records (`FaceImageRecord`): iso19794-5:2005, iso19794-5:2011 (FACE_FORMATS).
"""
from __future__ import annotations

from ...errors import TemplateFormatError
from . import (ansi378_2004, ansi378_2007, ansi378_2009, ansi378_2009am1, iso19794_2_2005,
               iso19794_2_2011, iso19794_2_card, iso19794_5_2005, iso19794_5_2011,
               iso19794_7_2007)
from ._face_common import FaceImage, FaceImageRecord
from .record import FingerprintRecord

__all__ = ["ALL_FORMATS", "FACE_FORMATS", "FORMATS", "SIGNATURE_FORMATS", "FaceImage",
           "FaceImageRecord", "FingerprintRecord", "convert", "decode", "detect_format", "encode"]

_CODECS = {m.NAME: m for m in (iso19794_2_2005, iso19794_2_2011, ansi378_2004, ansi378_2009,
                               ansi378_2009am1, iso19794_2_card, ansi378_2007)}
#: every format name `encode` accepts
FORMATS: tuple[str, ...] = tuple(_CODECS)
#: signature/sign time series formats (records are SignatureRecord, not FingerprintRecord)
SIGNATURE_FORMATS: tuple[str, ...] = (iso19794_7_2007.NAME,)
_FACE_CODECS = {m.NAME: m for m in (iso19794_5_2005, iso19794_5_2011)}
_FACE_BY_VERSION = {iso19794_5_2005.VERSION: iso19794_5_2005, iso19794_5_2011.VERSION: iso19794_5_2011}
#: face image record formats (FaceImageRecord)
FACE_FORMATS: tuple[str, ...] = tuple(_FACE_CODECS)
ALL_FORMATS: tuple[str, ...] = FORMATS + FACE_FORMATS + SIGNATURE_FORMATS

# version bytes -> the codecs that use them, most common first
_BY_VERSION = {
    b" 20": (iso19794_2_2005, ansi378_2004),
    b"020": (iso19794_2_2005, ansi378_2004),
    b"030": (iso19794_2_2011, ansi378_2009, ansi378_2007),
    b"035": (ansi378_2009am1,),
}
_MAX_RECORD_BYTES = 1 << 26   # 64 MiB: far beyond any minutiae record; refuse before parsing


def _as_bytes(data) -> bytes:
    if isinstance(data, memoryview):
        data = data.tobytes()
    if not isinstance(data, (bytes, bytearray)):
        raise TemplateFormatError(f"expected the record's bytes, got {type(data).__name__}",
                                  hint="read the file in binary mode ('rb')")
    if len(data) == 0:
        raise TemplateFormatError("the record is empty", field="format_identifier", offset=0)
    if len(data) > _MAX_RECORD_BYTES:
        raise TemplateFormatError(f"{len(data)} bytes is far larger than any minutiae record",
                                  field="record_length", offset=0)
    return bytes(data)


def _detect_and_decode(data: bytes, strict: bool):
    if data[:4] == b"FAC\x00":
        codec = _FACE_BY_VERSION.get(data[4:8])
        if codec is None:
            raise TemplateFormatError(f"unknown face image record version {data[4:8]!r} (biocap reads "
                                      "010 = ISO/IEC 19794-5:2005 and 030 = 2011)",
                                      field="version", offset=4)
        return codec.decode(data, strict=strict)
    if iso19794_2_card.looks_like_card(data):
        return iso19794_2_card.decode(data, strict=strict)
    if data[:4] == iso19794_7_2007.MAGIC:
        return iso19794_7_2007.decode(data, strict=strict)
    if len(data) < 8 or data[:4] != b"FMR\x00" or data[7] != 0:
        raise TemplateFormatError(
            f"unknown record format (starts with {data[:8].hex(' ')}); expected 'FMR\\0' "
            f"(ISO/IEC 19794-2, ANSI INCITS 378), 'FAC\\0' (ISO/IEC 19794-5), 'SDI\\0' "
            f"(ISO/IEC 19794-7) or a 7F2E card template",
            field="format_identifier", offset=0,
            hint="a bare compact-card record can be read with decode(data, 'iso19794-2:card')")
    codecs = _BY_VERSION.get(data[4:7])
    if codecs is None:
        raise TemplateFormatError(f"unknown finger minutiae record version {data[4:7]!r}",
                                  field="version", offset=4)
    decoded: list[FingerprintRecord] = []
    errors: list[TemplateFormatError] = []
    for codec in codecs:
        try:
            decoded.append(codec.decode(data, strict=strict))
        except TemplateFormatError as exc:
            errors.append(exc)
    if decoded:
        # a layout that explains the bytes without excuses wins; else the most common one
        clean = [rec for rec in decoded if not rec.notes]
        return (clean or decoded)[0]
    # report the error of the most plausible layout: for " 20", a first length half >= 26
    # can only be ANSI 378-2004's 2-byte length (ISO's 4-byte length starts 0x0000)
    if codecs[0] is iso19794_2_2005 and int.from_bytes(data[8:10], "big") >= 26:
        raise errors[1]
    raise errors[0]


def detect_format(data: bytes) -> str:
    """The format name of a record, judged from its bytes (the layout that parses them)."""
    return _detect_and_decode(_as_bytes(data), strict=False).format


def decode(data: bytes, format: str | None = None, *, strict: bool = True):
    """Decode a record; `format` skips detection. strict=False accepts views with zero
    minutiae and minutiae outside the image."""
    data = _as_bytes(data)
    if format is None:
        return _detect_and_decode(data, strict)
    return _codec(format).decode(data, strict=strict)


def encode(record, format: str | None = None) -> bytes:
    """Encode a record in `format` (default: the record's own format)."""
    if isinstance(record, iso19794_7_2007.SignatureRecord):
        return _codec(format or record.format).encode(record)
    if isinstance(record, FaceImageRecord):
        name = format or record.format
        if name not in _FACE_CODECS:
            raise TemplateFormatError(f"a face image record cannot be written as {name!r}",
                                      hint=f"use one of: {', '.join(FACE_FORMATS)}")
        return _FACE_CODECS[name].encode(record)
    if not isinstance(record, FingerprintRecord):
        raise TemplateFormatError(f"expected a FingerprintRecord, got {type(record).__name__}",
                                  hint="wrap templates with FingerprintRecord.from_templates")
    name = format or record.format
    if name in _FACE_CODECS:
        raise TemplateFormatError(f"a finger minutiae record cannot be written as {name!r}",
                                  hint=f"use one of: {', '.join(FORMATS)}")
    codec = _codec(name)
    if not record.views:
        raise TemplateFormatError("the record has no finger views to encode", field="views")
    return codec.encode(record)


def convert(data: bytes, to: str) -> bytes:
    """Re-encode a record in another format."""
    return encode(decode(data), to)


def _codec(name: str):
    codec = (_CODECS.get(name) or _FACE_CODECS.get(name)
             or {iso19794_7_2007.NAME: iso19794_7_2007}.get(name))
    if codec is None:
        raise TemplateFormatError(f"unknown template format {name!r}",
                                  hint=f"use one of: {', '.join(ALL_FORMATS)}")
    return codec
