"""zo from Python: the C library's public API (include/zo/*.h) through ctypes, and a
PyTorch integration in zo.torch (initialize, CPUAdam). Manual: docs/python.md."""
from zo._library import lib as _lib
from zo._library import path as library_path
from zo.adam import AdamKernels
from zo.config import Config, default_settings
from zo.engine import Engine, export_checkpoint, host_available_bytes, plan
from zo.errors import (ConfigError, DeviceError, InternalError, InvalidArgumentError, IOError, NonFiniteError,
                       NotSupportedError, OutOfMemoryError, PeerError, TimeoutError, ZoError)

__version__ = _lib.zo_version().decode()


def cuda_built():
    """Whether libzo was built with its CUDA backend."""
    return bool(_lib.zo_cuda_built())


__all__ = ["AdamKernels", "Config", "ConfigError", "DeviceError", "Engine", "InternalError",
           "InvalidArgumentError", "IOError", "NonFiniteError", "NotSupportedError", "OutOfMemoryError",
           "PeerError", "TimeoutError", "ZoError", "cuda_built", "default_settings", "export_checkpoint",
           "host_available_bytes", "library_path", "plan"]
