"""Benchmark tables as CSV files: scikit-learn's and statsmodels' bundled tables, and a mixed fixture.

The mixed fixture has what real test fixtures have and the sklearn tables lack: serial ids,
emails and names, dates, booleans, a rare category, empty cells and an all-empty column.
"""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import numpy as np

FIRST_NAMES = ["Alice", "Bob", "Carol", "Dave", "Eve", "Frank", "Grace", "Heidi", "Ivan", "Judy",
               "Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter"]


SKLEARN_TABLES = ("iris", "wine", "breast_cancer", "diabetes")
STATSMODELS_TABLES = ("anes96", "fair", "modechoice", "star98", "grunfeld", "randhie", "ccard", "engel")


def check(spec: str) -> None:
    """ValueError (one line) for a table name that `resolve` does not know or a file that does not exist."""
    source, _, name = spec.partition(":")
    known = {"sklearn": SKLEARN_TABLES, "statsmodels": STATSMODELS_TABLES, "demo": ("mixed",)}
    if source in known and name:
        if name not in known[source]:
            raise ValueError(f"--real {spec}: unknown table; {source} tables: {', '.join(known[source])}")
        if source == "statsmodels":
            try:
                import statsmodels  # noqa: F401
            except ModuleNotFoundError:
                raise ValueError(f"--real {spec} needs statsmodels: pip install statsmodels") from None
    elif not Path(spec).is_file():
        raise ValueError(f"--real {spec}: no such file (or use sklearn:NAME, statsmodels:NAME, demo:mixed)")
    elif Path(spec).suffix.lower() != ".csv":
        raise ValueError(f"--real {spec}: the benchmark reads CSV files; convert it or pass a built-in table")


def statsmodels_csv(name: str, path: Path) -> Path:
    """Write one of statsmodels' bundled tables as CSV (numbers as statsmodels stores them)."""
    from statsmodels import datasets

    getattr(datasets, name).load_pandas().data.to_csv(path, index=False)
    return path


def sklearn_csv(name: str, path: Path) -> Path:
    """Write a scikit-learn bundled table (features + integer target) as CSV."""
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")()
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow([*bunch.feature_names, "target"])
        for row, target in zip(bunch.data.tolist(), bunch.target.tolist()):
            writer.writerow([*(repr(v) for v in row), int(target)])
    return path


def mixed_csv(path: Path, rows: int = 1000, seed: int = 0) -> Path:
    """Write the mixed-type fixture: ids, emails, names, dates, booleans, categories, nulls."""
    rng = np.random.default_rng(seed)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "email", "name", "signup", "active", "plan", "age", "balance", "notes", "country"])
        for i in range(1, rows + 1):
            first = FIRST_NAMES[rng.integers(len(FIRST_NAMES))]
            last = "".join(rng.choice(list("abcdefghijklmnoprstuvw"), size=int(rng.integers(4, 9)))).title()
            plan = rng.choice(["free", "pro", "enterprise"], p=[0.7, 0.25, 0.05])
            age = int(rng.normal(30 if plan == "free" else 42, 8))
            balance = rng.lognormal(3 if plan == "free" else 6, 1)
            signup = date(2020, 1, 1) + timedelta(days=int(rng.integers(0, 1500)))
            active = "true" if rng.random() < (0.5 if plan == "free" else 0.9) else "false"
            writer.writerow([i, f"{first.lower()}.{last.lower()}{i}@example.com", f"{first} {last}",
                             signup.isoformat(), active, plan, "" if rng.random() < 0.1 else age,
                             f"{balance:.2f}", "", rng.choice(["DE", "FR", "US", "US", "US"])])
    return path


def resolve(spec: str, workdir: Path) -> Path:
    """A path as given, or `sklearn:wine`, `sklearn:breast_cancer`, `demo:mixed` written into workdir."""
    check(spec)
    if spec.startswith("sklearn:"):
        return sklearn_csv(spec.split(":", 1)[1], workdir / f"{spec.split(':', 1)[1]}.csv")
    if spec.startswith("statsmodels:"):
        return statsmodels_csv(spec.split(":", 1)[1], workdir / f"{spec.split(':', 1)[1]}.csv")
    if spec == "demo:mixed":
        return mixed_csv(workdir / "mixed.csv")
    return Path(spec)
