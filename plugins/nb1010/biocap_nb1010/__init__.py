"""biocap driver plugin for the NEXT Biometrics NB-1010-U (USB 298d:1010)."""
from .driver import Nb1010Driver

__all__ = ["Nb1010Driver"]
