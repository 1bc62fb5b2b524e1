"""zo.torch.CPUAdam: a torch.optim.Optimizer whose step is cpu_adam's kernel (zo/adam.h),
for CPU-resident parameters: fp32 parameters are updated in place; bf16/fp16 parameters
keep an fp32 master copy in the optimizer state and receive the rounded new weights."""
import torch

from zo.adam import AdamKernels
from zo.errors import InvalidArgumentError, NotSupportedError


class CPUAdam(torch.optim.Optimizer):
    """Adam / AdamW on CPU tensors, a drop-in for torch.optim.AdamW (adamw_mode=True,
    the default) or torch.optim.Adam (adamw_mode=False: L2 weight decay) and for
    DeepSpeedCPUAdam. Per-group lr, betas, eps, weight_decay, bias_correction; works with
    any torch.optim.lr_scheduler; state_dict/load_state_dict resume bit for bit.

    DeepSpeedCPUAdam's keywords (bias_correction, adamw_mode, fp32_optimizer_states=False
    for bf16 moments) are accepted.

    State per parameter: "step" (a float tensor, as torch's Adam keeps it), "exp_avg" and
    "exp_avg_sq" (fp32, or bf16 with moments_dtype=torch.bfloat16), and for a bf16/fp16
    parameter its fp32 "master" (initialized from the parameter's value)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, *,
                 adamw_mode=True, bias_correction=True, amsgrad=False, maximize=False,
                 moments_dtype=torch.float32, num_threads=0, fp32_optimizer_states=True):
        if not fp32_optimizer_states:  # DeepSpeedCPUAdam's switch: zo's compact moments are bf16
            moments_dtype = torch.bfloat16
        if amsgrad:
            raise NotSupportedError("CPUAdam: amsgrad is not implemented by zo's cpu_adam")
        if maximize:
            raise NotSupportedError("CPUAdam: maximize is not implemented by zo's cpu_adam")
        if moments_dtype not in (torch.float32, torch.bfloat16):
            raise InvalidArgumentError(f"CPUAdam: moments_dtype {moments_dtype}; zo keeps moments as "
                                       "torch.float32 or torch.bfloat16")
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, bias_correction=bias_correction)
        super().__init__(params, defaults)
        self.adamw_mode = adamw_mode
        self.moments_dtype = moments_dtype
        self.kernels = AdamKernels(num_threads)
        for group_index, group in enumerate(self.param_groups):
            for index, param in enumerate(group["params"]):
                self._check_param(param, f"param_groups[{group_index}].params[{index}]")

    def add_param_group(self, param_group):
        super().add_param_group(param_group)
        if hasattr(self, "kernels"):
            for index, param in enumerate(self.param_groups[-1]["params"]):
                self._check_param(param, f"param_groups[{len(self.param_groups) - 1}].params[{index}]")

    @staticmethod
    def _check_param(param, where):
        if param.device.type != "cpu":
            raise InvalidArgumentError(f"CPUAdam: {where} is on {param.device}; CPUAdam updates CPU tensors")
        if param.dtype not in (torch.float32, torch.bfloat16, torch.float16):
            raise InvalidArgumentError(f"CPUAdam: {where} is {param.dtype}; zo updates float32, bfloat16 "
                                       "and float16 parameters")
        if not param.is_contiguous():
            raise InvalidArgumentError(f"CPUAdam: {where} is not contiguous; zo updates flat arrays")

    def _state_of(self, param):
        state = self.state[param]
        if not state:
            state["step"] = torch.tensor(0.0)
            state["exp_avg"] = torch.zeros(param.shape, dtype=self.moments_dtype)
            state["exp_avg_sq"] = torch.zeros(param.shape, dtype=self.moments_dtype)
            if param.dtype != torch.float32:
                state["master"] = param.detach().to(torch.float32)
        return state

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                if param.grad.is_sparse:
                    raise NotSupportedError("CPUAdam: sparse gradients are not supported")
                grad = param.grad if param.grad.is_contiguous() else param.grad.contiguous()
                state = self._state_of(param)
                master = state.get("master")
                # the count moves only once the kernel took the step (a refusal changes nothing)
                self.kernels.step(int(state["step"].item()) + 1, param.data if master is None else master,
                                  state["exp_avg"], state["exp_avg_sq"], grad,
                                  lr=float(group["lr"]), beta1=beta1, beta2=beta2, eps=group["eps"],
                                  weight_decay=group["weight_decay"], adamw=self.adamw_mode,
                                  bias_correction=group["bias_correction"],
                                  weights_out=None if master is None else param.data)
                state["step"] += 1
        return loss

    def load_state_dict(self, state_dict):
        # torch casts floating state to each parameter's dtype; the fp32 master and
        # moments of a bf16/fp16 parameter must keep their bits: put the saved tensors back
        saved = state_dict["state"]
        ids = [i for group in state_dict["param_groups"] for i in group["params"]]
        params = [p for group in self.param_groups for p in group["params"]]
        super().load_state_dict(state_dict)
        for saved_id, param in zip(ids, params):
            for key, value in saved.get(saved_id, {}).items():
                if key != "step" and torch.is_tensor(value):
                    self.state[param][key] = value.detach().to("cpu").clone().contiguous()
