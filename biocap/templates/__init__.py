"""Template extraction per modality, and codecs for the standard record formats (formats/)."""
from .fingerprint.template import MINUTIA_DTYPE, FingerprintTemplate, MinutiaType  # noqa: F401
