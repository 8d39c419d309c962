"""Template extraction per modality, and codecs for the standard record formats (formats/)."""
from .fingerprint_template import MINUTIA_DTYPE, FingerprintTemplate, MinutiaType  # noqa: F401
