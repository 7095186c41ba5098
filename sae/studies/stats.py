"""Statistics that hold their level with 2 to 5 seeds: Student and Welch t intervals on seed means,
Bonferroni-corrected when one claim makes several comparisons, and ranks read off the same tests.

A percentile bootstrap over 2-5 seed means is far too narrow (in a null simulation its 95%
interval excluded 0 in 21% of trials at 2 seeds, 13% at 3); a t interval has the width the
seeds support (at 3 seeds its half-width is 4.30·s/√n, not about 1.6·s/√n). Each run's FID
carries its own sampling error (``fid_se``): the spread between seeds already contains it, and
the variance used is never below the mean of the runs' se², so a row whose seeds happen to
agree is not taken as more certain than its FID samples allow.

``tests/test_stats.py`` simulates null data (true difference 0) and checks that a "differs" verdict
comes at most at the nominal rate, at n = 2, 3 and 5, and reports the power.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

ALPHA = 0.05


@dataclass(frozen=True)
class RowMean:
    """A row's mean over its seeds: the mean, the variance of that mean, the seeds, the t degrees
    of freedom (n − 1; with one seed, the FID sampling error alone and a normal quantile)."""
    mean: float
    var: float
    n: int
    df: float

    def interval(self, level: float = 1 - ALPHA) -> tuple[float, float]:
        """The Student t interval of the mean."""
        h = _quantile(level, self.df) * math.sqrt(self.var)
        return self.mean - h, self.mean + h


@dataclass(frozen=True)
class Difference:
    """a − b with its Welch interval at ``level`` (Welch–Satterthwaite degrees of freedom)."""
    estimate: float
    lo: float
    hi: float
    df: float
    level: float

    def text(self, digits: int = 2) -> str:
        return f"{round_sig(self.estimate, digits):+g} [{round_sig(self.lo, digits):+g}, {round_sig(self.hi, digits):+g}]"


def round_sig(x: float, digits: int) -> float:
    """``x`` to ``digits`` significant figures (at least the units for numbers above 10^digits)."""
    if not math.isfinite(x) or x == 0:
        return x
    return round(x, max(0, digits - 1 - int(math.floor(math.log10(abs(x))))))


def _quantile(level: float, df: float) -> float:
    return float(stats.norm.ppf(0.5 + level / 2) if not math.isfinite(df) else stats.t.ppf(0.5 + level / 2, df))


def row_mean(values, ses=None) -> RowMean:
    """The seed mean of ``values`` (one per seed), with each run's sampling error ``ses`` folded in."""
    v = np.asarray(values, float)
    floor = float(np.mean(np.square(np.nan_to_num(np.asarray(ses, float))))) if ses is not None else 0.0
    n = len(v)
    if n == 1:
        return RowMean(float(v[0]), floor, 1, math.inf)
    return RowMean(float(v.mean()), max(float(v.var(ddof=1)), floor) / n, n, n - 1.0)


def row_means(runs: pd.DataFrame, keys: list[str], value: str = "fid", se: str | None = "fid_se") -> dict:
    """{row key: :class:`RowMean` of ``value`` over the row's seeds}."""
    out = {}
    for key, grp in runs.groupby(keys, sort=False):
        key = key[0] if len(keys) == 1 else key
        out[key] = row_mean(grp[value], grp[se] if se and se in grp else None)
    return out


def welch(a: RowMean, b: RowMean, level: float = 1 - ALPHA) -> Difference:
    """a − b with its Welch t interval."""
    var = a.var + b.var
    terms = [x.var ** 2 / x.df for x in (a, b) if math.isfinite(x.df) and x.var > 0]
    df = var ** 2 / sum(terms) if terms and var > 0 else math.inf
    h = _quantile(level, df) * math.sqrt(var)
    d = a.mean - b.mean
    return Difference(d, d - h, d + h, df, level)


INCONCLUSIVE = "inconclusive at this scale"


def compare(a: RowMean, b: RowMean, bound: float, m: int = 1) -> tuple[str, Difference]:
    """How a stands against b, one of ``m`` comparisons of a claim (Bonferroni: each at α/m):
    "lower" or "higher" when the (1 − α/m) Welch interval of a − b excludes 0; "matches" when the
    (1 − 2α/m) interval lies within ± ``bound`` (two one-sided tests); else INCONCLUSIVE. Returns the
    word and the (1 − α/m) interval, the one to show."""
    shown = welch(a, b, 1 - ALPHA / m)
    if shown.hi < 0:
        return "lower", shown
    if shown.lo > 0:
        return "higher", shown
    tost = welch(a, b, 1 - 2 * ALPHA / m)
    return ("matches" if -bound < tost.lo and tost.hi < bound else INCONCLUSIVE), shown


def rank_interval(rows: dict, me, level: float = 1 - ALPHA) -> tuple[int, int, int]:
    """(rank, best possible, worst possible) of row ``me`` by mean (1 = lowest): it is certainly
    behind every row whose Welch interval against it lies wholly below 0, and certainly ahead of
    every row whose interval lies wholly above 0, at a Bonferroni level over the len(rows) − 1 pairs."""
    others = [k for k in rows if k != me]
    pair_level = 1 - (1 - level) / max(1, len(others))
    diffs = [welch(rows[k], rows[me], pair_level) for k in others]
    rank = 1 + sum(rows[k].mean < rows[me].mean for k in others)
    return rank, 1 + sum(d.hi < 0 for d in diffs), len(rows) - sum(d.lo > 0 for d in diffs)


def kendall_tau_null(x, y, n_perm: int, rng: np.random.Generator) -> np.ndarray:
    """Kendall's τ-b between ``y`` and ``n_perm`` random permutations of ``x`` (the permutation
    null), all at once: the same values ``scipy.stats.kendalltau(rng.permutation(x), y)`` gives
    draw by draw (same draws, same formula), without its per-call overhead. Permuting ``x`` keeps
    its ties, so only the sign products change between draws."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    i, j = np.triu_indices(len(x), 1)
    tot = len(i)
    xtie, ytie = int((x[i] == x[j]).sum()), int((y[i] == y[j]).sum())
    perms = np.stack([rng.permutation(x) for _ in range(n_perm)])
    con_minus_dis = (np.sign(perms[:, i] - perms[:, j]) * np.sign(y[i] - y[j])).sum(axis=1)
    return np.minimum(1.0, np.maximum(-1.0, con_minus_dis / np.sqrt(tot - xtie) / np.sqrt(tot - ytie)))
