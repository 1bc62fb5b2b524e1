"""pytest set-up for zo's Python tests: torch must import (a missing torch fails the run,
it does not skip it), and tests run on the host backend with a fixed seed."""
import os
import sys

import torch  # noqa: F401 - a machine without torch fails here, by design (see .ci/install-deps)

SOURCE_DIR = os.environ.get("ZO_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
sys.path.insert(0, os.path.join(SOURCE_DIR, "python"))

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(1234)
    yield
