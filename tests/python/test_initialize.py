"""zo.torch.initialize on a small language model with a tied embedding, a frozen layer
and a buffer, on the host backend: the loss trajectory against plain torch (AdamW +
clip_grad_norm_ + the same schedule and accumulation), checkpoint resume bit for bit,
and bad input refused with zo's message."""
import copy
import math

import pytest
import torch
import torch.nn.functional as F

import zo
import zo.torch

VOCAB, DIM, SEQUENCE, MICRO_BATCH, ACCUMULATION = 48, 32, 12, 4, 2
BASE_LR, WARMUP, TOTAL = 2e-2, 10, 100


class TinyLM(torch.nn.Module):
    """Embedding tied to the output head, a frozen projection, a trained block, a
    LayerNorm, and a floating buffer added to the embeddings."""

    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(VOCAB, DIM)
        self.frozen = torch.nn.Linear(DIM, DIM)
        self.frozen.requires_grad_(False)
        self.hidden = torch.nn.Linear(DIM, 2 * DIM)
        self.out = torch.nn.Linear(2 * DIM, DIM)
        self.norm = torch.nn.LayerNorm(DIM)
        self.head = torch.nn.Linear(DIM, VOCAB, bias=False)
        self.head.weight = self.embed.weight  # tied: one Parameter in two modules
        self.register_buffer("offset", torch.linspace(-0.1, 0.1, DIM))

    def forward(self, tokens):
        x = self.embed(tokens) + self.offset
        x = x + self.out(torch.tanh(self.hidden(self.frozen(x))))
        return self.head(self.norm(x))


def config(dtype="fp32", **extra):
    base = {"train_micro_batch_size_per_gpu": MICRO_BATCH, "gradient_accumulation_steps": ACCUMULATION,
            "gradient_clipping": 1.0,
            "optimizer": {"type": "AdamW", "params": {"lr": BASE_LR, "betas": [0.9, 0.99], "eps": 1e-8,
                                                      "weight_decay": 0.01}},
            "scheduler": {"type": "WarmupDecayLR", "params": {"warmup_min_lr": 0.0, "warmup_max_lr": BASE_LR,
                                                              "warmup_num_steps": WARMUP, "warmup_type": "linear",
                                                              "total_num_steps": TOTAL}},
            "zo": {"device": "host"}}
    if dtype == "bf16":
        base["bf16"] = {"enabled": True}
    base.update(extra)
    return base


def scheduled_lr(step):
    """DeepSpeed's WarmupDecayLR (linear warm-up) at optimizer step `step` (1-based):
    the value set at construction for the first step, then iteration step - 2."""
    if step <= 1:
        return 0.0
    iteration = step - 2
    if iteration < WARMUP:
        return BASE_LR * iteration / WARMUP
    return BASE_LR * max(0.0, (TOTAL - iteration) / max(1.0, TOTAL - WARMUP))


def batch(micro_step):
    generator = torch.Generator().manual_seed(1000 + micro_step)
    tokens = torch.randint(0, VOCAB, (MICRO_BATCH, SEQUENCE + 1), generator=generator)
    # a learnable rule: the next token is the previous plus one, mostly
    tokens[:, 1:] = torch.where(torch.rand(MICRO_BATCH, SEQUENCE, generator=generator) < 0.8,
                                (tokens[:, :-1] + 1) % VOCAB, tokens[:, 1:])
    return tokens[:, :-1], tokens[:, 1:]


def loss_of(model, micro_step):
    inputs, targets = batch(micro_step)
    logits = model(inputs).float()
    return F.cross_entropy(logits.reshape(-1, VOCAB), targets.to(logits.device).reshape(-1))


def train_with_zo(engine, steps, first_micro_step=0):
    losses = []
    for micro_step in range(first_micro_step, first_micro_step + steps * ACCUMULATION):
        loss = loss_of(engine, micro_step)
        engine.backward(loss)
        info = engine.step()
        if info.boundary:
            assert info.lr == pytest.approx(scheduled_lr(info.step), rel=1e-6, abs=1e-12)
        losses.append(loss.item())
    return losses


def train_with_torch(model, steps, dtype):
    """The same training in plain torch: AdamW on fp32 masters, clip_grad_norm_, the
    schedule as a LambdaLR, accumulation over ACCUMULATION micro-steps of loss / steps.
    For bf16 the model runs in bf16 and the masters are fp32 copies (zo's arrangement)."""
    trainable = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    if dtype == "bf16":
        masters = [torch.nn.Parameter(p.detach().float().clone()) for _, p in trainable]
        model.to(torch.bfloat16)
    else:
        masters = [p for _, p in trainable]
    optimizer = torch.optim.AdamW(masters, lr=BASE_LR, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda e: scheduled_lr(e + 1) / BASE_LR)
    losses = []
    for micro_step in range(steps * ACCUMULATION):
        loss = loss_of(model, micro_step)
        (loss / ACCUMULATION).backward()
        losses.append(loss.item())
        if (micro_step + 1) % ACCUMULATION:
            continue
        if dtype == "bf16":
            for master, (_, p) in zip(masters, trainable):
                master.grad = p.grad.float()
                p.grad = None
        torch.nn.utils.clip_grad_norm_(masters, 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        if dtype == "bf16":
            with torch.no_grad():
                for master, (_, p) in zip(masters, trainable):
                    p.copy_(master)
    return losses


# Tolerances of the trajectories over 100 steps (measured: 2.5e-7 and 1.2e-3 relative).
# fp32: the same arithmetic up to rounding (zo's Adam and its double-precision gradient
# norm differ from torch's in the last bits of a step), which stays a few float32 ulps of
# the loss: 1e-5. bf16: the forward and backward are the same bf16 computation in both,
# but a last-bit difference in a master can flip the bf16 rounding of a weight (2^-8
# relative), so the trajectories drift apart at bf16's resolution: 1% of the loss.
TOLERANCE = {"fp32": 1e-5, "bf16": 1e-2}


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_loss_trajectory_matches_plain_torch_over_100_steps(dtype):
    model = TinyLM()
    reference = copy.deepcopy(model)
    engine = zo.torch.initialize(model, config(dtype))
    ours = train_with_zo(engine, TOTAL)
    theirs = train_with_torch(reference, TOTAL, dtype)
    assert ours[-1] < 0.7 * ours[0]  # it learned
    for step, (mine, reference_loss) in enumerate(zip(ours, theirs)):
        assert abs(mine - reference_loss) <= TOLERANCE[dtype] * abs(reference_loss), (step, mine, reference_loss)
    assert engine.global_steps == TOTAL and engine.micro_steps == TOTAL * ACCUMULATION
    assert engine.get_lr() == [pytest.approx(scheduled_lr(TOTAL), abs=1e-12)]
    assert engine.last_grad_norm > 0 and engine.loss_scale == 1.0


def test_params_and_grads_are_views_of_the_engine():
    model = TinyLM()
    frozen_before = model.frozen.weight.detach().clone()
    engine = zo.torch.initialize(model, config("bf16"))
    assert engine.param_names == ["embed.weight", "hidden.weight", "hidden.bias", "out.weight", "out.bias",
                                  "norm.weight", "norm.bias"]  # the tied head once; frozen ones left out
    lib = zo._library.lib
    for index, param in enumerate(engine.params):
        assert param.dtype == torch.bfloat16
        assert param.data_ptr() == lib.zo_engine_weights(engine.engine.handle, index)
    assert model.head.weight is model.embed.weight
    assert model.offset.dtype == torch.bfloat16 and model.frozen.weight.dtype == torch.bfloat16
    engine.backward(loss_of(engine, 0))
    for index, param in enumerate(engine.params):
        assert param.grad.data_ptr() == lib.zo_engine_grads(engine.engine.handle, index)  # accumulated in place
    engine.step()
    assert engine.is_gradient_accumulation_boundary()
    engine.backward(loss_of(engine, 1))
    engine.step()
    assert torch.equal(model.embed.weight.detach(), engine.engine.get_master(0).view(VOCAB, DIM).bfloat16())
    assert torch.equal(model.frozen.weight.detach(), frozen_before.bfloat16())  # frozen: untouched


def test_unused_parameters_hand_over_zero_gradients():
    class WithUnused(TinyLM):
        def __init__(self):
            super().__init__()
            self.unused = torch.nn.Linear(DIM, DIM)

    engine = zo.torch.initialize(WithUnused(), config())
    for micro_step in range(2 * ACCUMULATION):
        engine.backward(loss_of(engine, micro_step))
        engine.step()
    assert engine.global_steps == 2


def test_checkpoint_resume_is_bit_exact(tmp_path):
    model = TinyLM()
    fresh = copy.deepcopy(model)
    engine = zo.torch.initialize(model, config("bf16"))
    train_with_zo(engine, 10)
    engine.save_checkpoint(tmp_path, client_state={"epoch": 3})
    uninterrupted = train_with_zo(engine, 10, first_micro_step=10 * ACCUMULATION)
    masters = [engine.engine.get_master(i) for i in range(len(engine.params))]

    resumed = zo.torch.initialize(fresh, config("bf16"))
    path, client_state = resumed.load_checkpoint(tmp_path)
    assert client_state == {"epoch": 3} and path.endswith("global_step10")
    assert resumed.global_steps == 10
    again = train_with_zo(resumed, 10, first_micro_step=10 * ACCUMULATION)
    assert again == uninterrupted
    for index, master in enumerate(masters):
        assert torch.equal(resumed.engine.get_master(index), master)
    assert torch.equal(fresh.offset, model.offset)


def test_bad_checkpoint_raises_zo_error_and_changes_nothing(tmp_path):
    engine = zo.torch.initialize(TinyLM(), config())
    train_with_zo(engine, 1)
    path = engine.save_checkpoint(tmp_path)
    before = engine.engine.get_master(1)
    shard = next((tmp_path / "global_step1" / "zo").glob("rank*.safetensors"))
    data = bytearray(shard.read_bytes())
    data[-5] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(zo.IOError) as caught:
        engine.load_checkpoint(tmp_path)
    assert caught.value.status_name == "ZO_ERR_IO" and "safetensors" in caught.value.message
    assert torch.equal(engine.engine.get_master(1), before)
    assert path


def test_bad_input_is_refused_with_zo_messages():
    class NonContiguous(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.randn(4, 3).t())

    with pytest.raises(zo.InvalidArgumentError, match="parameter weight is not contiguous"):
        zo.torch.initialize(NonContiguous(), config())

    double = TinyLM()
    double.hidden.bias = torch.nn.Parameter(torch.zeros(2 * DIM, dtype=torch.float64))
    with pytest.raises(zo.InvalidArgumentError, match="parameter hidden.bias is torch.float64"):
        zo.torch.initialize(double, config())

    with pytest.raises(zo.ConfigError) as caught:
        zo.torch.initialize(TinyLM(), {**config(), "gradient_clippin": 1.0})
    assert 'unknown key "gradient_clippin"' in caught.value.message

    with pytest.raises(zo.NotSupportedError) as caught:
        zo.torch.initialize(TinyLM(), {**config(), "optimizer": {"type": "Lamb"}})
    assert "Lamb" in caught.value.message

    shared = TinyLM()
    shared.out.weight = torch.nn.Parameter(shared.hidden.weight.detach().t().contiguous())
    shared.out.bias = torch.nn.Parameter(shared.hidden.weight.detach().view(-1)[:DIM])  # a view of hidden.weight
    with pytest.raises(zo.InvalidArgumentError, match="share memory"):
        zo.torch.initialize(shared, config())


def test_a_nan_weight_is_refused_by_name_and_the_model_is_left_as_it_was():
    model = TinyLM()
    with torch.no_grad():
        model.out.bias[3] = float("nan")
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    with pytest.raises(zo.NonFiniteError) as caught:
        zo.torch.initialize(model, config("bf16"))
    assert "out.bias" in caught.value.message and "element 3" in caught.value.message
    for name, param in model.named_parameters():
        assert param.dtype == torch.float32
        assert torch.allclose(param.detach(), before[name], rtol=0, atol=0, equal_nan=True)


def test_backward_twice_in_a_micro_step_is_refused():
    engine = zo.torch.initialize(TinyLM(), config())
    engine.backward(loss_of(engine, 0))
    with pytest.raises(zo.InvalidArgumentError, match="call step"):
        engine.backward(loss_of(engine, 1))


STAGE3 = {"stage": 3, "offload_param": {"device": "cpu"}, "stage3_param_persistence_threshold": 0,
          # room for about three of the largest parameters (2048 elements) at once: slots
          # are released and reused within every forward and backward
          "stage3_max_live_parameters": 6144}


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_stage3_trains_as_stage_0_does(dtype):
    model = TinyLM()
    copy_for_stage3 = copy.deepcopy(model)
    reference = train_with_zo(zo.torch.initialize(model, config(dtype)), 30)
    engine = zo.torch.initialize(copy_for_stage3, config(dtype, zero_optimization=STAGE3))
    assert engine.params[0].numel() == 0  # released: the weights are in host memory
    stage3 = train_with_zo(engine, 30)
    info = engine.last_step_info
    assert info.fetches > 0 and info.bytes_fetched > 0
    # the same arithmetic: gradients copied into slots instead of accumulated in place
    assert stage3 == reference


def test_stage3_refuses_a_model_that_does_not_fit_its_slots():
    tight = {**STAGE3, "stage3_max_live_parameters": 1000}  # the embedding alone has 1536
    with pytest.raises(zo.ZoError) as caught:
        engine = zo.torch.initialize(TinyLM(), config(zero_optimization=tight))
        engine.backward(loss_of(engine, 0))
    assert "stage3_max_live_parameters" in caught.value.message


def test_fp16_backward_scales_the_loss_and_zo_unscales_it():
    model = TinyLM()
    fp16_model = copy.deepcopy(model)
    reference = zo.torch.initialize(model, config("fp32"))
    engine = zo.torch.initialize(fp16_model, config("fp32", fp16={"enabled": True, "loss_scale": 256}))
    assert engine.loss_scale == 256.0 and engine.params[0].dtype == torch.float16
    for micro_step in range(2 * ACCUMULATION):
        for trained in (reference, engine):
            trained.backward(loss_of(trained, micro_step))
            trained.step()
        if (micro_step + 1) % ACCUMULATION == 0:
            # the norm of the unscaled gradient: fp16 rounding apart, the fp32 run's
            # (a missing or doubled scaling would be off by 256x)
            assert engine.last_grad_norm == pytest.approx(reference.last_grad_norm, rel=0.05)


def test_fp16_dynamic_loss_scale_skips_overflowing_steps_and_trains():
    engine = zo.torch.initialize(TinyLM(), config("fp32", fp16={"enabled": True, "initial_scale_power": 24,
                                                                "hysteresis": 1}))
    assert engine.loss_scale == 2.0 ** 24  # fp16 gradients of this loss times 2^24 overflow
    skipped, losses = 0, []
    for micro_step in range(40 * ACCUMULATION):
        loss = loss_of(engine, micro_step)
        engine.backward(loss)
        info = engine.step()
        skipped += info.skipped
        losses.append(loss.item())
    assert skipped > 0 and engine.loss_scale < 2.0 ** 24
    assert engine.global_steps == 40 - skipped
    assert sum(losses[-10:]) < 0.7 * sum(losses[:10])
