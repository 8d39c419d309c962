"""The centre's refusal: a package it will not store, with the reason and the HTTP status."""
from __future__ import annotations

from ..errors import BiocapError


class Refused(BiocapError):
    """A package the centre will not store: `code` says why, `status` is the HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.code, self.status = code, status
