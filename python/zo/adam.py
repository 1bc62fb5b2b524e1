"""zo/adam.h: a cpu_adam kernel context (instruction set, threads) and its Adam step over
CPU tensors, the kernels zo.torch.CPUAdam runs."""
import ctypes

from zo import _structs, _tensors
from zo._library import lib
from zo.errors import InvalidArgumentError, check


class AdamKernels:
    """A zo_adam context. num_threads 0: OpenMP's default (OMP_NUM_THREADS or the cores)."""

    def __init__(self, num_threads=0):
        settings = _structs.AdamSettings()
        lib.zo_adam_default_settings(ctypes.byref(settings))
        settings.num_threads = int(num_threads)
        self._handle = ctypes.c_void_p()
        check(lib.zo_adam_create(ctypes.byref(settings), ctypes.byref(self._handle)))

    @property
    def isa(self):
        """The instruction-set path the kernels run ("avx2", "avx512", ...)."""
        return lib.zo_cpu_isa_name(lib.zo_adam_isa(self._handle)).decode()

    @property
    def num_threads(self):
        return lib.zo_adam_num_threads(self._handle)

    def step(self, step, master, exp_avg, exp_avg_sq, grad, *, lr, beta1, beta2, eps, weight_decay,
             adamw=True, bias_correction=True, grad_scale=1.0, weights_out=None):
        """One Adam(W) step number `step` (1 for the first) in place on fp32 `master`,
        `exp_avg`, `exp_avg_sq` (fp32 or bf16 moments) from `grad` (fp32/fp16/bf16);
        writes the new weights rounded into `weights_out` (fp16/bf16) when given.
        All contiguous CPU tensors of one element count."""
        import torch

        n = master.numel()
        tensors = {"master": master, "exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq, "grad": grad}
        if weights_out is not None:
            tensors["weights_out"] = weights_out
        for name, tensor in tensors.items():
            _tensors.require_cpu_contiguous(tensor, name)
            if tensor.numel() != n:
                raise InvalidArgumentError(f"{name} has {tensor.numel()} elements, master has {n}")
        if master.dtype != torch.float32:
            raise InvalidArgumentError(f"master is {master.dtype}, must be torch.float32")
        buffers = _structs.AdamBuffers()
        buffers.n = n
        buffers.master = master.data_ptr()
        buffers.exp_avg, buffers.exp_avg_sq = exp_avg.data_ptr(), exp_avg_sq.data_ptr()
        buffers.moments_dtype = _dtype_of(exp_avg, "exp_avg")
        if _dtype_of(exp_avg_sq, "exp_avg_sq") != buffers.moments_dtype:
            raise InvalidArgumentError("exp_avg and exp_avg_sq have different dtypes")
        buffers.grad, buffers.grad_dtype = grad.data_ptr(), _dtype_of(grad, "grad")
        buffers.grad_scale = grad_scale
        if weights_out is not None:
            buffers.weights_out = weights_out.data_ptr()
            buffers.weights_out_dtype = _dtype_of(weights_out, "weights_out")
        hparams = _structs.AdamHparams(lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                                       adamw=adamw, bias_correction=bias_correction)
        check(lib.zo_adam_step(self._handle, ctypes.byref(hparams), int(step), ctypes.byref(buffers)))

    def close(self):
        if getattr(self, "_handle", None):
            lib.zo_adam_destroy(ctypes.byref(self._handle))

    __del__ = close


def _dtype_of(tensor, name):
    dtype = _tensors.zo_dtype(tensor.dtype)
    if dtype is None:
        raise InvalidArgumentError(f"{name} is {tensor.dtype}; zo handles float32, float16 and bfloat16")
    return dtype
