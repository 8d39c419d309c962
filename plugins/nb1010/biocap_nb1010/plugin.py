"""The hook implementations biocap loads through the `biocap` entry point."""
from biocap.plugins.hookspecs import hookimpl

from .driver import Nb1010Driver


@hookimpl
def biocap_drivers():
    return [Nb1010Driver]
