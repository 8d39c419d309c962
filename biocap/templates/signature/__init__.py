"""Online signature templates: features of the pen series, the card image.

Public face: `SignatureExtractor` (Sample -> `SignatureTemplate`), `template_of(pen)`, and
`render_signature(pen, ...)` for the card's signature image; the stages (`features`) are
importable one by one, and every parameter is in `params`.
"""
from .extractor import SignatureExtractor, template_of  # noqa: F401
from .render import render_signature  # noqa: F401
from .template import SignatureTemplate  # noqa: F401
