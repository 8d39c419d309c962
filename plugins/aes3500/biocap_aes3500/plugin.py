"""The hook implementations biocap loads through the `biocap` entry point."""
from biocap.plugins.hookspecs import hookimpl

from .driver import Aes3500Driver


@hookimpl
def biocap_drivers():
    return [Aes3500Driver]
