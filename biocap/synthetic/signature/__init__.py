"""Synthetic online signatures with ground truth (the simulator's pad and the tests' data)."""
from .generator import (PAD_MM, PAD_UNITS_PER_MM, Signer, SyntheticSignature,  # noqa: F401
                        genuine, make_signer, skilled_forgery)
