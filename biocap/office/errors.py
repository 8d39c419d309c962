"""Errors of the office stage."""
from __future__ import annotations

import sqlite3

from ..errors import BiocapError, InvalidDataError

#: what the sqlite3 module raises on a damaged file: its own errors, and UnicodeDecodeError when
#: an error message or a text value holds bytes that are not UTF-8
SQLITE_ERRORS = (sqlite3.Error, UnicodeDecodeError)


class StoreError(BiocapError):
    hint = ("check the path and the key directory; a damaged store is never written to: "
            "restore it from a verified backup")


class MissingKeys(StoreError):
    hint = "pass --keys DIR or set BIOCAP_KEYS to the directory `biocap office init` made"


class StoreDamaged(StoreError):
    """The store failed a check; it stays readable for check_integrity() but takes no writes."""


class PackageError(InvalidDataError):
    """A package is malformed, fails its signature or breaks its office's chain (reason named)."""

    hint = "do not accept it; ask the office to send the package again"


class SendError(BiocapError):
    hint = "check the centre's URL and the network; queued packages stay queued and are retried"
