"""Errors of the enrollment station (all BiocapError subclasses; messages say what to do)."""
from __future__ import annotations

from ..errors import BiocapError, InvalidDataError


class PolicyError(InvalidDataError):
    """A policy file is malformed or asks for something the desk cannot do."""

    hint = "fix the policy file (see docs/station.md for its fields)"


class SessionError(BiocapError):
    """An enrollment session was driven out of order (e.g. override before the attempts)."""


class StoreConflict(BiocapError):
    """The store holds something the session cannot reconcile (e.g. another policy)."""

    hint = "finish or discard the open enrollment with the policy it was started with"
