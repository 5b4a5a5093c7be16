"""Generate the VS Code settings page from the server's settings tree (server/settings.py).

Every field of the server's settings dataclasses becomes a `devassist.<group>.<name>` entry of
package.json's `contributes.configuration`, with the field's docstring as its description, its
default, its type, and the choices and bounds the server enforces; src/serverSettings.ts gets
the same table for the extension's validation. Settings only the client knows (server command,
completion mode, ...) stay as they are in package.json.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import json
import sys
import textwrap
from pathlib import Path

from devassist.server import settings as server_settings
from devassist.server.safe_io import write_atomic

HERE = Path(__file__).resolve().parents[1]
PACKAGE_JSON = HERE / "package.json"
SETTINGS_TS = HERE / "src" / "serverSettings.ts"

EPILOG = """examples:
  python editor-client/vscode/scripts/generate_settings.py          # rewrite package.json + src/serverSettings.ts
  python editor-client/vscode/scripts/generate_settings.py --check  # exit 1 if either is out of date
"""

# Settings under a server group that only the extension reads.
CLIENT_KEYS_IN_SERVER_GROUPS = {"devassist.completion.mode"}

_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string"}


def field_docstrings(cls: type) -> dict[str, str]:
    """The docstring under each field of a dataclass (the string literal right after it)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body
    docs: dict[str, str] = {}
    for node, following in zip(body, body[1:]):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)):
            docs[node.target.id] = " ".join(following.value.value.split())
    return docs


def server_properties() -> dict[str, dict]:
    """`devassist.<group>.<name>` -> its package.json schema, in the server's field order."""
    properties: dict[str, dict] = {}
    defaults = server_settings.Settings()
    for group in dataclasses.fields(server_settings.Settings):
        group_value = getattr(defaults, group.name)
        docs = field_docstrings(type(group_value))
        for item in dataclasses.fields(group_value):
            default = getattr(group_value, item.name)
            key = (group.name, item.name)
            schema: dict = {"type": _TYPES[type(default)], "default": default}
            if key in server_settings._CHOICES:
                schema["enum"] = list(server_settings._CHOICES[key])
            if key in server_settings._RANGES:
                schema["minimum"], schema["maximum"] = server_settings._RANGES[key]
            schema["scope"] = "resource"
            if item.name not in docs:
                raise SystemExit(f"server/settings.py: {type(group_value).__name__}.{item.name} has no docstring")
            schema["description"] = docs[item.name]
            properties[f"devassist.{group.name}.{server_settings.camel(item.name)}"] = schema
    return properties


def group_of(key: str) -> str:
    """`devassist.review.threshold` -> `devassist.review`."""
    return key.rsplit(".", 1)[0]


def merged_package(package: dict) -> dict:
    """package.json with the server's settings replaced by generated ones, client settings kept."""
    generated = server_properties()
    current = package["contributes"]["configuration"]["properties"]
    server_groups = tuple(f"devassist.{g.name}." for g in dataclasses.fields(server_settings.Settings))
    # Entries of a server group that the server no longer has are dropped, except the client's own.
    client_only = {k: v for k, v in current.items()
                   if k not in generated and (not k.startswith(server_groups) or k in CLIENT_KEYS_IN_SERVER_GROUPS)}
    # Group by group in the page's order; in each group the client's own settings first.
    groups = list(dict.fromkeys([group_of(k) for k in current] + [group_of(k) for k in generated]))
    merged: dict[str, dict] = {}
    for group in groups:
        merged.update({k: v for k, v in client_only.items() if group_of(k) == group})
        merged.update({k: v for k, v in generated.items() if group_of(k) == group})
    out = json.loads(json.dumps(package))
    out["contributes"]["configuration"]["properties"] = merged
    return out


def settings_ts(properties: dict[str, dict]) -> str:
    """src/serverSettings.ts: the same table, for the extension's validation and defaults."""
    table = {key.removeprefix("devassist."): {k: v for k, v in schema.items() if k not in ("scope", "description")}
             for key, schema in properties.items()}
    body = json.dumps(table, indent=2)
    return (
        "/** Generated from server/settings.py by scripts/generate_settings.py: do not edit. */\n\n"
        "/** One server setting: its JSON type, default, and the bounds or choices the server enforces. */\n"
        "export interface ServerSettingSpec {\n"
        "  type: 'boolean' | 'integer' | 'number' | 'string';\n"
        "  default: boolean | number | string;\n"
        "  enum?: readonly string[];\n"
        "  minimum?: number;\n"
        "  maximum?: number;\n"
        "}\n\n"
        "/** `group.name` (camelCase, as on the wire) -> its spec, in the server's order. */\n"
        f"export const SERVER_SETTINGS: Record<string, ServerSettingSpec> = {body};\n"
    )


def render() -> dict[Path, str]:
    """The generated text of each file."""
    package = json.loads(PACKAGE_JSON.read_text(encoding="utf-8"))
    return {
        PACKAGE_JSON: json.dumps(merged_package(package), indent=2, ensure_ascii=False) + "\n",
        SETTINGS_TS: settings_ts(server_properties()),
    }


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only check; exit 1 when a file is out of date")
    args = parser.parse_args(argv)
    stale = [path for path, text in render().items()
             if not path.exists() or path.read_text(encoding="utf-8") != text]
    if args.check:
        for path in stale:
            print(f"{path.relative_to(HERE)} is out of date: run python {Path(__file__).relative_to(HERE.parents[1])}")
        return 1 if stale else 0
    for path, text in render().items():
        if path in stale:
            write_atomic(path, text, root=HERE, overwrite=True)
            print(f"wrote {path.relative_to(HERE)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
