"""zo.torch.initialize(model, config): DeepSpeed's entry point on the zo engine. The
module's trainable parameters move into the engine (their values become the fp32
masters; param.data becomes a view of the engine's 16-bit or fp32 weights and param.grad
a view of its gradient buffer, so autograd accumulates in place), and the returned
TrainingEngine drives backward and step as deepspeed's engine does."""
import os

import torch

from zo.config import as_config
from zo.engine import Engine
from zo.errors import InvalidArgumentError, NotSupportedError
from zo.torch.module_hooks import ModuleHooks
from zo.torch.stage3_hooks import Stage3Hooks

_TRAINABLE_DTYPES = (torch.float32, torch.bfloat16, torch.float16)


def initialize(model, config):
    """Moves `model`'s trainable parameters into a zo engine configured by `config` (a
    DeepSpeed-style dict, JSON string, path or zo.Config) and returns the TrainingEngine.
    Tied parameters (one Parameter in two modules) are trained once; frozen parameters
    (requires_grad False) and buffers stay in the module, converted like the weights to
    bf16/fp16 when the config enables them (as DeepSpeed does). Raises zo's errors naming
    what it refuses: a non-float, float64, non-contiguous or wrongly placed parameter,
    two parameters sharing memory, a config zo refuses. With zero_optimization.stage 3
    the weights are fetched in each module's forward pre-hook and released after it
    (zo.torch.stage3_hooks); a parameter must then be used inside the forward of a module
    that owns it (one that has it as an attribute, like a tied head)."""
    return TrainingEngine(model, config)


def _trainable(model):
    """[(name, param)] of the parameters to train, each Parameter once (the first name
    it has), with all its names for messages."""
    names = {}
    for name, param in model.named_parameters(remove_duplicate=False):
        names.setdefault(id(param), []).append(name)
    chosen = [(name, param) for name, param in model.named_parameters() if param.requires_grad]
    return chosen, names


def _check(chosen, names):
    for name, param in chosen:
        also = names[id(param)]
        label = name if len(also) == 1 else f"{name} (tied: {', '.join(also)})"
        if param.dtype not in _TRAINABLE_DTYPES:
            raise InvalidArgumentError(f"zo.torch.initialize: parameter {label} is {param.dtype}; zo trains "
                                       "float32, bfloat16 and float16 parameters (freeze it with "
                                       "requires_grad_(False) to leave it to torch)")
        if not param.is_contiguous():
            raise InvalidArgumentError(f"zo.torch.initialize: parameter {label} is not contiguous (strides "
                                       f"{tuple(param.stride())}); zo keeps each parameter as one flat array: "
                                       "make it contiguous before initialize")
        if param.grad is not None and param.grad.is_sparse:
            raise NotSupportedError(f"zo.torch.initialize: parameter {label} has a sparse gradient")
    # two Parameter objects over one memory would be trained as two: refuse them
    spans = sorted((p.untyped_storage().data_ptr() + p.storage_offset() * p.element_size(),
                    p.numel() * p.element_size(), name) for name, p in chosen)
    for (start, size, name), (next_start, _, next_name) in zip(spans, spans[1:]):
        if start + size > next_start:
            raise InvalidArgumentError(f"zo.torch.initialize: parameters {name} and {next_name} share memory "
                                       "but are different Parameter objects; tie them by assigning the same "
                                       "nn.Parameter to both modules")


class TrainingEngine:
    """What initialize returns: forward through it (or through .module), then
    backward(loss) and step() every micro-step, as with deepspeed's engine."""

    def __init__(self, model, config):
        self.config = as_config(config)
        settings = self.config.settings
        self.stage3 = settings["stage"] == 3
        chosen, names = _trainable(model)
        if not chosen:
            raise InvalidArgumentError("zo.torch.initialize: the model has no trainable parameter")
        _check(chosen, names)
        self.module = model
        self.param_names = [name for name, _ in chosen]
        self.params = [param for _, param in chosen]
        self.engine = Engine(self.config, [(name, p.numel()) for name, p in chosen])
        self._move_into_engine(model)
        self.hooks = (Stage3Hooks if self.stage3 else ModuleHooks)(model, self.params, self.engine)
        self.accumulation_steps = self._accumulation_steps(settings)
        self.last_step_info = None
        self._lr = None
        self._grad_norm = None
        self._in_micro_step = False

    @staticmethod
    def _accumulation_steps(settings):
        if settings["gradient_accumulation_steps"]:
            return settings["gradient_accumulation_steps"]
        micro, train = settings["train_micro_batch_size_per_gpu"], settings["train_batch_size"]
        return max(1, train // micro) if micro and train else 1

    def _move_into_engine(self, model):
        device = self.engine.device
        if device.type == "cpu":
            for what, tensors in (("parameter", model.named_parameters()), ("buffer", model.named_buffers())):
                for name, tensor in tensors:
                    if tensor.device.type != "cpu":
                        raise InvalidArgumentError(f"zo.torch.initialize: {what} {name} is on {tensor.device}, but "
                                                   "the engine runs on the host backend: keep the model on the CPU")
        dtype = self.engine.dtype
        self._grad_views = []
        with torch.no_grad():
            # every value into the engine first: a refusal (a NaN, named by zo) leaves the model as it was
            for index, param in enumerate(self.params):
                self.engine.set_master(index, param.detach().to("cpu", torch.float32).contiguous().view(-1))
            for index, param in enumerate(self.params):
                param.grad = None
                if self.stage3:
                    continue  # weights live in host memory until a fetch (Stage3Hooks)
                param.data = self.engine.weights(index).view(param.shape)
                self._grad_views.append(self.engine.grads(index).view(param.shape))
            # the rest of the module computes in the weights' precision, as DeepSpeed's
            # module.half() / bfloat16() makes it
            trained = {id(p) for p in self.params}
            for submodule in model.modules():
                for param in submodule._parameters.values():
                    if param is not None and id(param) not in trained and param.is_floating_point():
                        param.data = param.data.to(device=device, dtype=dtype)
                for key, buffer in submodule._buffers.items():
                    if buffer is not None and buffer.is_floating_point():
                        submodule._buffers[key] = buffer.to(device=device, dtype=dtype)
                    elif buffer is not None:
                        submodule._buffers[key] = buffer.to(device=device)

    # --- the loop ----------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    forward = __call__

    def train(self, mode=True):
        self.module.train(mode)
        return self

    def eval(self):
        self.module.eval()
        return self

    def backward(self, loss, retain_graph=False):
        """Backward of `loss` times the loss scale, accumulating into the engine's
        gradient buffers; each parameter's gradient goes to the engine as soon as autograd
        has finished it. Call step() after every backward."""
        if self._in_micro_step:
            raise InvalidArgumentError("zo.torch: backward called twice in one micro-step; call step() after "
                                       "every backward (accumulation is counted by step, as in DeepSpeed)")
        with torch.no_grad():  # stage 3: no views; the hooks copy each gradient into its slot
            for param, view in zip(self.params, self._grad_views):
                if param.grad is None or param.grad.data_ptr() != view.data_ptr():
                    param.grad = view
                view.zero_()
        self.hooks.start_micro_step()
        self._in_micro_step = True
        scale = self.engine.loss_scale
        (loss * scale if scale != 1.0 else loss).backward(retain_graph=retain_graph)
        self.hooks.hand_over_the_rest()
        return loss

    def step(self):
        """Ends the micro-step (zo_engine_step): at the end of an accumulation the engine
        clips, updates, moves the loss scale and the schedule. Returns the step info."""
        info = self.engine.step()
        self._in_micro_step = False
        if self.stage3:
            self.hooks.after_step()
        self.last_step_info = info
        if info.boundary and not info.skipped:
            self._lr, self._grad_norm = info.lr, info.grad_norm
        return info

    # --- what deepspeed's engine tells -------------------------------------------------
    @property
    def loss_scale(self):
        return self.engine.loss_scale

    def get_lr(self):
        """[the learning rate of the last step taken] (None before one), as deepspeed's."""
        return [self._lr]

    @property
    def lr(self):
        return self._lr

    def get_global_grad_norm(self):
        """The global norm of the last step's unscaled gradient, before clipping."""
        return self._grad_norm

    last_grad_norm = property(get_global_grad_norm)
    global_steps = property(lambda self: self.engine.step_count)
    micro_steps = property(lambda self: self.engine.micro_step_count)

    def is_gradient_accumulation_boundary(self):
        """Whether the next step() ends an accumulation (and updates the weights)."""
        return (self.engine.micro_step_count + 1) % self.accumulation_steps == 0

    # --- checkpoints -------------------------------------------------------------------
    def _module_extras(self):
        trained = {id(p) for p in self.params}
        return {"frozen": {name: p.detach().clone() for name, p in self.module.named_parameters()
                           if id(p) not in trained},
                "buffers": {name: b.detach().clone() for name, b in self.module.named_buffers()}}

    def save_checkpoint(self, save_dir, tag=None, client_state=None):
        """DeepSpeed's layout: <save_dir>/<tag>/ holds zo's crash-safe checkpoint of the
        offloaded state (zo/, docs/checkpoints.md) and module_extras.pt (frozen
        parameters, buffers, client_state); <save_dir>/latest names the tag. Call it at the
        end of an accumulation (zo refuses it inside one). Returns the tag's path."""
        tag = str(tag) if tag is not None else f"global_step{self.global_steps}"
        path = os.path.join(os.fspath(save_dir), tag)
        os.makedirs(path, exist_ok=True)
        self.engine.save(os.path.join(path, "zo"))
        extras = {**self._module_extras(), "client_state": client_state}
        _write_atomically(os.path.join(path, "module_extras.pt"), lambda f: torch.save(extras, f))
        _write_atomically(os.path.join(os.fspath(save_dir), "latest"), lambda f: f.write(tag.encode()))
        return path

    def load_checkpoint(self, load_dir, tag=None):
        """Restores what save_checkpoint wrote (tag None: the one `latest` names); a
        checkpoint zo finds bad changes nothing and raises its error. Returns
        (path, client_state)."""
        load_dir = os.fspath(load_dir)
        if tag is None:
            latest = os.path.join(load_dir, "latest")
            if not os.path.exists(latest):
                raise InvalidArgumentError(f"zo.torch: no tag given and no {latest} to name one")
            with open(latest) as f:
                tag = f.read().strip()
        path = os.path.join(load_dir, str(tag))
        extras = torch.load(os.path.join(path, "module_extras.pt"), weights_only=False) \
            if os.path.exists(os.path.join(path, "module_extras.pt")) else None
        self.engine.load(os.path.join(path, "zo"))
        self.engine.synchronize()
        if extras is not None:
            with torch.no_grad():
                current = dict(self.module.named_parameters())
                for name, value in extras["frozen"].items():
                    current[name].copy_(value)
                buffers = dict(self.module.named_buffers())
                for name, value in extras["buffers"].items():
                    buffers[name].copy_(value)
        return path, (extras or {}).get("client_state")


def _write_atomically(path, write):
    temporary = path + ".tmp"
    with open(temporary, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)
