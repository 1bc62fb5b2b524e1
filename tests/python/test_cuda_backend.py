"""The CUDA backend from Python: device tensors over the engine's memory and the current
torch stream handed to zo. Runs where libzo has CUDA and torch sees a GPU
(bench/gpu_check.sh); skipped elsewhere, with the reason."""
import copy

import pytest
import torch

import zo
import zo.torch

needs_gpu = pytest.mark.skipif(not (zo.cuda_built() and torch.cuda.is_available()),
                               reason="needs libzo built with CUDA and a GPU torch can use")


@needs_gpu
def test_engine_views_are_device_tensors_and_steps_run_on_the_current_stream():
    config = {"zo": {"device": "cuda"}, "bf16": {"enabled": True}, "gradient_clipping": 0,
              "optimizer": {"type": "AdamW", "params": {"lr": 0.1}}}
    with zo.Engine(config, [("a", 1000)]) as engine:
        assert engine.device_name == "cuda"
        engine.set_master(0, torch.ones(1000))
        stream = torch.cuda.Stream()
        with torch.cuda.stream(stream):
            engine.wait_params(0)
            weights = engine.weights(0)
            assert weights.is_cuda and weights.dtype == torch.bfloat16
            assert torch.equal(weights.float().cpu(), torch.ones(1000))
            grads = engine.grads(0)
            grads.fill_(1.0)
            engine.grad_ready(0)
            info = engine.step()
            engine.wait_params(0)
            torch.cuda.current_stream().synchronize()
        assert info.boundary and info.step == 1
        assert torch.allclose(weights.float().cpu(), torch.full((1000,), 0.9), atol=1e-2)


@needs_gpu
def test_initialize_on_the_gpu_follows_the_host_backend():
    from test_initialize import TinyLM, config, train_with_zo

    model = TinyLM()
    on_gpu = copy.deepcopy(model).cuda()
    host = train_with_zo(zo.torch.initialize(model, config("bf16")), 20)
    gpu_config = config("bf16")
    gpu_config["zo"] = {"device": "cuda"}
    gpu_engine = zo.torch.initialize(on_gpu, gpu_config)
    assert gpu_engine.params[0].is_cuda
    gpu = train_with_zo(_OnDevice(gpu_engine), 20)
    for mine, reference in zip(gpu, host):
        assert abs(mine - reference) <= 2e-2 * abs(reference)  # bf16 kernels differ by device


class _OnDevice:
    """The engine, with its inputs moved to the GPU."""

    def __init__(self, engine):
        self.engine = engine

    def __call__(self, tokens):
        return self.engine(tokens.cuda())

    def __getattr__(self, name):
        return getattr(self.engine, name)
