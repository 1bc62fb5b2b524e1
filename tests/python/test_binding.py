"""The low-level layer: library loading, statuses as exceptions, configs, settings struct
layout, the engine's zero-copy views, step info, plan, save/load, stage-3 fetch/release."""
import ctypes
import json

import pytest
import torch

import zo
from zo import _structs
from zo._library import lib

HOST = {"zo": {"device": "host"}}


def test_library_version_matches_the_meson_project():
    assert zo.__version__.count(".") == 2
    assert zo.library_path


def test_every_status_becomes_an_exception_with_its_name_and_message():
    with pytest.raises(zo.ConfigError) as caught:
        zo.Config({"fp16": {"loss_scale_windw": 3}})
    assert caught.value.status_name == "ZO_ERR_CONFIG"
    assert "fp16.loss_scale_windw" in caught.value.message
    assert "did you mean" in str(caught.value)
    with pytest.raises(zo.IOError) as caught:
        zo.Config.from_file("/nonexistent/ds_config.json")
    assert caught.value.status_name == "ZO_ERR_IO" and "/nonexistent/ds_config.json" in caught.value.message
    with pytest.raises(zo.NotSupportedError):
        zo.Config({"optimizer": {"type": "Adam", "params": {"amsgrad": True}}})


def test_status_names_cover_every_zo_status():
    for status in range(-1, -11, -1):
        error = zo.errors.error_for(status, "m")
        assert error.status == status and error.status_name.startswith("ZO_ERR_")
        assert lib.zo_status_name(status).decode() == error.status_name


def test_config_from_dict_json_string_and_file_agree(tmp_path):
    source = {"train_micro_batch_size_per_gpu": 2, "gradient_accumulation_steps": 4,
              "bf16": {"enabled": True}, "steps_per_print": 5, **HOST}
    path = tmp_path / "ds_config.json"
    path.write_text(json.dumps(source))
    configs = [zo.Config(source), zo.Config(json.dumps(source)), zo.Config(str(path)), zo.Config.from_file(path)]
    for config in configs:
        assert config.settings["gradient_accumulation_steps"] == 4
        assert config.settings["bf16_enabled"] is True
        assert config.ignored_keys == ["steps_per_print"]


def test_settings_struct_matches_the_library_layout():
    settings = zo.default_settings()
    # DeepSpeed's defaults, read through every part of the struct
    assert settings.reduce_bucket_size == 500_000_000
    assert settings.hysteresis == 2 and settings.initial_scale_power == 16
    assert settings.stage3_model_persistence_threshold == 2**64 - 1
    assert settings.collective_timeout_seconds == 600.0
    assert abs(settings.adam.beta2 - 0.999) < 1e-7 and settings.adam.adamw
    assert bytes(settings.reserved) == bytes(64)
    # the library refuses non-zero reserved bytes: a misplaced field would show here
    settings.loss_scale_window = 77
    settings.device_memory_budget = 1 << 30
    config = zo.Config.from_settings(settings)
    assert config.settings["loss_scale_window"] == 77
    assert config.settings["device_memory_budget"] == 1 << 30
    settings.reserved[0] = 1
    with pytest.raises(zo.ConfigError):
        zo.Config.from_settings(settings)


def test_struct_sizes_are_those_of_c():
    # x86-64 System V sizes of the structs the library fills (zo/engine.h, zo/adam.h)
    assert ctypes.sizeof(_structs.AdamHparams) == 24
    assert ctypes.sizeof(_structs.ParamDesc) == 16
    assert ctypes.sizeof(_structs.GradStats) == 16


def make_engine(extra=None, params=(("a", 10), ("b", 7))):
    return zo.Engine({**HOST, **(extra or {})}, list(params))


def test_engine_weights_and_grads_are_views_of_engine_memory():
    with make_engine({"bf16": {"enabled": True}}) as engine:
        assert engine.dtype == torch.bfloat16 and engine.device_name == "host"
        engine.set_master(0, torch.arange(10, dtype=torch.float32))
        weights = engine.weights(0)
        assert weights.data_ptr() == lib.zo_engine_weights(engine.handle, 0)
        assert torch.equal(weights.float(), torch.arange(10, dtype=torch.float32))
        grads = engine.grads(1)
        assert grads.data_ptr() == lib.zo_engine_grads(engine.handle, 1) and grads.numel() == 7


def test_engine_step_updates_masters_and_weights_in_place():
    config = {"optimizer": {"type": "AdamW", "params": {"lr": 0.1, "weight_decay": 0.0}}, "gradient_clipping": 0}
    with make_engine(config) as engine:
        start = torch.ones(10)
        engine.set_master(0, start)
        engine.set_master(1, torch.ones(7))
        weights = engine.weights(0)
        for param in range(2):
            engine.wait_params(param)
            engine.grads(param).fill_(1.0)
            engine.grad_ready(param)
        info = engine.step()
        assert info.boundary and not info.skipped and info.step == 1
        assert abs(info.grad_norm - 17 ** 0.5) < 1e-6 and abs(info.lr - 0.1) < 1e-7
        engine.wait_params(0)
        # Adam's first step moves every weight by lr (g/|g| after bias correction)
        assert torch.allclose(weights, start - 0.1, atol=1e-6)
        assert torch.allclose(engine.get_master(0), start - 0.1, atol=1e-6)
        assert engine.step_count == 1 and engine.micro_step_count == 1


def test_engine_refuses_bad_calls_with_zo_messages():
    with make_engine() as engine:
        with pytest.raises(zo.InvalidArgumentError, match="have 3 elements, the parameter has 10"):
            engine.set_master(0, torch.ones(3))
        with pytest.raises(zo.InvalidArgumentError, match="not contiguous"):
            engine.set_master(0, torch.ones(20)[::2])
        engine.grad_ready(0)
        with pytest.raises(zo.InvalidArgumentError) as caught:
            engine.step()  # b's gradient was never handed over: zo names it
        assert "b" in caught.value.message


def test_nan_master_is_non_finite_error():
    with make_engine() as engine:
        with pytest.raises(zo.NonFiniteError) as caught:
            engine.set_master(0, torch.tensor([0.0] * 9 + [float("nan")]))
        assert "parameter 0 (a) has NaN at element 9" in caught.value.message


def test_engine_create_refuses_a_config_it_cannot_use():
    with pytest.raises(zo.ConfigError) as caught:
        zo.Engine({**HOST, "train_batch_size": 3, "train_micro_batch_size_per_gpu": 2,
                   "gradient_accumulation_steps": 1}, [("a", 4)])
    assert caught.value.message


def test_plan_reports_the_memory_needed():
    plan = zo.plan(HOST, [("a", 1 << 20)])
    assert plan.fits and plan.param_elems >= 1 << 20 and plan.host_bytes > 0
    huge = zo.plan({**HOST, "zo": {"device": "host", "device_memory_budget": 1 << 20}}, [("a", 1 << 24)])
    assert not huge.fits and huge.verdict


def test_save_and_load_restore_masters(tmp_path):
    with make_engine() as engine:
        engine.set_master(0, torch.full((10,), 3.0))
        engine.set_master(1, torch.full((7,), 4.0))
        engine.save(tmp_path / "ckpt")
        engine.set_master(0, torch.zeros(10))
        engine.load(tmp_path / "ckpt")
        assert torch.equal(engine.get_master(0), torch.full((10,), 3.0))
        with pytest.raises(zo.IOError):
            engine.load(tmp_path / "missing")
        zo.export_checkpoint(tmp_path / "ckpt", tmp_path / "model.safetensors")
        assert (tmp_path / "model.safetensors").stat().st_size > 17 * 4


def test_stage3_fetch_and_release_on_the_host_backend():
    config = {"zero_optimization": {"stage": 3, "offload_param": {"device": "cpu"},
                                    "stage3_param_persistence_threshold": 0,
                                    "stage3_max_live_parameters": 1000},
              "gradient_clipping": 0}
    with make_engine(config, params=(("a", 100), ("b", 100))) as engine:
        engine.set_master(0, torch.full((100,), 2.0))
        engine.set_master(1, torch.full((100,), 5.0))
        with pytest.raises(zo.InvalidArgumentError):
            engine.weights(0)  # not fetched yet: zo says so
        engine.fetch(0)
        assert torch.equal(engine.weights(0), torch.full((100,), 2.0))
        engine.release(0)
        with pytest.raises(zo.InvalidArgumentError):
            engine.release(0)  # twice: refused by the library
        for param in range(2):
            engine.grads(param).fill_(0.5)
            engine.grad_ready(param)
        info = engine.step()
        assert info.boundary and info.fetches >= 1 and info.fetch_update_wait_seconds >= 0


def test_configs_and_plans_work_without_torch():
    import os
    import subprocess
    import sys

    script = ("import sys; sys.modules['torch'] = None\n"  # any import of torch now fails
              "import zo\n"
              "config = zo.Config({'zo': {'device': 'host'}})\n"
              "assert zo.plan(config, [('a', 10)]).fits\n"
              "print('ok', zo.__version__)\n")
    from conftest import SOURCE_DIR

    env = {**os.environ, "PYTHONPATH": os.path.join(SOURCE_DIR, "python")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok ")
