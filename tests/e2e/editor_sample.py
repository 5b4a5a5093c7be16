"""What both editor end-to-end tests open and which bundle they serve it with."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SAMPLE = '''\
import os


def scale(values, factor):
    result = []
    for value in values:
        result.append(value * factor)
    return result


def main():
    data = scale([1, 2, 3], 2)
    print(
'''
DEF_LINE = 4  # 1-based line of `def scale`


@pytest.fixture
def bundle(request: pytest.FixtureRequest) -> Path:
    """$DEVASSIST_TEST_BUNDLE when set, else the shared tiny bundle (tests/conftest.py), else models/default."""
    if os.environ.get("DEVASSIST_TEST_BUNDLE"):
        return Path(os.environ["DEVASSIST_TEST_BUNDLE"])
    try:
        return Path(request.getfixturevalue("tiny_bundle"))
    except pytest.FixtureLookupError:
        return ROOT / "models" / "default"
