"""examples/python/char_transformer.py trains briefly on the host backend, its loss falls,
a run repeats for its seed, and --compare-moments reports every moments_dtype."""
import importlib.util
import math
import os

import pytest

from conftest import SOURCE_DIR

# a model small enough for a few seconds per run on a loaded 2-core machine
TINY = ["--dim", "32", "--context", "32", "--batch", "8", "--layers", "1", "--heads", "2"]


def load_example():
    path = os.path.join(SOURCE_DIR, "examples", "python", "char_transformer.py")
    spec = importlib.util.spec_from_file_location("char_transformer", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def example():
    return load_example()


@pytest.fixture(scope="module")
def corpus(example):
    return example.Corpus.load()


def test_char_transformer_loss_falls_on_the_cpu(example, corpus):
    args = example.parse_args(["--steps", "60", "--dim", "48", "--context", "32", "--batch", "8"])
    run = example.train(args, corpus, print_every=20)
    first, last = run.mean_loss(10), run.mean_loss(-10)
    assert first > 0.9 * math.log(len(corpus.characters))  # it starts near uniform guessing
    assert last < first - 0.8                              # and learns the characters' frequencies and more
    assert run.held_out_after < run.held_out_before - 0.8  # on text it never trained on too


def test_char_transformer_in_bf16(example, corpus):
    args = example.parse_args(["--steps", "40", "--dim", "32", "--context", "32", "--batch", "8", "--bf16"])
    run = example.train(args, corpus, print_every=20)
    assert run.mean_loss(-10) < run.mean_loss(10) - 0.5


def test_the_held_out_text_is_the_last_tenth_and_not_trained_on(example, corpus):
    text_length = len(example.read_corpus())
    assert len(corpus.train) + len(corpus.held_out) == text_length
    assert abs(len(corpus.held_out) - 0.1 * text_length) <= 1
    windows = corpus.held_out_windows(32)
    assert windows.shape[1] == 33
    # consecutive windows share one character, so every held-out character is a target once
    assert windows[:, 1:].numel() == len(corpus.held_out) - 1 - (len(corpus.held_out) - 1) % 32
    assert bool((windows[1:, 0] == windows[:-1, -1]).all())


def test_a_run_repeats_for_its_seed(example, corpus):
    args = example.parse_args(["--steps", "12"] + TINY)
    for moments_dtype in example.MOMENTS_DTYPES:
        first, again = (example.train(args, corpus, seed=3, moments_dtype=moments_dtype) for _ in range(2))
        assert first.losses == again.losses, moments_dtype
        assert first.held_out_after == again.held_out_after, moments_dtype
    other_seed = example.train(args, corpus, seed=4)
    assert other_seed.losses != first.losses


def test_compare_moments_reports_every_moments_dtype_for_every_seed(example, corpus, capsys):
    args = example.parse_args(["--compare-moments", "--seeds", "1,2", "--steps", "25"] + TINY)
    runs = example.compare_moments(args, corpus)
    status = example.print_summary_and_verdict(runs)
    output = capsys.readouterr().out

    assert sorted(runs) == [1, 2]
    for seed, by_dtype in runs.items():
        assert list(by_dtype) == list(example.MOMENTS_DTYPES)
        for moments_dtype, run in by_dtype.items():
            assert (run.seed, run.moments_dtype) == (seed, moments_dtype)
            assert len(run.losses) == 25
            assert all(math.isfinite(loss) for loss in run.losses + [run.held_out_before, run.held_out_after])
        # every dtype starts from the same model: the same held-out loss before training
        assert len({run.held_out_before for run in by_dtype.values()}) == 1
        assert by_dtype["f32"].held_out_after < by_dtype["f32"].held_out_before  # it learned
        # the setting reaches zo: the moments' rounding moves the losses, if only a little
        assert by_dtype["bf16"].losses != by_dtype["f32"].losses
        assert by_dtype["8bit"].losses != by_dtype["f32"].losses
        assert f"seed {seed}: held-out loss" in output
    for moments_dtype in example.MOMENTS_DTYPES:
        assert sum(line.split()[:1] == [moments_dtype] for line in output.splitlines()) == 3  # two seeds, summary
    # the verdict follows from the runs; no quality threshold is asserted on a run this small
    worst = max((abs(example.relative_difference(r["8bit"].held_out_after, r["f32"].held_out_after))
                 for r in runs.values()))
    assert status == (0 if worst <= example.ACCEPTED_HELD_OUT_DIFFERENCE else example.EXIT_MOMENTS_DIFFER)
    assert "verdict: 8bit's held-out loss is" in output.splitlines()[-1]


@pytest.mark.parametrize("argv, complaint", [
    (["--seeds", "1,2"], "--seeds goes with --compare-moments"),
    (["--compare-moments", "--seeds", "1,x"], "is not a comma-separated list of integers"),
    (["--compare-moments", "--seeds", "1,1"], "names a seed twice"),
    (["--compare-moments", "--moments-dtype", "8bit"], "leave out --moments-dtype"),
    (["--steps", "0"], "train at least one step"),
])
def test_bad_arguments_are_refused_by_name(example, capsys, argv, complaint):
    with pytest.raises(SystemExit):
        example.parse_args(argv)
    assert complaint in capsys.readouterr().err
