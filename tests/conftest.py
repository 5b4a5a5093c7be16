"""Shared fixtures: a tiny corpus written by the tests, a model trained on it for seconds, its bundle."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Small but real Python: enough repeated structure for a tiny model to learn something.
SAMPLE_MODULES = {
    "geometry.py": '''"""Points and shapes."""
import math


class Point:
    """A point in the plane."""

    def __init__(self, x, y):
        self.x = x
        self.y = y

    def distance(self, other):
        """Euclidean distance to another point."""
        return math.hypot(self.x - other.x, self.y - other.y)


def area_of_circle(radius):
    """Area of a circle with the given radius."""
    return math.pi * radius * radius


def perimeter_of_square(side):
    """Perimeter of a square."""
    return 4 * side
''',
    "text_utils.py": '''"""Helpers for strings."""


def count_words(text):
    """Count the words in a text."""
    return len(text.split())


def reverse_words(text):
    """Reverse the order of words."""
    words = text.split()
    words.reverse()
    return " ".join(words)


def read_lines(path):
    """Read the lines of a file."""
    with open(path, encoding="utf-8") as fh:
        return [line.rstrip("\\n") for line in fh]
''',
    "numbers.py": '''"""Arithmetic helpers."""


def add(a, b):
    """Add two numbers."""
    return a + b


def subtract(a, b):
    """Subtract b from a."""
    return a - b


def mean(values):
    """Arithmetic mean of a list of values."""
    if not values:
        raise ValueError("mean of an empty list")
    return sum(values) / len(values)


def clamp(value, low, high):
    """Clamp a value between low and high."""
    return max(low, min(high, value))
''',
}


def write_sources(root: Path, copies: int = 4) -> Path:
    """Write the sample modules (several renamed copies, so the split has data everywhere)."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(copies):
        for name, text in SAMPLE_MODULES.items():
            (root / f"{Path(name).stem}_{i}.py").write_text(text, encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def tiny_sources(tmp_path_factory) -> Path:
    """A folder of small Python files written by the tests."""
    return write_sources(tmp_path_factory.mktemp("sources"))


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_sources) -> Path:
    """A corpus mined from `tiny_sources` and a tiny model trained on it (seconds)."""
    from devassist.training.corpus import build_corpus
    from devassist.training.lm import RunConfig
    from devassist.training.train import train

    work = tmp_path_factory.mktemp("tiny")
    build_corpus([tiny_sources], work / "corpus", progress=False)
    cfg = RunConfig.from_toml(REPO / "training" / "configs" / "tiny.toml")
    train(cfg, work / "run", corpus=work / "corpus", quiet=True)
    return work / "run"


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory, tiny_run) -> Path:
    """The tiny run exported to a bundle (fp32 + int8 LM, fp32 encoder, checkpoint, review), parity-checked."""
    from devassist.export.cli import export_bundle

    import sysconfig

    from devassist.server.review_cli import main as review_main

    out = tmp_path_factory.mktemp("bundles") / "tiny"
    export_bundle(tiny_run, out, quantize="int8", embed="fp32", name="tiny", checkpoint=True, log=lambda *_: None)
    # Review calibration on a small real package, so end-to-end tests get review diagnostics too
    # (no bug detector: a tiny one decides nothing; tests/unit/test_review_models.py trains one).
    email_pkg = Path(sysconfig.get_paths()["stdlib"]) / "email"
    assert review_main(["calibrate", "--bundle", str(out), "--source", str(email_pkg), "--out", str(out),
                        "--max-train", "80", "--max-valid", "40", "--epochs", "5", "--detector", "none"]) == 0
    return out


@pytest.fixture
def bundle_copy(tmp_path, tiny_bundle) -> Path:
    """A private copy of the tiny bundle that a test may modify or corrupt."""
    dst = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, dst)
    return dst


def read_manifest(bundle: Path) -> dict:
    """The manifest of a bundle as a dict."""
    return json.loads((bundle / "manifest.json").read_text())
