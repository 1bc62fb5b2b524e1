"""zo/engine.h and zo/checkpoint.h: the offload engine, with its device weights and
gradients as zero-copy torch tensors (views of the host backend's memory, or CUDA device
tensors on the CUDA backend)."""
import ctypes
import os
from types import SimpleNamespace

from zo import _structs, _tensors
from zo._library import lib
from zo.config import as_config
from zo.errors import InvalidArgumentError, check


def _param_descs(params):
    """zo_param_desc[] from [(name, elems), ...] or {name: elems}; the encoded names are
    returned too, to live as long as the call."""
    pairs = list(params.items()) if isinstance(params, dict) else [tuple(p) for p in params]
    names = [str(name).encode() for name, _ in pairs]
    descs = (_structs.ParamDesc * max(1, len(pairs)))()
    for i, ((_, elems), name) in enumerate(zip(pairs, names)):
        if int(elems) <= 0:
            raise InvalidArgumentError(f"parameter {i} ({name.decode()}) has {elems} elements; "
                                       "every parameter needs at least 1")
        descs[i].name, descs[i].elems = name, int(elems)
    return descs, len(pairs), names


def plan(config, params, ranks=1):
    """zo_engine_plan: the memory an engine would need for these parameters, checked
    against this machine, as a namespace of zo_memory_plan's fields (fits, verdict, ...)."""
    config = as_config(config)
    descs, count, _names = _param_descs(params)
    out = _structs.MemoryPlan()
    check(lib.zo_engine_plan(config.handle, descs, count, ranks, ctypes.byref(out)))
    return SimpleNamespace(**_structs.as_dict(out))


def host_available_bytes():
    return lib.zo_host_available_bytes()


def export_checkpoint(directory, out_path):
    """zo_checkpoint_export: one fp32 safetensors file of a checkpoint's master weights."""
    check(lib.zo_checkpoint_export(os.fspath(directory).encode(), os.fspath(out_path).encode()))


class Engine:
    """A zo_engine over `params` ([(name, elems), ...] or {name: elems}) with `config`
    (a zo.Config, dict, JSON string or path). Close it (or use `with`) to free it; the
    tensors weights()/grads() returned are views of its memory and must not be used after."""

    def __init__(self, config, params):
        config = as_config(config)
        descs, count, _names = _param_descs(params)
        self._handle = ctypes.c_void_p()
        check(lib.zo_engine_create(config.handle, descs, count, ctypes.byref(self._handle)))
        self.param_elems = [descs[i].elems for i in range(count)]
        self.param_names = [descs[i].name.decode() for i in range(count)]

    # --- what the engine is --------------------------------------------------------
    @property
    def handle(self):
        if not self._handle:
            raise InvalidArgumentError("zo.Engine: used after close()")
        return self._handle

    @property
    def dtype(self):
        """The torch dtype of the device weights and gradients."""
        return _tensors.torch_dtype(lib.zo_engine_dtype(self.handle))

    @property
    def device_name(self):
        return lib.zo_engine_device_name(self.handle).decode()

    @property
    def device(self):
        """The torch device of weights() and grads()."""
        import torch

        return torch.device("cuda", torch.cuda.current_device()) if self.device_name == "cuda" else torch.device("cpu")

    param_count = property(lambda self: lib.zo_engine_param_count(self.handle))
    bucket_count = property(lambda self: lib.zo_engine_bucket_count(self.handle))
    rank = property(lambda self: lib.zo_engine_rank(self.handle))
    ranks = property(lambda self: lib.zo_engine_ranks(self.handle))
    notice = property(lambda self: lib.zo_engine_notice(self.handle).decode())
    placement = property(lambda self: lib.zo_engine_placement(self.handle).decode())
    device_high_water = property(lambda self: lib.zo_engine_device_high_water(self.handle))
    loss_scale = property(lambda self: lib.zo_engine_loss_scale(self.handle))
    micro_step_count = property(lambda self: lib.zo_engine_micro_step_count(self.handle))
    step_count = property(lambda self: lib.zo_engine_step_count(self.handle))

    def memory(self):
        """The memory plan the engine was created with (zo_engine_memory)."""
        out = _structs.MemoryPlan()
        check(lib.zo_engine_memory(self.handle, ctypes.byref(out)))
        return SimpleNamespace(**_structs.as_dict(out))

    # --- the loop's side -----------------------------------------------------------
    def _index(self, param):
        if not 0 <= param < len(self.param_elems):
            raise InvalidArgumentError(f"parameter index {param} is out of range (the engine has "
                                       f"{len(self.param_elems)} parameters)")
        return param

    def _view(self, address, param, what):
        if not address:
            # NULL: a stage-3 parameter not fetched, or no gradient slot left; the reason
            # (when zo gives one) is in zo_last_error()
            raise InvalidArgumentError(f"zo_engine_{what}({param}) ({self.param_names[param]}) gave no memory: "
                                       + (lib.zo_last_error().decode() or "no reason given"))
        elems, dtype = self.param_elems[param], lib.zo_engine_dtype(self.handle)
        if self.device_name == "cuda":
            return _tensors.cuda_view(address, elems, dtype)
        return _tensors.host_view(address, elems, dtype)

    def weights(self, param):
        """Parameter `param`'s device weights as a flat tensor viewing the engine's memory
        (stage 3: valid from its fetch until its release)."""
        return self._view(lib.zo_engine_weights(self.handle, self._index(param)), param, "weights")

    def grads(self, param):
        """Where the backward writes parameter `param`'s gradient, a flat tensor viewing
        the engine's memory (stage 3: a slot handed out for this micro-step)."""
        return self._view(lib.zo_engine_grads(self.handle, self._index(param)), param, "grads")

    def _stream(self, stream):
        """The cudaStream_t to pass: NULL on the host backend; on CUDA the given stream
        (a torch.cuda.Stream or a raw handle), by default torch's current stream."""
        if self.device_name != "cuda":
            if stream is not None:
                raise InvalidArgumentError("a stream was given on the host backend, which has none")
            return None
        if stream is None:
            import torch

            stream = torch.cuda.current_stream()
        return getattr(stream, "cuda_stream", stream)

    def fetch(self, param, stream=None):
        check(lib.zo_engine_fetch(self.handle, self._index(param), self._stream(stream)))

    def release(self, param, stream=None):
        check(lib.zo_engine_release(self.handle, self._index(param), self._stream(stream)))

    def wait_params(self, param, stream=None):
        check(lib.zo_engine_wait_params(self.handle, self._index(param), self._stream(stream)))

    def grad_ready(self, param, stream=None):
        check(lib.zo_engine_grad_ready(self.handle, self._index(param), self._stream(stream)))

    def step(self):
        """Ends a micro-step (zo_engine_step); returns the step info as a namespace
        (boundary, skipped, overflow, loss_scale, grad_norm, clip_coefficient, lr, ...)."""
        info, _room = _structs.padded(_structs.StepInfo)
        check(lib.zo_engine_step(self.handle, ctypes.byref(info)))
        return SimpleNamespace(**_structs.as_dict(info))

    # --- master weights ------------------------------------------------------------
    def set_master(self, param, values):
        """Copies fp32 `values` (a contiguous CPU float32 tensor of the parameter's
        elements, any shape) into the master and device weights."""
        import torch

        self._index(param)
        _tensors.require_cpu_contiguous(values, f"values for {self.param_names[param]}", torch.float32)
        if values.numel() != self.param_elems[param]:
            raise InvalidArgumentError(f"values for {self.param_names[param]} have {values.numel()} elements, "
                                       f"the parameter has {self.param_elems[param]}")
        check(lib.zo_engine_set_master(self.handle, param, ctypes.c_void_p(values.data_ptr())))

    def get_master(self, param):
        """The parameter's fp32 master weights, a new flat CPU tensor."""
        import torch

        out = torch.empty(self.param_elems[self._index(param)], dtype=torch.float32)
        check(lib.zo_engine_get_master(self.handle, param, ctypes.c_void_p(out.data_ptr())))
        return out

    # --- the rest --------------------------------------------------------------------
    def synchronize(self):
        check(lib.zo_engine_synchronize(self.handle))

    def write_trace(self):
        check(lib.zo_engine_write_trace(self.handle))

    def save(self, directory):
        """zo_engine_save: the offloaded state into `directory`, crash-safely."""
        check(lib.zo_engine_save(self.handle, os.fspath(directory).encode()))

    def load(self, directory):
        """zo_engine_load: restores what save wrote; a bad checkpoint changes nothing."""
        check(lib.zo_engine_load(self.handle, os.fspath(directory).encode()))

    def close(self):
        if getattr(self, "_handle", None):
            lib.zo_engine_destroy(ctypes.byref(self._handle))

    __del__ = close

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
