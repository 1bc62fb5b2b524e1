"""Zero-copy torch tensors over memory the library owns: host memory through the buffer
protocol (torch.frombuffer shares it), CUDA memory through __cuda_array_interface__."""
import ctypes

from zo import _structs

_TYPESTR = {_structs.DTYPE_F32: "<f4", _structs.DTYPE_F16: "<f2", _structs.DTYPE_BF16: "<i2"}


def torch_dtype(zo_dtype):
    import torch

    return {_structs.DTYPE_F32: torch.float32, _structs.DTYPE_F16: torch.float16,
            _structs.DTYPE_BF16: torch.bfloat16}[zo_dtype]


def zo_dtype(torch_dtype_):
    """The zo_dtype of a torch dtype, or None for one zo does not move."""
    import torch

    return {torch.float32: _structs.DTYPE_F32, torch.float16: _structs.DTYPE_F16,
            torch.bfloat16: _structs.DTYPE_BF16}.get(torch_dtype_)


def host_view(address, elems, dtype):
    """A 1-D tensor of `elems` elements of zo dtype `dtype` over host memory at
    `address`. The memory stays the library's: the view is valid as long as it is."""
    import torch

    size = elems * (4 if dtype == _structs.DTYPE_F32 else 2)
    buffer = (ctypes.c_ubyte * size).from_address(address)
    return torch.frombuffer(buffer, dtype=torch_dtype(dtype), count=elems)


class _CudaArray:
    """The minimum torch.as_tensor needs to wrap device memory without a copy. bf16 has
    no array-interface type string: it travels as int16 and is viewed back."""

    def __init__(self, address, elems, dtype):
        self.__cuda_array_interface__ = {"shape": (elems,), "typestr": _TYPESTR[dtype],
                                         "data": (address, False), "version": 2, "strides": None}


def cuda_view(address, elems, dtype):
    """A 1-D CUDA tensor over device memory at `address` (the current CUDA device's)."""
    import torch

    tensor = torch.as_tensor(_CudaArray(address, elems, dtype), device="cuda")
    return tensor.view(torch.bfloat16) if dtype == _structs.DTYPE_BF16 else tensor


def require_cpu_contiguous(tensor, what, dtype=None):
    """Raises zo's InvalidArgumentError naming `what` unless `tensor` is a contiguous CPU
    tensor (of `dtype` when given): the library reads raw memory."""
    from zo.errors import InvalidArgumentError

    if tensor.device.type != "cpu":
        raise InvalidArgumentError(f"{what} is on {tensor.device}; zo reads it as host memory (a CPU tensor)")
    if not tensor.is_contiguous():
        raise InvalidArgumentError(f"{what} is not contiguous (strides {tuple(tensor.stride())}); "
                                   f"zo reads it as one flat array: pass tensor.contiguous()")
    if dtype is not None and tensor.dtype != dtype:
        raise InvalidArgumentError(f"{what} is {tensor.dtype}, must be {dtype}")
