"""Plugin system (pluggy), USB transport over pyusb, and the base class of device drivers."""
from .hookspecs import hookimpl, hookspec  # noqa: F401
from .manager import PluginManager, PluginProblem  # noqa: F401
