"""zo/config.h: a DeepSpeed-style config from a file, a JSON string, a Python dict or a
settings struct, parsed and checked by the library (never in Python)."""
import ctypes
import json
import os

from zo import _structs
from zo._library import lib
from zo.errors import check


class Config:
    """A parsed config (zo_config). Build it with Config.from_file / from_json / from_dict
    / from_settings, or Config(x) with any of those (a dict, a path, a JSON string)."""

    def __init__(self, source):
        if isinstance(source, Config):
            source = source.json or source.settings_struct()
        self._handle = ctypes.c_void_p()
        self.json = None
        if isinstance(source, dict):
            self.json = json.dumps(source)
            check(lib.zo_config_from_string(self.json.encode(), ctypes.byref(self._handle)))
        elif isinstance(source, _structs.Settings):
            check(lib.zo_config_from_settings(ctypes.byref(source), ctypes.byref(self._handle)))
        elif isinstance(source, (str, os.PathLike)):
            text = os.fspath(source)
            if text.lstrip().startswith("{"):
                self.json = text
                check(lib.zo_config_from_string(text.encode(), ctypes.byref(self._handle)))
            else:
                check(lib.zo_config_from_file(text.encode(), ctypes.byref(self._handle)))
        else:
            raise TypeError(f"zo.Config: expected a dict, a JSON string, a path or zo settings, "
                            f"got {type(source).__name__}")

    @classmethod
    def from_file(cls, path):
        self = cls.__new__(cls)
        self._handle, self.json = ctypes.c_void_p(), None
        check(lib.zo_config_from_file(os.fspath(path).encode(), ctypes.byref(self._handle)))
        return self

    @classmethod
    def from_json(cls, text):
        self = cls.__new__(cls)
        self._handle, self.json = ctypes.c_void_p(), text
        check(lib.zo_config_from_string(text.encode(), ctypes.byref(self._handle)))
        return self

    @classmethod
    def from_dict(cls, mapping):
        return cls.from_json(json.dumps(mapping))

    @classmethod
    def from_settings(cls, settings):
        """From a zo._structs.Settings (start with default_settings())."""
        return cls(settings)

    @property
    def handle(self):
        if not self._handle:
            raise ValueError("zo.Config: used after close()")
        return self._handle

    def settings_struct(self):
        """A copy of the parsed zo_settings as a ctypes struct."""
        pointer = lib.zo_config_settings(self.handle)
        return _structs.Settings.from_buffer_copy(pointer.contents)

    @property
    def settings(self):
        """The parsed settings as a dict of zo_settings' fields (DeepSpeed's defaults filled in)."""
        return _structs.as_dict(self.settings_struct())

    @property
    def ignored_keys(self):
        """The DeepSpeed keys zo accepts but has no use for, by JSON path."""
        count = lib.zo_config_ignored_count(self.handle)
        return [lib.zo_config_ignored_key(self.handle, i).decode() for i in range(count)]

    def close(self):
        if getattr(self, "_handle", None):
            lib.zo_config_destroy(ctypes.byref(self._handle))

    __del__ = close

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def default_settings():
    """zo_default_settings: what a config of "{}" gives, as a ctypes struct to edit."""
    settings = _structs.Settings()
    lib.zo_default_settings(ctypes.byref(settings))
    return settings


def as_config(source):
    """A Config from whatever the caller gave (a Config is returned as it is)."""
    return source if isinstance(source, Config) else Config(source)
