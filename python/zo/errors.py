"""Every zo_status as a Python exception: the status name (ZO_ERR_CONFIG, ...) and the
message zo_last_error() gave on the thread that failed."""
from zo._library import lib


class ZoError(RuntimeError):
    """A zo call failed. `status` is the zo_status number, `status_name` its name
    ("ZO_ERR_CONFIG"), `message` the library's explanation."""

    status = None

    def __init__(self, message, status=None):
        if status is not None:
            self.status = status
        self.status_name = lib.zo_status_name(self.status).decode()
        self.message = message
        super().__init__(f"{self.status_name}: {message}")


class InvalidArgumentError(ZoError, ValueError):
    status = -1


class OutOfMemoryError(ZoError, MemoryError):
    status = -2


class NotSupportedError(ZoError, NotImplementedError):
    status = -3


class ConfigError(ZoError, ValueError):
    status = -4


class IOError(ZoError, OSError):  # noqa: A001 - named after ZO_ERR_IO
    status = -5


class DeviceError(ZoError):
    status = -6


class NonFiniteError(ZoError, FloatingPointError):
    status = -7


class InternalError(ZoError):
    status = -8


class PeerError(ZoError):
    status = -9


class TimeoutError(ZoError):  # noqa: A001 - named after ZO_ERR_TIMEOUT
    status = -10


_by_status = {cls.status: cls for cls in (InvalidArgumentError, OutOfMemoryError, NotSupportedError,
                                          ConfigError, IOError, DeviceError, NonFiniteError,
                                          InternalError, PeerError, TimeoutError)}


def error_for(status, message):
    """The exception for `status` (ZoError itself for a number zo does not define)."""
    cls = _by_status.get(status)
    return cls(message) if cls else ZoError(message, status)


def check(status):
    """Raises the exception of a failed zo call; returns nothing on ZO_OK. Call it right
    after the C call, on the same thread: zo_last_error() is thread-local."""
    if status != 0:
        raise error_for(status, lib.zo_last_error().decode(errors="replace"))
