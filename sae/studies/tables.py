"""What a reader sees of a sweep: seed means with their t intervals, rounded to what the noise
supports, and whether a rerun agrees in kind with the stored evidence.

The experiment chapters lead with the stored full-MNIST sweeps and then rerun the same table at
the build's profile; :func:`agreement` is the computed sentence between the two.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
from scipy.stats import kendalltau

from .stats import RowMean, row_mean

# The rule for "agrees in kind", fixed before any rerun is compared: the rerun's FID ordering of
# the rows is positively associated with the stored one (Kendall's τ > 0, one-sided p < AGREE_P).
AGREE_P = 0.05

# Reader-facing names of the metrics (one vocabulary for every table of the book).
METRIC_NAMES = {"fid": "FID", "reconstruction_error": "RE", "latent_mmd_x1000": "MMD×1000",
                "code_variance": "code variance", "precision": "precision", "recall": "recall"}


def decimals(half_width: float) -> int:
    """Decimal places that keep the first significant figure of an interval's half-width, never
    fewer than none (noise in the units or tens: no decimals; in the tenths: one)."""
    if not math.isfinite(half_width) or half_width <= 0:
        return 2
    return max(0, -int(math.floor(math.log10(half_width))))


def with_interval(m: RowMean) -> str:
    """'mean [lo, hi]' (95% t interval), rounded to the interval's noise; the mean alone (three
    significant figures) when there is no spread to show (one seed with no sampling error)."""
    lo, hi = m.interval()
    if not math.isfinite(hi - lo) or hi - lo <= 0:
        return f"{m.mean:.3g}"
    d = decimals((hi - lo) / 2)
    return f"{m.mean:.{d}f} [{lo:.{d}f}, {hi:.{d}f}]"


def interval_table(runs: pd.DataFrame, keys: list[str], name=None,
                   metrics=("fid", "reconstruction_error", "latent_mmd_x1000"), paper: tuple[str, dict] | None = None
                   ) -> pd.DataFrame:
    """One line per row of ``runs`` grouped by ``keys``: each metric as 'mean [95% t interval]' over
    the seeds (FID with each run's sampling error folded in), and the number of seeds. ``name``
    maps a group key to the row's display name (default: the key itself); ``paper``, a (column,
    {key: value}) pair, puts the paper's value of each row beside the first metric."""
    out = []
    for key, grp in runs.groupby(keys, sort=False):
        key = key[0] if len(keys) == 1 and isinstance(key, tuple) else key
        line = {"row": name(key) if name else " ".join(map(str, key if isinstance(key, tuple) else (key,)))}
        for i, k in enumerate(metrics):
            se = grp["fid_se"] if k == "fid" and "fid_se" in grp else None
            line[METRIC_NAMES[k]] = with_interval(row_mean(grp[k], se)) if grp[k].notna().all() else "—"
            if i == 0 and paper is not None:          # the paper's value beside our first metric
                line[paper[0]] = paper[1].get(key, math.nan)
        line["seeds"] = len(grp)
        out.append(line)
    return pd.DataFrame(out)


@dataclass(frozen=True)
class Agreement:
    """How a rerun's ordering of the rows by mean FID stands against the stored sweep's."""
    rows: int
    tau: float
    p: float
    rerun: str
    stored: str

    @property
    def agrees(self) -> bool:
        return self.rows >= 3 and self.tau > 0 and self.p < AGREE_P

    def sentence(self) -> str:
        if self.rows < 3:
            return f"Only {self.rows} rows are in both {self.rerun} and {self.stored}: no ordering to compare."
        verdict = ("agrees in kind with" if self.agrees else "does not agree in kind with")
        return (f"{self.rerun} {verdict} {self.stored}: Kendall's τ between their FID orderings of the {self.rows} "
                f"rows is {self.tau:.2f} (one-sided p = {self.p:.2g}; the rule, fixed in advance: τ > 0 at "
                f"p < {AGREE_P}).")


def agreement(rerun: pd.DataFrame, stored: pd.DataFrame, keys: list[str], rerun_name: str = "This build",
              stored_name: str = "the stored sweep") -> Agreement:
    """Kendall's τ between the mean FIDs per row (``keys``) of two run tables, with its one-sided p."""
    a = rerun.groupby(keys)["fid"].mean()
    b = stored.groupby(keys)["fid"].mean()
    both = a.index.intersection(b.index)
    if len(both) < 3:
        return Agreement(len(both), math.nan, math.nan, rerun_name, stored_name)
    res = kendalltau(a[both], b[both], alternative="greater")
    return Agreement(len(both), float(res.statistic), float(res.pvalue), rerun_name, stored_name)
