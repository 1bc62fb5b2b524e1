"""examples/python/char_transformer.py trains briefly on the host backend and its loss falls."""
import importlib.util
import math
import os

from conftest import SOURCE_DIR


def load_example():
    path = os.path.join(SOURCE_DIR, "examples", "python", "char_transformer.py")
    spec = importlib.util.spec_from_file_location("char_transformer", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_char_transformer_loss_falls_on_the_cpu():
    example = load_example()
    first, last = example.main(["--steps", "60", "--dim", "48", "--context", "32", "--batch", "8",
                                "--print-every", "20"])
    vocabulary = len(set(example.read_corpus()))
    assert first > 0.9 * math.log(vocabulary)  # it starts near uniform guessing
    assert last < first - 0.8                  # and learns the characters' frequencies and more


def test_char_transformer_in_bf16():
    example = load_example()
    first, last = example.main(["--steps", "40", "--dim", "32", "--context", "32", "--batch", "8", "--bf16",
                                "--print-every", "20"])
    assert last < first - 0.5
