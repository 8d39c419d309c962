"""Facts about the store's SQLite file that the store, its integrity check and the backup share."""
from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

#: the first 16 bytes of every SQLite database file
SQLITE_MAGIC = b"SQLite format 3\x00"
#: what a damaged database file raises while it is read (never shown raw to a user)
SQLITE_ERRORS = (sqlite3.Error, UnicodeDecodeError)
#: previous hash of the first audit entry
GENESIS = b"\x00" * 32


def now_text() -> str:
    """The store's timestamp format: UTC, ISO 8601, microseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")
