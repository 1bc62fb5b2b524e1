"""What `pip install .` ships: every module of python/zo is listed for installation in
python/meson.build (a file missing there would import from the source tree and fail
from a wheel), and pyproject.toml builds with meson-python."""
import glob
import os
import re

from conftest import SOURCE_DIR


def test_every_module_is_installed_by_meson():
    package = os.path.join(SOURCE_DIR, "python")
    modules = {os.path.relpath(path, package) for path in glob.glob(os.path.join(package, "zo", "**", "*.py"),
                                                                     recursive=True)}
    listed = set(re.findall(r"'(zo/[^']+\.py)'", open(os.path.join(package, "meson.build")).read()))
    assert modules == listed, f"not installed: {sorted(modules - listed)}; listed but absent: {sorted(listed - modules)}"


def test_pyproject_builds_with_meson_python():
    text = open(os.path.join(SOURCE_DIR, "pyproject.toml")).read()
    assert 'build-backend = "mesonpy"' in text
    assert "-Dpython=enabled" in text
