"""The C structs of include/zo/*.h as ctypes Structures, field for field and in order
(ctypes lays them out as the C compiler does). tests/python/test_structs.py checks them
against the library: defaults read back, and zo_config_from_settings accepting the
struct, which it refuses when the reserved tail holds a non-zero byte."""
import ctypes as c

DTYPE_F32, DTYPE_F16, DTYPE_BF16 = 0, 1, 2

_enum = c.c_int


class AdamHparams(c.Structure):
    _fields_ = [
        ("lr", c.c_float),
        ("beta1", c.c_float),
        ("beta2", c.c_float),
        ("eps", c.c_float),
        ("weight_decay", c.c_float),
        ("adamw", c.c_bool),
        ("bias_correction", c.c_bool),
    ]


class SchedulerSettings(c.Structure):
    _fields_ = [
        ("kind", _enum),
        ("warmup_min_lr", c.c_double),
        ("warmup_max_lr", c.c_double),
        ("warmup_num_steps", c.c_uint64),
        ("warmup_type", _enum),
        ("total_num_steps", c.c_uint64),
        ("warmup_min_ratio", c.c_double),
        ("cos_min_ratio", c.c_double),
    ]


class NvmeSettings(c.Structure):
    _fields_ = [
        ("enabled", c.c_bool),
        ("path", c.c_char * 1024),
        ("buffer_count", c.c_uint64),
        ("pipeline_read", c.c_bool),
        ("pipeline_write", c.c_bool),
        ("fast_init", c.c_bool),
    ]


class AioSettings(c.Structure):
    _fields_ = [
        ("block_size", c.c_uint64),
        ("queue_depth", c.c_uint64),
        ("thread_count", c.c_int),
        ("single_submit", c.c_bool),
        ("overlap_events", c.c_bool),
    ]


class Settings(c.Structure):
    _fields_ = [
        ("train_batch_size", c.c_uint64),
        ("train_micro_batch_size_per_gpu", c.c_uint64),
        ("gradient_accumulation_steps", c.c_uint64),
        ("gradient_clipping", c.c_double),
        ("fp16_enabled", c.c_bool),
        ("loss_scale", c.c_double),
        ("initial_scale_power", c.c_int),
        ("loss_scale_window", c.c_uint64),
        ("hysteresis", c.c_int),
        ("consecutive_hysteresis", c.c_bool),
        ("min_loss_scale", c.c_double),
        ("bf16_enabled", c.c_bool),
        ("adam", AdamHparams),
        ("scheduler", SchedulerSettings),
        ("stage", c.c_int),
        ("offload_optimizer", c.c_bool),
        ("pin_memory", c.c_bool),
        ("overlap_comm", c.c_bool),
        ("contiguous_gradients", c.c_bool),
        ("reduce_scatter", c.c_bool),
        ("reduce_bucket_size", c.c_uint64),
        ("allgather_bucket_size", c.c_uint64),
        ("offload_param", c.c_bool),
        ("offload_param_pin_memory", c.c_bool),
        ("stage3_prefetch_bucket_size", c.c_uint64),
        ("stage3_max_live_parameters", c.c_uint64),
        ("stage3_param_persistence_threshold", c.c_uint64),
        ("stage3_model_persistence_threshold", c.c_uint64),
        ("device", _enum),
        ("comm", _enum),
        ("threads", c.c_int),
        ("bind", _enum),
        ("bind_cpus", c.c_char * 256),
        ("delayed_param_update", c.c_bool),
        ("trace_file", c.c_char * 1024),
        ("moments_dtype", _enum),
        ("max_pinned_bytes", c.c_uint64),
        ("collective_timeout_seconds", c.c_double),
        ("device_memory_budget", c.c_uint64),
        ("nvme", NvmeSettings),
        ("aio", AioSettings),
        ("reserved", c.c_ubyte * 64),
    ]


class AdamSettings(c.Structure):
    _fields_ = [
        ("isa", _enum),
        ("num_threads", c.c_int),
        ("cpus", c.POINTER(c.c_int)),
        ("cpu_count", c.c_int),
    ]


class AdamBuffers(c.Structure):
    _fields_ = [
        ("n", c.c_size_t),
        ("master", c.c_void_p),
        ("exp_avg", c.c_void_p),
        ("exp_avg_sq", c.c_void_p),
        ("moments_dtype", _enum),
        ("grad", c.c_void_p),
        ("grad_dtype", _enum),
        ("grad_scale", c.c_float),
        ("weights_out", c.c_void_p),
        ("weights_out_dtype", _enum),
    ]


class GradStats(c.Structure):
    _fields_ = [("sum_squares", c.c_double), ("all_finite", c.c_bool)]


class ParamDesc(c.Structure):
    _fields_ = [("name", c.c_char_p), ("elems", c.c_size_t)]


class MemoryPlan(c.Structure):
    _fields_ = [
        ("param_elems", c.c_uint64),
        ("device_bytes", c.c_uint64),
        ("pinned_bytes", c.c_uint64),
        ("host_bytes", c.c_uint64),
        ("host_available_bytes", c.c_uint64),
        ("pinned_limit_bytes", c.c_uint64),
        ("device_is_host", c.c_bool),
        ("device_free_bytes", c.c_uint64),
        ("fits", c.c_bool),
        ("verdict", c.c_char * 768),
        ("stage3_persistent_bytes", c.c_uint64),
        ("stage3_pool_bytes", c.c_uint64),
        ("stage3_grad_pool_bytes", c.c_uint64),
        ("device_limit_bytes", c.c_uint64),
        ("nvme_bytes", c.c_uint64),
        ("nvme_free_bytes", c.c_uint64),
        ("reserved", c.c_ubyte * 16),
    ]


class StepInfo(c.Structure):
    _fields_ = [
        ("micro_step", c.c_uint64),
        ("step", c.c_uint64),
        ("boundary", c.c_bool),
        ("skipped", c.c_bool),
        ("overflow", c.c_bool),
        ("loss_scale", c.c_float),
        ("grad_norm", c.c_double),
        ("clip_coefficient", c.c_double),
        ("lr", c.c_double),
        ("wait_seconds", c.c_double),
        ("stats_seconds", c.c_double),
        ("update_seconds", c.c_double),
        ("fetches", c.c_uint64),
        ("prefetch_hits", c.c_uint64),
        ("reuses", c.c_uint64),
        ("bytes_fetched", c.c_uint64),
        ("prefetch_order_matched", c.c_bool),
        ("fetch_update_wait_seconds", c.c_double),
    ]


# zo_step_info has no reserved room: a later library may append fields. The binding
# hands the library a struct followed by this many spare bytes, so an appended field
# lands in them instead of in Python's memory.
SPARE_BYTES = 256


def padded(struct_type):
    """A zeroed `struct_type` with SPARE_BYTES after it, for the library to fill."""
    room = (c.c_ubyte * (c.sizeof(struct_type) + SPARE_BYTES))()
    return struct_type.from_buffer(room), room


def as_dict(structure):
    """A Structure's fields as plain Python values (nested structures as dicts,
    char arrays as str, reserved bytes left out)."""
    out = {}
    for name, _ in structure._fields_:
        if name == "reserved":
            continue
        value = getattr(structure, name)
        if isinstance(value, c.Structure):
            value = as_dict(value)
        elif isinstance(value, bytes):
            value = value.decode()
        out[name] = value
    return out
