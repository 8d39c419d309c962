"""Fingerprint quality: `FingerprintQuality`, a 0-100 score in the way of NFIQ 2 with measures and
operator feedback. Modules: `provider` (the registered provider and its feedback rules),
`features` (block features), `nfiq_blocks` and `ridge_signature` (NFIQ 2 block measures),
`model` (the shipped model, `fingerprint_quality.npz`)."""
from .provider import FEEDBACK, FingerprintQuality, assess

__all__ = ["FEEDBACK", "FingerprintQuality", "assess"]
