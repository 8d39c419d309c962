"""biocap driver plugin for the AuthenTec AES3500 TruePrint sensor."""
from .driver import Aes3500Driver

__all__ = ["Aes3500Driver"]
