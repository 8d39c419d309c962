"""The office: encrypted store, audit log, backup/restore, ANSI/NIST-ITL packages, outbound queue."""
from .errors import MissingKeys, PackageError, SendError, StoreDamaged, StoreError
from .keys import KEYS_ENV, KeyRing, OfficeIdentity
from .records import CaptureRecord, EnrollmentInfo, ExceptionRecord, ResidentRecord
from .store import OfficeStore, UnknownSubject

__all__ = ["OfficeStore", "KeyRing", "OfficeIdentity", "KEYS_ENV", "CaptureRecord", "ResidentRecord",
           "ExceptionRecord", "EnrollmentInfo", "StoreError", "StoreDamaged", "MissingKeys",
           "PackageError", "SendError", "UnknownSubject"]
