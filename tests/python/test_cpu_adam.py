"""zo.torch.CPUAdam against torch.optim.AdamW / Adam, its state_dict round trip, param
groups and an LR scheduler driving it."""
import copy

import pytest
import torch

import zo
from zo.torch import CPUAdam

STEPS = 200


def gradients(shape, steps, seed):
    """A fixed gradient sequence, the same for both optimizers: the comparison then
    measures the optimizers' arithmetic alone (no feedback through a loss)."""
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=generator) for _ in range(steps)]


def tolerance(reference, steps):
    """The two implementations round differently (torch: w * (1 - lr*wd), addcdiv with a
    precomputed step size; zo: w - lr*wd*w, its own order), up to ~2 ulp of |w| per step.
    Fixed gradients keep Adam from amplifying the difference (the update is bounded by
    lr and decay is contractive), so it grows at most linearly: 2 ulp * steps."""
    return 2 * steps * torch.finfo(torch.float32).eps * reference.abs().max().item()


class AdamWithoutBiasCorrection:
    """torch has no switch for bias correction: AdamW without it, in torch's own ops."""

    def __init__(self, params, lr, betas, eps, weight_decay):
        self.params, self.lr, self.betas, self.eps, self.weight_decay = params, lr, betas, eps, weight_decay
        self.moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]

    @torch.no_grad()
    def step(self):
        for param, (exp_avg, exp_avg_sq) in zip(self.params, self.moments):
            param.mul_(1 - self.lr * self.weight_decay)
            exp_avg.lerp_(param.grad, 1 - self.betas[0])
            exp_avg_sq.mul_(self.betas[1]).addcmul_(param.grad, param.grad, value=1 - self.betas[1])
            param.addcdiv_(exp_avg, exp_avg_sq.sqrt().add_(self.eps), value=-self.lr)


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
@pytest.mark.parametrize("bias_correction", [True, False])
def test_matches_torch_adamw_over_200_steps(weight_decay, bias_correction):
    start = torch.randn(4099)  # an odd length: the kernels' vector tails run too
    ours, theirs = torch.nn.Parameter(start.clone()), torch.nn.Parameter(start.clone())
    zo_optimizer = CPUAdam([ours], lr=3e-3, betas=(0.9, 0.99), eps=1e-8, weight_decay=weight_decay,
                           bias_correction=bias_correction)
    torch_optimizer = (torch.optim.AdamW([theirs], lr=3e-3, betas=(0.9, 0.99), eps=1e-8, weight_decay=weight_decay)
                       if bias_correction else AdamWithoutBiasCorrection([theirs], 3e-3, (0.9, 0.99), 1e-8, weight_decay))
    for grad in gradients(start.shape, STEPS, seed=7):
        ours.grad, theirs.grad = grad.clone(), grad.clone()
        zo_optimizer.step()
        torch_optimizer.step()
    assert not torch.equal(ours.detach(), start)
    torch.testing.assert_close(ours.detach(), theirs.detach(), rtol=0, atol=tolerance(theirs.detach(), STEPS))


def test_adam_mode_matches_torch_adam_with_l2_decay():
    start = torch.randn(1000)
    ours, theirs = torch.nn.Parameter(start.clone()), torch.nn.Parameter(start.clone())
    zo_optimizer = CPUAdam([ours], lr=1e-3, weight_decay=0.05, adamw_mode=False)
    torch_optimizer = torch.optim.Adam([theirs], lr=1e-3, weight_decay=0.05)
    for grad in gradients(start.shape, STEPS, seed=8):
        ours.grad, theirs.grad = grad.clone(), grad.clone()
        zo_optimizer.step()
        torch_optimizer.step()
    torch.testing.assert_close(ours.detach(), theirs.detach(), rtol=0, atol=tolerance(theirs.detach(), STEPS))


def test_param_groups_use_their_own_hyperparameters():
    a, b = torch.randn(300), torch.randn(200)
    ours = [torch.nn.Parameter(a.clone()), torch.nn.Parameter(b.clone())]
    theirs = [torch.nn.Parameter(a.clone()), torch.nn.Parameter(b.clone())]
    groups = lambda p: [{"params": [p[0]], "lr": 1e-2, "weight_decay": 0.1, "betas": (0.8, 0.95)},  # noqa: E731
                        {"params": [p[1]], "lr": 1e-3, "eps": 1e-6}]
    zo_optimizer, torch_optimizer = CPUAdam(groups(ours)), torch.optim.AdamW(groups(theirs), weight_decay=0.0)
    for grad_a, grad_b in zip(gradients(a.shape, 50, 1), gradients(b.shape, 50, 2)):
        for params in (ours, theirs):
            params[0].grad, params[1].grad = grad_a.clone(), grad_b.clone()
        zo_optimizer.step()
        torch_optimizer.step()
    for mine, reference in zip(ours, theirs):
        torch.testing.assert_close(mine.detach(), reference.detach(), rtol=0, atol=tolerance(reference.detach(), 50))


def test_lr_scheduler_drives_it():
    start = torch.randn(500)
    ours, theirs = torch.nn.Parameter(start.clone()), torch.nn.Parameter(start.clone())
    zo_optimizer, torch_optimizer = CPUAdam([ours], lr=1e-2), torch.optim.AdamW([theirs], lr=1e-2, weight_decay=0.0)
    schedulers = [torch.optim.lr_scheduler.OneCycleLR(o, max_lr=5e-2, total_steps=100)
                  for o in (zo_optimizer, torch_optimizer)]
    seen = []
    for grad in gradients(start.shape, 100, seed=3):
        ours.grad, theirs.grad = grad.clone(), grad.clone()
        zo_optimizer.step()
        torch_optimizer.step()
        seen.append(zo_optimizer.param_groups[0]["lr"])
        for scheduler in schedulers:
            scheduler.step()
    assert max(seen) > 4e-2 and min(seen) < 1e-2  # the schedule moved the optimizer's lr
    torch.testing.assert_close(ours.detach(), theirs.detach(), rtol=0, atol=tolerance(theirs.detach(), 100))


def train(params, optimizer, grads):
    for step_grads in grads:
        for param, grad in zip(params, step_grads):
            param.grad = grad.to(param.dtype)
        optimizer.step()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_state_dict_round_trip_resumes_bit_for_bit(dtype):
    shapes = [(33, 17), (5,)]
    grads = list(zip(*[gradients(shape, 60, seed=i) for i, shape in enumerate(shapes)]))
    params = [torch.nn.Parameter(torch.randn(shape).to(dtype)) for shape in shapes]
    optimizer = CPUAdam([{"params": params[:1]}, {"params": params[1:], "lr": 5e-3}], weight_decay=0.01)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.5)
    train(params, optimizer, grads[:30])
    scheduler.step()
    saved_params = [p.detach().clone() for p in params]
    saved_state = copy.deepcopy(optimizer.state_dict())
    saved_scheduler = copy.deepcopy(scheduler.state_dict())
    train(params, optimizer, grads[30:])
    uninterrupted = [p.detach().clone() for p in params]

    resumed_params = [torch.nn.Parameter(p.clone()) for p in saved_params]
    resumed = CPUAdam([{"params": resumed_params[:1]}, {"params": resumed_params[1:], "lr": 1.0}])
    resumed.load_state_dict(saved_state)
    resumed_scheduler = torch.optim.lr_scheduler.StepLR(resumed, step_size=10, gamma=0.5)
    resumed_scheduler.load_state_dict(saved_scheduler)
    if dtype != torch.float32:
        assert resumed.state[resumed_params[0]]["master"].dtype == torch.float32
    assert resumed.state[resumed_params[0]]["exp_avg"].dtype == torch.float32
    train(resumed_params, resumed, grads[30:])
    for mine, reference in zip(resumed_params, uninterrupted):
        assert torch.equal(mine.detach(), reference)


def test_bf16_parameters_keep_an_fp32_master():
    start = torch.randn(1000)
    param = torch.nn.Parameter(start.to(torch.bfloat16))
    reference = torch.nn.Parameter(start.to(torch.bfloat16).float())
    optimizer, torch_optimizer = CPUAdam([param], lr=1e-3), torch.optim.AdamW([reference], lr=1e-3, weight_decay=0.0)
    for grad in gradients(start.shape, 50, seed=5):
        param.grad, reference.grad = grad.to(torch.bfloat16), grad.to(torch.bfloat16).float()
        optimizer.step()
        torch_optimizer.step()
    master = optimizer.state[param]["master"]
    torch.testing.assert_close(master, reference.detach(), rtol=0, atol=tolerance(reference.detach(), 50))
    assert torch.equal(param.detach(), master.to(torch.bfloat16))  # the rounded new weights


def test_refuses_what_it_cannot_do_by_name():
    with pytest.raises(zo.NotSupportedError, match="amsgrad"):
        CPUAdam([torch.nn.Parameter(torch.ones(3))], amsgrad=True)
    with pytest.raises(zo.InvalidArgumentError, match=r"params\[0\] is torch.float64"):
        CPUAdam([torch.nn.Parameter(torch.ones(3, dtype=torch.float64))])
    with pytest.raises(zo.InvalidArgumentError, match="not contiguous"):
        CPUAdam([torch.nn.Parameter(torch.ones(4, 4).t())])


def test_bf16_moments_halve_the_state_and_stay_close():
    start = torch.randn(2000)
    compact, full = torch.nn.Parameter(start.clone()), torch.nn.Parameter(start.clone())
    compact_optimizer = CPUAdam([compact], lr=1e-3, moments_dtype=torch.bfloat16)
    full_optimizer = CPUAdam([full], lr=1e-3)
    for grad in gradients(start.shape, 100, seed=9):
        compact.grad, full.grad = grad.clone(), grad.clone()
        compact_optimizer.step()
        full_optimizer.step()
    assert compact_optimizer.state[compact]["exp_avg"].dtype == torch.bfloat16
    deepspeed_style = CPUAdam([torch.nn.Parameter(torch.ones(4))], fp32_optimizer_states=False)
    assert deepspeed_style.moments_dtype == torch.bfloat16
    assert not torch.equal(compact.detach(), full.detach())
    # each step's update (at most lr) carries the moments' bf16 rounding, 2^-8 relative,
    # twice (m and sqrt v): the weights drift apart by at most steps * lr * 2^-7
    assert (compact.detach() - full.detach()).abs().max().item() <= 100 * 1e-3 * 2 ** -7
