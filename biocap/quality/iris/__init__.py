"""Iris quality after ISO/IEC 29794-6: `IrisQuality` (module `provider`)."""
from .provider import IrisQuality

__all__ = ["IrisQuality"]
