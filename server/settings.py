"""One settings tree for the server, with defaults everywhere and camelCase names on the wire.

Clients send it as `initializationOptions` or answer `workspace/configuration` for the section
`devassist`. Unknown keys are ignored; invalid values fall back to the default and produce a
warning that the server shows to the user instead of crashing.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Any


@dataclass
class CompletionSettings:
    """Code completion (inline ghost text and the completion list)."""

    enabled: bool = True
    """Answer completion requests at all."""
    max_tokens: int = 48
    """Most tokens generated for one suggestion."""
    time_budget_ms: int = 300
    """Generation stops when this is spent and returns what it has."""
    multiline: bool = True
    """Allow a whole block after a block opener on an empty line."""
    context_tokens: int = 256
    """Token budget for the prefix + suffix prompt around the cursor. For the shipped 7M model a
    longer prompt measured no better (rest-of-line ES 31.0 at 256 vs 31.5 at ~470 tokens) and
    costs prefill time (in-process p95 26 vs 43 ms); raise it for a larger model."""
    min_token_probability: float = 0.5
    """A suggestion ends before the first token the model gives less than this probability
    (never inside a word): a short right suggestion beats a long wrong one. 0 shows every token.
    0.5 measured best on a tuning package (werkzeug: useful 31.7 % vs 13.3 % at 0)."""
    repo_context_tokens: int = 0
    """Tokens of snippets from the workspace's other files put before the document's code (BM25
    over identifiers; definitions of imported names first). 0 = off (see README for the measurement)."""
    cache_mix: float = 0.0
    """Weight of the in-file n-gram cache mixed into the model's next-token distribution
    (0 = the network alone). A bundle may ship its own default in its manifest."""


# Who writes a docstring's summary line (`DocstringSettings.summary`).
SUMMARY_POLICIES = ("model", "parse-first", "parse")


@dataclass
class DocstringSettings:
    """The "Generate docstring" command and code actions."""

    style: str = "google"
    """One of google, numpy, sphinx."""
    summary: str = "parse"
    """Who writes the summary line: `model` (the docstring model's sentence when it passes the faithfulness
    checks, else the parse's), `parse-first` (the parse's sentence from the name and body where it has one,
    the model's only where it has none), `parse` (never the model: the parse's sentence or a marked
    placeholder, as autoDocstring does)."""


@dataclass
class ReviewSettings:
    """Review diagnostics: likely bugs at single tokens, and unusual functions."""

    enabled: bool = True
    """Publish review diagnostics."""
    finding_threshold_shift: float = 0.0
    """Nats added to the bundle's calibrated likely-bug threshold (about 1 false alarm per 1,000
    clean lines at 0): above 0 fewer findings and less noise, below 0 more bugs found and more noise."""
    unusual_functions: bool = True
    """Also report functions more unusual than `threshold` (VAE + surprisal), at `severity`."""
    threshold: float = 99.0
    """Flag functions more unusual than this percentile of the reference code."""
    max_diagnostics: int = 10
    """Most diagnostics per file."""
    severity: str = "hint"
    """Severity of the unusual-function note, one of error, warning, information, hint (likely bugs are warnings)."""
    debounce_ms: int = 500
    """Wait this long after the last change before scoring a document."""
    budget_ms: int = 1000
    """Model time one review of a file may take; a file that needs more is scored over several runs
    (functions already scored cost nothing), the functions on screen and just edited first."""


@dataclass
class RemoteSettings:
    """A team's completion server (`devassist serve --remote URL`); unused without `--remote`."""

    fallback_to_local: bool = False
    """When the completion server cannot be reached, complete with this machine's copy of the model
    (loaded on first need) instead of showing nothing; the status bar says the server is unreachable."""
    timeout_ms: int = 1000
    """How long one completion waits for the server before it counts as unreachable (retried after 5 s)."""


@dataclass
class LearnSettings:
    """"Learn this workspace": fine-tuning the model on the open workspace's Python files."""

    time_budget_s: int = 600
    """Seconds for one run of `devassist.learnWorkspace` (needs the `train` extra): training gets
    what measuring the model before and after and the export leave of it."""
    use_learnt_model: bool = True
    """At start, use the model learnt on this workspace when the cache holds one adapted from the
    served bundle (kept under ~/.cache/devassist/workspaces)."""


@dataclass
class Settings:
    """Everything the server can be told, under the section `devassist`."""

    completion: CompletionSettings = field(default_factory=CompletionSettings)
    docstring: DocstringSettings = field(default_factory=DocstringSettings)
    review: ReviewSettings = field(default_factory=ReviewSettings)
    remote: RemoteSettings = field(default_factory=RemoteSettings)
    learn: LearnSettings = field(default_factory=LearnSettings)


_CHOICES = {
    ("docstring", "style"): ("google", "numpy", "sphinx"),
    ("docstring", "summary"): SUMMARY_POLICIES,
    ("review", "severity"): ("error", "warning", "information", "hint"),
}
_RANGES = {
    ("completion", "max_tokens"): (1, 512),
    ("completion", "time_budget_ms"): (10, 60_000),
    ("completion", "context_tokens"): (16, 8192),
    ("completion", "cache_mix"): (0.0, 1.0),
    ("completion", "min_token_probability"): (0.0, 1.0),
    ("completion", "repo_context_tokens"): (0, 4096),
    ("review", "threshold"): (0.0, 100.0),
    ("review", "finding_threshold_shift"): (-20.0, 50.0),
    ("review", "max_diagnostics"): (0, 1000),
    ("review", "debounce_ms"): (0, 60_000),
    ("review", "budget_ms"): (50, 60_000),
    ("remote", "timeout_ms"): (50, 60_000),
    ("learn", "time_budget_s"): (5, 86_400),
}


def snake(name: str) -> str:
    """camelCase -> snake_case (`maxTokens` -> `max_tokens`)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def camel(name: str) -> str:
    """snake_case -> camelCase (`max_tokens` -> `maxTokens`)."""
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _coerce(value: Any, default: Any) -> Any:
    """Convert a wire value to the default's type, or raise ValueError."""
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        raise ValueError("expected true or false")
    if isinstance(value, float) and not math.isfinite(value):
        # JSON allows 1e999 (read as infinity) and Python's json reads NaN: neither is a setting.
        raise ValueError("expected a finite number")
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
            raise ValueError("expected a whole number")
        return int(value)
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError("expected a number")
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ValueError("expected a string")
        return value
    raise ValueError("unsupported setting")


def parse_settings(raw: Any, base: Settings | None = None) -> tuple[Settings, list[str]]:
    """Merge a camelCase dict from the client over `base` (or the defaults).

    Returns the new settings and one warning per invalid value (which keeps its default).
    """
    settings = dataclasses.replace(base) if base else Settings()
    warnings: list[str] = []
    if raw is None:
        return settings, warnings
    if not isinstance(raw, dict):
        return settings, [f"devassist settings must be an object, got {type(raw).__name__}; using defaults"]
    if isinstance(raw.get("devassist"), dict):  # tolerate the section name being included
        raw = raw["devassist"]
    for group in dataclasses.fields(Settings):
        section = raw.get(group.name)
        if section is None:
            continue
        if not isinstance(section, dict):
            warnings.append(f"devassist.{group.name} must be an object; using defaults")
            continue
        current = dataclasses.replace(getattr(settings, group.name))
        for key, value in section.items():
            name = snake(key)
            if name not in {f.name for f in dataclasses.fields(current)}:
                continue
            default = getattr(current, name)
            where = f"devassist.{group.name}.{camel(name)}"
            try:
                value = _coerce(value, default)
                choices = _CHOICES.get((group.name, name))
                if choices and value not in choices:
                    raise ValueError(f"expected one of {', '.join(choices)}")
                bounds = _RANGES.get((group.name, name))
                if bounds and not bounds[0] <= value <= bounds[1]:
                    raise ValueError(f"expected a value from {bounds[0]} to {bounds[1]}")
            except ValueError as exc:
                warnings.append(f"{where}: {value!r} is invalid ({exc}); keeping {default!r}")
                continue
            setattr(current, name, value)
        setattr(settings, group.name, current)
    return settings, warnings


def to_wire(settings: Settings) -> dict[str, Any]:
    """The settings as the camelCase dict a client would send."""
    return {
        g.name: {camel(k): v for k, v in dataclasses.asdict(getattr(settings, g.name)).items()}
        for g in dataclasses.fields(Settings)
    }
