"""Finds libzo and declares the signatures of the public C API (include/zo/*.h) for ctypes.

Where the library is looked for, first found wins:
1. the ZO_LIBRARY environment variable: the path of a libzo shared library (what the
   meson test of tests/python sets, to test the build directory's library);
2. next to this package (a wheel whose build put it there);
3. meson-python's folder for the wheel's internal libraries, .zo.mesonpy.libs beside the
   package in site-packages (where `pip install .` puts a library meson installs to libdir);
4. the system's library search path (a libzo installed with `meson install`).
"""
import ctypes
import ctypes.util
import glob
import os

from zo import _structs as s

_c = ctypes
_vp = _c.c_void_p
_sz = _c.c_size_t
_u64 = _c.c_uint64
_status = _c.c_int
_str = _c.c_char_p


def _candidates():
    explicit = os.environ.get("ZO_LIBRARY")
    if explicit:
        return [explicit]
    here = os.path.dirname(os.path.abspath(__file__))
    found = sorted(glob.glob(os.path.join(here, "libzo.so*")))
    found += sorted(glob.glob(os.path.join(os.path.dirname(here), ".zo.mesonpy.libs", "libzo.so*")))
    system = ctypes.util.find_library("zo")
    if system:
        found.append(system)
    return found


def _load():
    # torch first, when it is installed: a libzo built with CUDA and NCCL needs libcudart
    # and libnccl by soname, and loaded first it would bring the system's copies, which
    # then stand in for torch's newer ones (torch fails: "undefined symbol: ncclCommResume")
    try:
        import torch  # noqa: F401
    except ImportError:
        pass
    tried = []
    for path in _candidates():
        try:
            return ctypes.CDLL(path), path
        except OSError as error:
            tried.append(f"{path}: {error}")
    where = "; ".join(tried) if tried else "no libzo found next to the package, in .zo.mesonpy.libs or on the system"
    raise ImportError(
        "zo: cannot load the libzo shared library (" + where + "). Install the package with "
        "`pip install .` at the repository root, or point ZO_LIBRARY at a built libzo.so "
        "(e.g. build/libzo.so after `bash .ci/build`)."
    )


lib, path = _load()

# (name, result type, argument types) of every function the binding calls.
_signatures = [
    # zo/status.h, zo/version.h, zo/dtype.h, zo/cuda.h
    ("zo_last_error", _str, []),
    ("zo_status_name", _str, [_status]),
    ("zo_version", _str, []),
    ("zo_dtype_size", _sz, [_c.c_int]),
    ("zo_cuda_built", _c.c_bool, []),
    ("zo_cuda_device_count", _status, [_c.POINTER(_c.c_int)]),
    # zo/config.h
    ("zo_default_settings", None, [_c.POINTER(s.Settings)]),
    ("zo_config_from_file", _status, [_str, _c.POINTER(_vp)]),
    ("zo_config_from_string", _status, [_str, _c.POINTER(_vp)]),
    ("zo_config_from_settings", _status, [_c.POINTER(s.Settings), _c.POINTER(_vp)]),
    ("zo_config_destroy", None, [_c.POINTER(_vp)]),
    ("zo_config_settings", _c.POINTER(s.Settings), [_vp]),
    ("zo_config_ignored_count", _sz, [_vp]),
    ("zo_config_ignored_key", _str, [_vp, _sz]),
    # zo/adam.h
    ("zo_adam_default_settings", None, [_c.POINTER(s.AdamSettings)]),
    ("zo_adam_create", _status, [_c.POINTER(s.AdamSettings), _c.POINTER(_vp)]),
    ("zo_adam_destroy", None, [_c.POINTER(_vp)]),
    ("zo_adam_isa", _c.c_int, [_vp]),
    ("zo_adam_num_threads", _c.c_int, [_vp]),
    ("zo_cpu_isa_name", _str, [_c.c_int]),
    ("zo_adam_step", _status, [_vp, _c.POINTER(s.AdamHparams), _u64, _c.POINTER(s.AdamBuffers)]),
    ("zo_adam_grad_stats", _status, [_vp, _vp, _c.c_int, _sz, _c.POINTER(s.GradStats)]),
    # zo/engine.h
    ("zo_engine_plan", _status, [_vp, _c.POINTER(s.ParamDesc), _sz, _c.c_uint, _c.POINTER(s.MemoryPlan)]),
    ("zo_host_available_bytes", _u64, []),
    ("zo_engine_create", _status, [_vp, _c.POINTER(s.ParamDesc), _sz, _c.POINTER(_vp)]),
    ("zo_engine_destroy", None, [_c.POINTER(_vp)]),
    ("zo_engine_dtype", _c.c_int, [_vp]),
    ("zo_engine_param_count", _sz, [_vp]),
    ("zo_engine_bucket_count", _sz, [_vp]),
    ("zo_engine_device_name", _str, [_vp]),
    ("zo_engine_rank", _sz, [_vp]),
    ("zo_engine_ranks", _sz, [_vp]),
    ("zo_engine_memory", _status, [_vp, _c.POINTER(s.MemoryPlan)]),
    ("zo_engine_notice", _str, [_vp]),
    ("zo_engine_placement", _str, [_vp]),
    ("zo_engine_device_high_water", _u64, [_vp]),
    ("zo_engine_weights", _vp, [_vp, _sz]),
    ("zo_engine_grads", _vp, [_vp, _sz]),
    ("zo_engine_set_master", _status, [_vp, _sz, _vp]),
    ("zo_engine_get_master", _status, [_vp, _sz, _vp]),
    ("zo_engine_fetch", _status, [_vp, _sz, _vp]),
    ("zo_engine_release", _status, [_vp, _sz, _vp]),
    ("zo_engine_wait_params", _status, [_vp, _sz, _vp]),
    ("zo_engine_grad_ready", _status, [_vp, _sz, _vp]),
    ("zo_engine_step", _status, [_vp, _c.POINTER(s.StepInfo)]),
    ("zo_engine_loss_scale", _c.c_float, [_vp]),
    ("zo_engine_write_trace", _status, [_vp]),
    ("zo_engine_synchronize", _status, [_vp]),
    ("zo_engine_micro_step_count", _u64, [_vp]),
    ("zo_engine_step_count", _u64, [_vp]),
    # zo/checkpoint.h
    ("zo_engine_save", _status, [_vp, _str]),
    ("zo_engine_load", _status, [_vp, _str]),
    ("zo_checkpoint_export", _status, [_str, _str]),
]

for _name, _result, _arguments in _signatures:
    _function = getattr(lib, _name)
    _function.restype = _result
    _function.argtypes = _arguments
