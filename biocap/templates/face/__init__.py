"""Face templates: dlib ResNet embeddings (FaceTemplate, FaceExtractor), token image, pas photo."""
from .extractor import FaceExtractor  # noqa: F401
from .template import FaceTemplate  # noqa: F401
