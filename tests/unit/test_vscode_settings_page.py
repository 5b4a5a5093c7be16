"""The VS Code settings page (package.json) is generated from server/settings.py and agrees with it."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path

from devassist.server import settings as server_settings

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "editor-client" / "vscode" / "scripts" / "generate_settings.py"


def load_generator():
    """The generator script as a module (it lives with the extension, not in the package)."""
    spec = importlib.util.spec_from_file_location("generate_settings", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_package_json_and_server_settings_ts_are_up_to_date(capsys):
    assert load_generator().main(["--check"]) == 0, capsys.readouterr().out


def test_every_server_field_is_on_the_page_with_its_docstring_default_and_bounds():
    properties = json.loads((ROOT / "editor-client" / "vscode" / "package.json").read_text())[
        "contributes"]["configuration"]["properties"]
    defaults = server_settings.Settings()
    generator = load_generator()
    for group in dataclasses.fields(server_settings.Settings):
        value = getattr(defaults, group.name)
        docs = generator.field_docstrings(type(value))
        for item in dataclasses.fields(value):
            entry = properties[f"devassist.{group.name}.{server_settings.camel(item.name)}"]
            assert entry["default"] == getattr(value, item.name)
            assert entry["description"] == docs[item.name] and len(entry["description"]) > 10
            bounds = server_settings._RANGES.get((group.name, item.name))
            assert (entry.get("minimum"), entry.get("maximum")) == (bounds or (None, None))
            assert entry.get("enum") == (list(server_settings._CHOICES[(group.name, item.name)])
                                         if (group.name, item.name) in server_settings._CHOICES else None)


def test_field_docstrings_reads_the_string_under_each_field():
    @dataclasses.dataclass
    class Sample:
        """A group."""

        first: int = 1
        """The first
        one, on two lines."""
        second: str = "x"
        third: bool = False
        """The third."""

    assert load_generator().field_docstrings(Sample) == {"first": "The first one, on two lines.", "third": "The third."}
