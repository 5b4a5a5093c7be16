"""Sampling a Gaussian copula with numpy only: correlated normal draws mapped through each column's margin.

Used for tiny fixtures and whenever it scores best on the held-out rows. The spec (fitted by
`devassist.training.tabular.copula`) stores, per latent dimension, one margin:
  {"type": "number", "column": c, "z": [...], "values": [...]}   z-quantiles -> values (interpolated)
  {"type": "category", "column": c, "cuts": [...], "codes": [...]}  intervals of z -> category codes
  {"type": "null", "column": c, "cut": z0}                         z < z0 -> the value is missing
and the Cholesky factor of the latent correlation matrix. No fixture value is stored beyond
the quantiles of each numeric column (at most QUANTILES of them).
"""

from __future__ import annotations

import numpy as np


def sample_copula(copula: dict, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """n rows of the learned columns: floats (NaN = empty) for numbers and dates, codes for categories."""
    chol = np.asarray(copula["chol"], dtype=np.float64)
    z = rng.standard_normal((n, len(chol))) @ chol.T
    out: dict[str, np.ndarray] = {}
    nulls = []
    for j, margin in enumerate(copula["margins"]):
        name = margin["column"]
        if margin["type"] == "number":
            out[name] = np.interp(z[:, j], margin["z"], margin["values"])
        elif margin["type"] == "category":
            out[name] = np.asarray(margin["codes"], dtype=np.int64)[np.searchsorted(margin["cuts"], z[:, j])]
        else:
            nulls.append((name, z[:, j] < margin["cut"]))
    for name, empty in nulls:  # after the loop: the value margin may come later in the list
        out[name][empty] = np.nan
    return out
