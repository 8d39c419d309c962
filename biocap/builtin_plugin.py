"""biocap's own algorithms, registered through the public hooks like any third-party plugin."""
from __future__ import annotations

import importlib
import importlib.util

from .plugins.hookspecs import hookimpl


def _instances(*targets: str) -> list:
    """Instantiate `module:Class` targets whose module is part of this build. A module that is
    present but broken raises, and the plugin manager reports it under the hook's name."""
    found = []
    for target in targets:
        module_name, cls_name = target.split(":")
        if importlib.util.find_spec(module_name) is None:
            continue
        found.append(getattr(importlib.import_module(module_name), cls_name)())
    return found


@hookimpl
def biocap_quality_providers():
    return _instances("biocap.quality.fingerprint:FingerprintQuality",
                      "biocap.quality.iris:IrisQuality",
                      "biocap.quality.face:FaceQuality")


@hookimpl
def biocap_extractors():
    return _instances("biocap.templates.fingerprint:FingerprintExtractor",
                      "biocap.templates.iris:IrisExtractor",
                      "biocap.templates.face:FaceExtractor")


@hookimpl
def biocap_comparators():
    return _instances("biocap.matching.fingerprint:FingerprintComparator",
                      "biocap.matching.iris:IrisComparator",
                      "biocap.matching.face:FaceComparator")
