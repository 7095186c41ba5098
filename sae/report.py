"""Verdicts for the paper's claims (the book's page "The paper's setup and our deviations" lists
them), judged from results the chapters computed.

Each rule is written down here, applied to the results it is given (tables and the typed results
of :mod:`sae.studies`; :func:`sae.studies.evidence.gather` collects them through the same calls the
chapters make), and returns a verdict ("reproduced", "partly", "not reproduced", "not run here",
"not assessable") with a sentence that says why. Nothing here trains, samples or solves anything,
and nothing in a verdict is typed in by hand.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

from .engine.profiles import check_profile
from .engine.sweeps import ABLATION_ROWS, LATENT64_DIM, LATENT64_ROWS
from .studies import comparison, geometry, simplex, stats, theory
from .studies.evidence import Evidence
from .studies.geometry import KnnStudy, SwissRollStudy
from .studies.numbers import AblationRow, PaperNumbers, TableRow
from .studies.probprog import Localisation
from .studies.simplex import SimplexStudy
from .studies.solver import Limits
from .utils import atomic_write, figures_root, git_sha

REPRODUCED, PARTLY, NOT, NOT_RUN_HERE, NA = "reproduced", "partly", "not reproduced", "not run here", "not assessable"
# (a sixth verdict, INCONCLUSIVE, is defined with the intervals below)


@dataclass
class Verdict:
    claim: int
    statement: str
    source: str
    paper: str
    ours: str
    verdict: str
    why: str
    numbers: dict = field(default_factory=dict)   # what the verdict rests on, for a program: estimates, intervals


@dataclass(frozen=True)
class Estimate:
    """A tested quantity a verdict rests on: the estimate, its interval at ``level`` (``df``: the
    t interval's degrees of freedom), the comparison's word, the paper's value where it gives one,
    the line it is judged against and its unit (the forest plot draws these)."""
    estimate: float
    lo: float
    hi: float
    level: float = math.nan
    df: float = math.nan
    word: str = ""
    paper: float | None = None
    reference: float = 0.0
    unit: str = ""


def _estimate(d: stats.Difference, **more) -> Estimate:
    return Estimate(d.estimate, d.lo, d.hi, d.level, d.df, **more)


# ------------------------------------------------------------------ intervals behind the verdicts
# A table verdict compares means over seeds with t intervals (:mod:`sae.studies.stats`): Welch's
# for a difference, each run's FID sampling error folded in, Bonferroni-corrected over the
# comparisons one claim makes. A difference "beats" or "is worse" only when its interval excludes
# zero; two numbers "match" only when the (1 − 2α/m) interval of their difference lies within
# ± the margin (two one-sided tests); anything else is inconclusive at this scale. The margins
# were fixed before the paper-length sweep was judged (book/paper_setup.md, "Margins").
MATCH_MARGIN = 0.10          # ± 10% of the pair's mean FID
# Claim 5's margin is instead a share of the spread between the ablation's eight variants (what β
# and the targets change): ±10% of the mean let untrained models, whose FIDs are all large and
# alike, "match". Chosen before the full-MNIST ablation was run.
SPREAD_MARGIN = 0.25
INCONCLUSIVE = stats.INCONCLUSIVE


def _combine(holds: int, contradicted: int, n: int) -> str:
    """A claim made of n sub-claims: all hold, some contradicted, some hold (rest open), or none known."""
    if contradicted:
        return NOT
    return REPRODUCED if holds == n else PARTLY if holds else INCONCLUSIVE


def claim_sae_sphere_mnist_rank(runs: pd.DataFrame, uai_rows: list[TableRow]) -> Verdict:
    """Claim 2: SAE-H is among the best FIDs on MNIST (UAI: 12.5, third of twelve): SAE-H's rank
    among the UAI rows, with the range of ranks its Welch tests against every other row allow
    (Bonferroni over the 11 pairs, 95% jointly)."""
    paper = {r.key: r.mnist_fid for r in uai_rows}
    rows = {k: r for k, r in stats.row_means(runs, ["method", "prior"]).items() if k in paper}
    me = ("sae", "sphere")
    rank, lo, hi = stats.rank_interval(rows, me)
    paper_fid = paper[me]
    paper_rank = sum(f < paper_fid for f in paper.values()) + 1
    v = REPRODUCED if hi <= 3 else NOT if lo > 3 else INCONCLUSIVE
    m_lo, m_hi = rows[me].interval()
    return Verdict(2, "SAE with a hyperspherical prior is among the best models on MNIST (FID)", "UAI Table 1",
                   f"FID {paper_fid}, rank {paper_rank} of {len(uai_rows)}",
                   f"FID {stats.round_sig(rows[me].mean, 3):g} (95% t interval {stats.round_sig(m_lo, 3):g}–"
                   f"{stats.round_sig(m_hi, 3):g}, {rows[me].n} seeds), rank {rank} of {len(rows)} (possible ranks {lo}–{hi})",
                   v, "rule: every rank the pairwise Welch tests allow (Bonferroni, 95% jointly) within the top 3 "
                   "reproduced, all below it not reproduced, otherwise inconclusive",
                   {"rank": rank, "rank_lo": lo, "rank_hi": hi, "rows": len(rows), "fid": rows[me].mean,
                    "fid_lo": m_lo, "fid_hi": m_hi, "seeds": rows[me].n,
                    f"SAE-sphere's rank of {len(rows)}": Estimate(rank, lo, hi, reference=3.5, paper=paper_rank)})


def claim_sae_vs_vae_wae(runs: pd.DataFrame, iclr: PaperNumbers) -> Verdict:
    """Claim 6: SAE-sphere has a lower FID than VAE and WAE-N (ICLR Table 2, MNIST): two Welch
    comparisons, each at α/2."""
    rows = stats.row_means(runs, ["method", "prior"])
    sae_ = rows[("sae", "sphere")]
    parts, holds, against, numbers = [], 0, 0, {}
    for name, key in (("VAE", ("vae", "gaussian")), ("WAE-N", ("wae", "gaussian"))):
        other = rows[key]
        word, d = stats.compare(sae_, other, MATCH_MARGIN * 0.5 * (sae_.mean + other.mean), m=2)
        holds += word == "lower"
        against += word == "higher"
        parts.append(f"SAE − {name} {d.text()}: {word}")
        paper_gap = iclr.iclr("sae", "sphere").mnist_fid - iclr.iclr(*key).mnist_fid
        numbers[f"SAE − {name}"] = _estimate(d, word=word, paper=paper_gap)
    return Verdict(6, "SAE-sphere beats VAE and WAE (Gaussian) in FID on MNIST", "ICLR Table 2",
                   "{} vs VAE {}, WAE {}".format(*(iclr.iclr(m, p).mnist_fid for m, p in
                                                   (("sae", "sphere"), ("vae", "gaussian"), ("wae", "gaussian")))),
                   "; ".join(parts), _combine(holds, against, 2),
                   "rule: 'beats' when the Welch interval of the FID difference (97.5% each, Bonferroni over the "
                   "two) lies below 0; worse when above", numbers)


# Claim 7 within our sweep: SAE-sphere against the unregularised spherical AE (must be lower) and
# the regularised spherical models the ICLR table sets beside it (WAE 0.25, SAE 0.30, HVAE 0.33:
# SAE must not be higher), at every kernel bandwidth a sweep recorded.
LATENT_PEERS = (("ae", "must be lower"), ("wae", "not higher"), ("hvae", "not higher"))


def _bandwidth_columns(runs: pd.DataFrame) -> dict[str, str]:
    """{bandwidth factor: column} of the latent MMD; runs made before the scan have factor 1 only."""
    scan = {c.removeprefix("mmd_bw_"): c for c in runs.columns if c.startswith("mmd_bw_") and runs[c].notna().all()}
    return scan or {"1": "latent_mmd_x1000"}


def claim_latent_matching(runs: pd.DataFrame, iclr: PaperNumbers) -> Verdict:
    """Claim 7: SAE's codes match the prior, judged like for like within our sweep: SAE-sphere's
    latent MMD×1000 lower than the unregularised spherical AE's and not higher than WAE's and HVAE's
    (the ICLR table's neighbours), at every kernel bandwidth the runs recorded (⅛ to 4 times ours),
    by Welch intervals, Bonferroni over all comparisons.

    Beside it, for reference only, the ratio to the paper's floor on the paper's scale (the biased
    MMD², ``mmd_v_floor`` being what the biased estimator adds to our unbiased one): it depends on a
    kernel bandwidth the paper does not state, so it decides nothing."""
    paper = ("SAE {}, WAE {}, HVAE {}, AE {} (spherical); floor 0.2 on 10K points (ICLR caption)"
             .format(*(iclr.iclr(m, "sphere").mnist_mmd for m in ("sae", "wae", "hvae", "ae"))))
    statement = "SAE's aggregated posterior matches the prior (latent MMD), as well as WAE's and HVAE's do"
    sphere = runs[runs["prior"] == "sphere"]
    have = set(sphere["method"])
    if not {"sae", *(m for m, _ in LATENT_PEERS)} <= have:
        return Verdict(7, statement, "ICLR Table 2", paper, "—", NA,
                       f"the spherical AE, WAE, HVAE and SAE rows are needed; these runs have {sorted(have)}")
    columns = _bandwidth_columns(sphere)
    m = len(columns) * len(LATENT_PEERS)
    parts, bad, open_, numbers = [], 0, 0, {}
    for f, col in columns.items():
        rows = stats.row_means(sphere, ["method"], col, se=None)
        words = []
        for peer, need in LATENT_PEERS:
            word, d = stats.compare(rows["sae"], rows[peer], MATCH_MARGIN * 0.5 * abs(rows["sae"].mean + rows[peer].mean),
                                    m=m)
            ok = word == "lower" if need == "must be lower" else word != "higher"
            fails = word == "higher" or (need == "must be lower" and word in ("matches",))
            bad += fails
            open_ += not ok and not fails
            words.append(f"− {peer.upper()} {d.text()}")
            numbers[f"×{f}: SAE − {peer.upper()}"] = _estimate(d, word=word)
        parts.append(f"×{f}: SAE {stats.round_sig(rows['sae'].mean, 3):g} " + ", ".join(words))
    v = NOT if bad else REPRODUCED if not open_ else INCONCLUSIVE
    reference = ""
    sae_runs = sphere[sphere["method"] == "sae"]
    if "mmd_v_floor" in sae_runs and sae_runs["mmd_v_floor"].notna().all():
        ratio = stats.row_mean((sae_runs["latent_mmd_x1000"] + sae_runs["mmd_v_floor"]) / sae_runs["mmd_v_floor"])
        lo, hi = ratio.interval()
        reference = (f" For reference, not judged: on the paper's scale (biased MMD²) SAE is {ratio.mean:.1f} times "
                     f"the prior's own floor (95% t interval {lo:.1f}–{hi:.1f}; the paper's ratio 1.5 used a kernel "
                     "it does not state).")
    return Verdict(7, statement, "ICLR Table 2", paper,
                   f"SAE − peer, latent MMD×1000 by bandwidth factor: {'; '.join(parts)}.{reference}", v,
                   f"rule, within our sweep: at every bandwidth SAE lower than the spherical AE and not higher than "
                   f"WAE and HVAE (Welch, Bonferroni over {m}) reproduced; SAE higher than any of them, or matching "
                   "the AE, not reproduced; otherwise inconclusive", numbers)


def claim_ordering(runs: pd.DataFrame, uai_rows: list[TableRow], n_perm: int = 10_000, seed: int = 0) -> Verdict:
    """Claim 15 (ours): our FID ordering of the UAI Table 1 rows agrees with the paper's, as Kendall's
    τ between the seed means and the paper's numbers, with a permutation p-value (one-sided, τ > 0);
    beside it the t interval of τ over the seeds taken one at a time."""
    rows = stats.row_means(runs, ["method", "prior"])
    keys = [r.key for r in uai_rows if r.key in rows]
    paper = np.array([r.mnist_fid for r in uai_rows if r.key in rows])
    ours = np.array([rows[k].mean for k in keys])
    tau = float(kendalltau(ours, paper)[0])
    null = stats.kendall_tau_null(ours, paper, n_perm, np.random.default_rng(seed))
    p = float((1 + (null >= tau).sum()) / (1 + n_perm))
    per_seed = []
    for _, grp in runs.groupby("seed"):
        fid = {(r.method, r.prior): r.fid for r in grp.itertuples()}
        if all(k in fid for k in keys):
            per_seed.append(float(kendalltau([fid[k] for k in keys], paper)[0]))
    spread, numbers = "", {"tau": tau, "p": p, "rows": len(keys), "tau_per_seed": per_seed}
    if len(per_seed) >= 2:
        lo, hi = stats.row_mean(per_seed).interval()
        spread = f"; per seed {', '.join(f'{t:.2f}' for t in per_seed)} (95% t interval of their mean {lo:.2f}–{hi:.2f})"
        numbers["Kendall τ against the paper (per seed)"] = Estimate(float(np.mean(per_seed)), lo, hi)
    v = REPRODUCED if tau > 0 and p < 0.05 else NOT if tau <= 0 else INCONCLUSIVE
    return Verdict(15, "Our FID ordering of the UAI Table 1 MNIST rows agrees with the paper's", "UAI Table 1 (ours)",
                   f"the paper's order of {len(keys)} rows",
                   f"Kendall τ = {tau:.2f} of the seed means, permutation p = {p:.3f}{spread}", v,
                   "rule: τ > 0 with p < 0.05 reproduced, τ ≤ 0 not reproduced, otherwise inconclusive", numbers)


LATENT64 = LATENT64_DIM
SHRUNK = 0.9         # claim 4: a mean code variance below this is "shrunk" (the prior's is 1)


def claim_gaussian_variance(runs: pd.DataFrame, latent_dim: int) -> Verdict:
    """Claim 4: with a Gaussian prior, sample-based OT (SAE, HAE) shrinks the code variance below
    1 and SWAE and W2GAE do not: per model, the t interval of its mean code variance over seeds
    (Bonferroni over the four) wholly below :data:`SHRUNK` (shrunk) or wholly at or above it."""
    gauss = runs[runs["prior"] == "gaussian"]
    rows = stats.row_means(gauss, ["method"], "code_variance", se=None)
    models = {"sae": True, "hae": True, "w2gae": False, "swae": False}       # should it shrink?
    level = 1 - stats.ALPHA / len(models)
    parts, holds, against, numbers = [], 0, 0, {}
    for m, should in models.items():
        lo, hi = rows[m].interval(level)
        shrunk, kept = hi < SHRUNK, lo >= SHRUNK
        holds += shrunk if should else kept
        against += kept if should else shrunk
        parts.append(f"{m.upper()} {rows[m].mean:.2f} [{lo:.2f}, {hi:.2f}]")
        numbers[m.upper()] = Estimate(rows[m].mean, lo, hi, level, reference=SHRUNK,
                                      unit="mean code variance (the prior's: 1)")
    return Verdict(4, "Gaussian prior: sample-based OT (SAE, HAE) learns code variance < 1; SWAE and W2GAE do not",
                   "UAI §6.2, App. F (secondary)", "qualitative, in 64-d on CelebA",
                   f"{latent_dim}-d on MNIST, mean code variance: {', '.join(parts)}", _combine(holds, against, 4),
                   f"rule: SAE and HAE's {100 * level:g}% t intervals (Bonferroni over 4) wholly below {SHRUNK} and "
                   f"SWAE's and W2GAE's wholly at or above it reproduced; any of them on the wrong side not "
                   "reproduced; otherwise partly or inconclusive", numbers)


def claim_gaussian_64d(runs: pd.DataFrame, uai_rows: list[TableRow]) -> Verdict:
    """Claim 3's mechanism on MNIST (CelebA cannot run offline): with the Gaussian prior in 64-d,
    sample-based OT (SAE, HAE) shrinks the codes and has a higher FID than SWAE and W2GAE. Two parts:
    claim 4's variance rule on these runs, and the four FID differences (SAE or HAE minus SWAE or
    W2GAE), Welch intervals, Bonferroni over the four: all above 0 holds, any below 0 contradicts."""
    variance = claim_gaussian_variance(runs, LATENT64)
    rows = stats.row_means(runs, ["method"])
    parts, higher, lower, numbers = [], 0, 0, dict(variance.numbers)
    for ot_ in ("sae", "hae"):
        for other in ("swae", "w2gae"):
            word, d = stats.compare(rows[ot_], rows[other], MATCH_MARGIN * 0.5 * (rows[ot_].mean + rows[other].mean), m=4)
            higher += word == "higher"
            lower += word == "lower"
            parts.append(f"{ot_.upper()} − {other.upper()} {d.text()}: {word}")
            numbers[f"FID {ot_.upper()} − {other.upper()}"] = _estimate(d, word=word, unit="FID difference")
    fid = _combine(higher, lower, 4)
    v = NOT if NOT in (fid, variance.verdict) else REPRODUCED if fid == variance.verdict == REPRODUCED else \
        PARTLY if REPRODUCED in (fid, variance.verdict) or PARTLY in (fid, variance.verdict) else INCONCLUSIVE
    celeba = {r.key: r.celeba_fid for r in uai_rows}
    celeba = ", ".join(f"{m.upper()} {celeba[(m, 'gaussian')]}" for m in ("sae", "hae", "swae", "w2gae"))
    return Verdict(3, "Sample-based OT with a Gaussian prior fails in 64-d (here on MNIST: codes shrink, FID worse "
                      "than SWAE and W2GAE)", "UAI Table 1 (secondary), mechanism of UAI §6.2",
                   f"CelebA FID (Gaussian, 64-d): {celeba}",
                   f"{variance.ours}; FID: {'; '.join(parts)}", v,
                   f"rule: claim 4's variance rule on the 64-d runs ({variance.verdict}) and SAE's and HAE's FID above "
                   f"SWAE's and W2GAE's (Welch, Bonferroni over 4; {fid}); both hold reproduced, either contradicted "
                   "not reproduced", numbers)


def claim_sinkhorn_vs_hungarian(runs: pd.DataFrame, iclr_t1: list[AblationRow]) -> Verdict:
    """Claim 5: no significant FID difference between Sinkhorn and Hungarian (ICLR Table 1): per
    (assignment, β), an equivalence test of the two solvers' mean FIDs, with the margin a quarter
    of the spread between the eight variants' mean FIDs."""
    fid = {r.key: r.mnist_fid for r in iclr_t1}
    paper_gaps = [fid[("sinkhorn", a, b)] - fid[("hungarian", a, b)] for s, a, b in fid if s == "sinkhorn"]
    paper = "Sinkhorn − Hungarian FID: " + ", ".join(f"{g:+.1f}" for g in paper_gaps)
    rows = stats.row_means(runs, ["assignment", "beta", "solver"])
    means = [r.mean for r in rows.values()]
    bound = SPREAD_MARGIN * (max(means) - min(means))
    parts, same, differ, numbers = [], 0, 0, {"margin": bound}
    settings = sorted({(a, b) for a, b, _ in rows})
    for assignment, beta in settings:
        word, d = stats.compare(rows[(assignment, beta, "sinkhorn")], rows[(assignment, beta, "hungarian")], bound,
                                m=len(settings))
        same += word == "matches"
        differ += word in ("lower", "higher")
        parts.append(f"{assignment}/β={beta:g}: {d.text()} {word}")
        numbers[f"{assignment}/β={beta:g}: Sinkhorn − Hungarian"] = _estimate(
            d, word=word, paper=fid[("sinkhorn", assignment, beta)] - fid[("hungarian", assignment, beta)])
    m = len(settings)
    return Verdict(5, "Sinkhorn ≈ Hungarian in FID (no significant difference)", "ICLR Table 1", paper,
                   "; ".join(parts), _combine(same, differ, m),
                   f"rule: per setting (Bonferroni over {m}), 'matches' when the {100 * (1 - 0.1 / m):g}% Welch "
                   f"interval of the difference lies within ±{bound:.3g} ({SPREAD_MARGIN:g} × the spread of the "
                   f"{len(means)} variants' mean FIDs); a {100 * (1 - 0.05 / m):g}% interval excluding 0 contradicts "
                   "the claim", numbers)


def claim_eps_stability(sens: comparison.Sensitivity) -> Verdict:
    """Claim 8: ε = 10 is needed with a Gaussian prior (smaller unstable); ε = 0.1 works for the sphere."""
    g, s, failed = sens.best_fid("gaussian"), sens.best_fid("sphere"), sens.failed()
    if 10.0 not in g or 0.1 not in s or len(g) < 2:
        return Verdict(8, "ε = 10 for the Gaussian prior, ε = 0.1 for the sphere", "UAI Table 1 note", "", "", NA,
                       "the grid of this profile does not contain both settings")
    worse = all(f > 1.2 * g[10.0] for e, f in g.items() if e < 10.0) or bool(sens.failed("gaussian"))
    sphere_fine = s[0.1] <= 1.2 * min(s.values())
    v = REPRODUCED if worse and sphere_fine else PARTLY if worse or sphere_fine else NOT
    return Verdict(8, "A Gaussian prior needs ε = 10 (smaller ε worse or unstable); ε = 0.1 suits the sphere",
                   "UAI Table 1 note (secondary)", "smaller ε 'numerically unstable' (Gaussian)",
                   f"Gaussian FID by ε: {dict((float(k), round(float(x), 1)) for k, x in g.items())}; "
                   f"sphere: {dict((float(k), round(float(x), 1)) for k, x in s.items())}; failed runs: {len(failed)}",
                   v, "rule: every smaller ε at least 20% worse than ε = 10 (or failing) for the Gaussian, "
                   "and ε = 0.1 within 20% of the best for the sphere; our solver is log-stabilised, so "
                   "'unstable' shows as worse models rather than NaNs")


def table_verdicts(runs: pd.DataFrame, numbers: PaperNumbers, latent_dim: int) -> list[Verdict]:
    """Claims 2, 4, 6, 7 and 15: the ones that read the comparison table (this build's or a stored
    one); ``runs`` has one line per run, ``summary`` one per row with its mean code variance."""
    return [claim_sae_sphere_mnist_rank(runs, numbers.uai_table1), claim_gaussian_variance(runs, latent_dim),
            claim_sae_vs_vae_wae(runs, numbers), claim_latent_matching(runs, numbers),
            claim_ordering(runs, numbers.uai_table1)]


@dataclass(frozen=True)
class Judged:
    """One verdict on one evidence: this build, or a stored sweep named by its folder. ``strength``
    orders the evidence for a claim: (on full MNIST, epochs, runs)."""
    evidence: str
    strength: tuple
    verdict: Verdict


BUILD = "this build"


def judged(records: list[Judged], name: str) -> pd.DataFrame:
    """The claims one stored sweep (``name``) judges, as the page shows them, beside this build's
    verdicts for the same claims (from :func:`evidence_records`)."""
    build = {j.verdict.claim: j.verdict.verdict for j in records if j.evidence == BUILD}
    return pd.DataFrame([{"claim": v.claim, "statement": v.statement, "paper": v.paper, f"ours ({name})": v.ours,
                          f"verdict ({name})": v.verdict, "this build": build.get(v.claim, "—"), "why": v.why}
                         for v in (j.verdict for j in records if j.evidence == name)])


def differences(judged: pd.DataFrame, name: str) -> str:
    """Which claims a stored sweep judges otherwise than this build (a table of :func:`judged`)."""
    col = f"verdict ({name})"
    differ = judged[judged[col] != judged["this build"]]
    if differ.empty:
        return f"{name}: every claim it can judge gets the same verdict as on this build."
    return (f"{name} judges {len(differ)} claim(s) otherwise than this build: "
            + "; ".join(f"claim {r.claim}: {r[col]} (this build: {r['this build']})" for _, r in differ.iterrows())
            + ". The stored sweep is the larger experiment; where they disagree, its verdict is the one to read.")


def verdict_table(verdicts: list[Verdict]) -> pd.DataFrame:
    """One line per verdict, in claim order (the structured ``numbers`` stay in the JSON)."""
    return pd.DataFrame([{k: v for k, v in vars(x).items() if k != "numbers"} for x in sorted(verdicts, key=lambda v: v.claim)])


def _strength(st) -> tuple:
    """How much a stored sweep weighs as evidence: full data first, then epochs, then runs."""
    return (all(r.dataset == "mnist_full" for r in st.records), float(st.epochs), len(st.records))


def evidence_records(build: list[Verdict], numbers: PaperNumbers, latent_dim: int, build_strength=(False, 0, 0)) -> list[Judged]:
    """One :class:`Judged` per (claim, evidence): this build's verdicts, then every stored sweep's,
    each with the numbers and intervals its verdict rests on (:func:`save_json` writes them for a
    program to check every verdict the report shows). The build's strength is ``build_strength``."""
    out = [Judged(BUILD, tuple(build_strength), v) for v in build]
    for st in comparison.stored_sweeps("table"):
        if not st.missing_rows:
            out += [Judged(st.name, _strength(st), v) for v in table_verdicts(st.runs, numbers, latent_dim)]
    for st in comparison.stored_sweeps("ablation"):     # once every variant has two seeds
        if st.every_row_has(lambda r: (r.solver, r.assignment, r.beta), ABLATION_ROWS):
            out.append(Judged(st.name, _strength(st), claim_sinkhorn_vs_hungarian(st.runs, numbers.iclr_table1)))
    for st in comparison.stored_sweeps("latent64"):
        if (v := latent64_verdict(st, numbers)) is not None:
            out.append(Judged(st.name, _strength(st), v))
    return out


def latent64_verdict(st, numbers: PaperNumbers) -> Verdict | None:
    """Claim 3 on a stored 64-d sweep, once every method has two seeds (None before)."""
    if st.every_row_has(lambda r: r.method, [m for m, _ in LATENT64_ROWS]):
        return claim_gaussian_64d(st.runs, numbers.uai_table1)
    return None


@dataclass(frozen=True)
class Interval:
    """One tested quantity of one claim on its strongest evidence, for the forest plot: the estimate,
    its interval (at the level the verdict used), the line it is judged against (0 for a difference,
    the "shrunk" threshold for a code variance) and the paper's value where the paper gives one."""
    claim: int
    label: str
    estimate: float
    lo: float
    hi: float
    reference: float = 0.0
    paper: float | None = None
    evidence: str = ""
    unit: str = ""


UNITS = {2: "rank among the UAI rows (1: lowest FID)", 4: "mean code variance (the prior's: 1)",
         5: "FID difference", 6: "FID difference", 7: "latent MMD×1000 difference", 15: "Kendall τ"}


def strongest(records: list[Judged]) -> dict[int, Judged]:
    """Per claim, the record on its strongest evidence (most data, then epochs, then runs)."""
    best: dict[int, Judged] = {}
    for j in records:
        if j.verdict.claim not in best or j.strength > best[j.verdict.claim].strength:
            best[j.verdict.claim] = j
    return best


def intervals(records: list[Judged]) -> list[Interval]:
    """Every tested difference or threshold with its interval, per claim on its strongest evidence
    (claim 15's τ over seeds too), in claim order: what the forest plot draws."""
    out = []
    for claim, j in sorted(strongest(records).items()):
        for label, x in j.verdict.numbers.items():
            if isinstance(x, Estimate):
                out.append(Interval(claim, label, x.estimate, x.lo, x.hi, x.reference, x.paper, j.evidence,
                                    x.unit or UNITS.get(claim, "")))
    return out


VERDICT_COLOURS = {REPRODUCED: "#d8f0d8", PARTLY: "#fff1c9", NOT: "#f8d7d3", INCONCLUSIVE: "#e8e8e8",
                   NOT_RUN_HERE: "#eeeeee", NA: "#eeeeee"}


def summary(records: list[Judged]) -> pd.DataFrame:
    """One line per claim, judged on its strongest evidence (the stored sweep on the most data and
    epochs, else this build): claim, statement, the paper's number, the evidence and the verdict."""
    best = strongest(records)
    return pd.DataFrame([{"claim": c, "statement": j.verdict.statement, "paper": j.verdict.paper,
                          "evidence": j.evidence, "verdict": j.verdict.verdict} for c, j in sorted(best.items())])


def show_summary(table: pd.DataFrame):
    """The summary with each verdict as a coloured label."""
    return show_table(table).map(lambda v: f"background-color: {VERDICT_COLOURS.get(v, 'white')}; font-weight: 600",
                                 subset=["verdict"])


def claim_details(records: list[Judged]) -> str:
    """Every claim on every evidence, as HTML: one collapsed block per claim whose title gives the
    verdict on its strongest evidence; inside, a row per evidence (the strongest first) with what
    we measured, the verdict and the rule behind it."""
    from html import escape

    best = strongest(records)
    blocks = []
    for claim, top in sorted(best.items()):
        mine = sorted((j for j in records if j.verdict.claim == claim), key=lambda j: j.strength, reverse=True)
        rows = "".join(f"<tr><td>{escape(j.evidence)}</td><td>{escape(j.verdict.ours)}</td>"
                       f"<td style='background-color:{VERDICT_COLOURS.get(j.verdict.verdict, 'white')}'>"
                       f"{escape(j.verdict.verdict)}</td><td>{escape(j.verdict.why)}</td></tr>" for j in mine)
        v = top.verdict
        blocks.append(f"<details><summary><b>Claim {claim}</b>: {escape(v.statement)}: <b>{escape(v.verdict)}</b> "
                      f"({escape(top.evidence)})</summary><p>The paper ({escape(v.source)}): {escape(v.paper)}</p>"
                      "<table class='claim-detail'><thead><tr><th>evidence</th><th>ours</th><th>verdict</th>"
                      f"<th>rule</th></tr></thead><tbody>{rows}</tbody></table></details>")
    return "\n".join(blocks)


def explain(v: Verdict) -> str:
    """One verdict as a Markdown paragraph for a chapter: the claim and its verdict first, then
    what we measured, the paper's number and the rule (a one-row table squeezes the claim's name)."""
    why = v.why[:1].upper() + v.why[1:]
    return (f"**Claim {v.claim}, {v.verdict}:** {v.statement} ({v.source}). Measured: {v.ours}. "
            f"The paper: {v.paper or 'no number'}. {why}{'' if why.endswith('.') else '.'}")


def show(verdicts: list[Verdict]):
    """The verdicts as a left-aligned, wrapped table for a chapter: claim, statement, what we
    measured and the verdict (the paper's number and the rule are in :func:`claim_details`)."""
    return show_table(verdict_table(verdicts)[["claim", "statement", "ours", "verdict"]])


def show_table(table: pd.DataFrame):
    """A verdict table, left-aligned and wrapped, for a chapter; the first column's header (the
    claim's number) keeps its word whole beside long cells."""
    return (table.style.set_properties(**{"text-align": "left", "white-space": "normal"}).hide(axis="index")
            .set_table_styles([{"selector": "th.col_heading.col0", "props": "overflow-wrap: normal; min-width: 3.2em"}]))


def claim_sinkhorn_encoders(roll: SwissRollStudy, knn: KnnStudy) -> Verdict:
    """Claim 11: encoder-only Sinkhorn training moves codes onto the prior without losing local
    geometry (Swiss roll), and separates MNIST classes without labels."""
    parts = [r.text() for r in roll.rows]
    ok = roll.holds()
    enc, untrained = knn.accuracy[geometry.ENCODER_ONLY], knn.accuracy[geometry.UNTRAINED]
    mnist_ok = knn.gain() > geometry.KNN_GAIN
    parts.append(f"MNIST 5-NN accuracy of codes {enc:.3f} (untrained {untrained:.3f})")
    v = REPRODUCED if ok and mnist_ok else PARTLY if ok or mnist_ok else NOT
    return Verdict(11, "Encoder-only Sinkhorn training preserves Swiss-roll geometry and clusters MNIST classes",
                   "ICLR §6.1, Fig. 1", "qualitative (t-SNE, embeddings)", "; ".join(parts), v,
                   f"rule: OT to prior below {geometry.OT_MOVED:g} × untrained with trustworthiness kept "
                   f"(±{geometry.TRUST_KEPT:g}), and 5-NN accuracy ≥ untrained + {geometry.KNN_GAIN:g}")


def claim_dirichlet(study: SimplexStudy) -> Verdict:
    """Claim 12: with a 16-d Dir(1/5) prior every digit sits at a vertex, and samples at vertices
    are crisper (here: more confidently classified) than samples inside the simplex."""
    have = simplex.digits_with_a_vertex(study.tables[simplex.MAIN])
    crisp = simplex.crispness_summary(study.crispness)
    vertex_ok, crisp_ok = len(have) == 10, crisp.crisper_near_vertices()
    v = REPRODUCED if vertex_ok and crisp_ok else PARTLY if crisp_ok or len(have) >= 8 else NOT
    missing = sorted(set(range(10)) - set(have))
    return Verdict(12, "16-d Dir(1/5) prior: each digit at a vertex; vertex samples crisper", "ICLR §6.4, Fig. 3",
                   "qualitative (t-SNE, samples)",
                   f"{len(have)} of 10 digits dominate a vertex{f' (missing {missing})' if missing else ''}; "
                   f"classifier confidence {crisp.near.confidence:.2f} near vertices vs {crisp.inside.confidence:.2f} "
                   f"inside, {crisp.exact.confidence:.2f} at exact vertices (Spearman ρ {crisp.spearman_confidence:.2f})",
                   v, f"rule: all 10 digits dominate (≥ {simplex.PURITY:.0%} of the codes of) some vertex, and "
                   f"near-vertex samples ≥ {simplex.CRISP_GAIN:g} more confident than inside ones; partly: one of the two, "
                   "or ≥ 8 digits")


def claim_probabilistic_programming(run) -> Verdict:
    """Claim 14 (ours; the toy is qualitative in the paper): z_where localises the digit."""
    m = Localisation.of(run.metrics)
    err, com, centre = m.centre_error_px, m.baseline_com_error_px, m.baseline_centre_error_px
    v = REPRODUCED if err < com and err < centre / 2 else PARTLY if err < centre else NOT
    return Verdict(14, "Toy probabilistic programming: a spatial-transformer SAE with two Sinkhorn terms finds "
                   "where the digit is", "ICLR §6.5, Fig. 4", "qualitative (localisation boxes, vs AIR)",
                   f"centre error {err:.2f} px (centre of mass of the noisy canvas {com:.2f} px, canvas centre "
                   f"{centre:.2f} px); scale error {m.scale_error_rel:.0%}",
                   v, "rule: below the centre-of-mass baseline and half the canvas-centre one; partly: below the "
                   "canvas-centre baseline. Not compared with AIR (not built here)")


def theory_verdicts(bound: theory.BoundStudy, sphere: theory.SphereStudy, limits: Limits) -> list[Verdict]:
    """Claims 9, 10 and 13 from the theory chapter's results: the repulsion table
    (``theory.sphere_table``), the bound table (``theory.bound_table``) and the entropic limits
    (``theory.entropic_limits``), computed at the chapter's sizes."""
    fails, at, dims = sphere.violations(), sphere.at(10, 1.0), sorted({r.d for r in sphere.rows})
    out = [Verdict(9, "Sphere repulsion: P(‖z−z′‖>δ) ≥ 1 − 1/(4d(√2−δ)²)", "ICLR Prop. 6.1",
                   f"d=10, δ=1: ≥ {at.paper_bound:.3f}",
                   f"exact law at d=10, δ=1: {at.exact:.3f}; bound violated at "
                   f"{[(r.d, r.delta) for r in fails] or 'no tested (d, δ)'}",
                   REPRODUCED if not fails else PARTLY if sphere.fails_only_in_low_dimensions() else NOT,
                   f"exact law vs the bound over d ∈ {{{dims[0]}..{dims[-1]}}}, {len(sphere.rows)} (d, δ) pairs; "
                   f"the paper says 'high-dimensional regime': failing only below d = {theory.LOW_D} is partly")]
    slack = float(bound.slack.min())
    out.append(Verdict(10, "W_p(P_X,P_G) ≤ rec^{1/p} + γ W_p(Q_Z,P_Z) for γ ≥ ∏‖B_ℓ‖", "UAI Thm 2.1 / ICLR Thm 3.1",
                       "theorem", f"{len(bound.rows)} random encoder/generator pairs: min slack {slack:.3g}",
                       REPRODUCED if slack >= -1e-9 else NOT, "exact OT on finite measures; see the theory chapter"))
    small, large = limits.gaps()
    out.append(Verdict(13, "Sinkhorn divergence → W_c as ε → 0 and → ½MMD²_{−c} as ε → ∞", "UAI §3.1 (secondary)",
                       "limits", f"relative gap {small:.1e} at the smallest ε, {large:.1e} at the largest",
                       REPRODUCED if small < 0.05 and large < 0.01 else NOT, "rule: within 5% and 1% at the two ends"))
    return out


def all_verdicts(ev: Evidence, numbers: PaperNumbers) -> list[Verdict]:
    """Every claim's verdict from the gathered results of the chapters (:func:`sae.studies.evidence.gather`)."""
    out = table_verdicts(ev.runs, numbers, ev.setup.latent_dim)
    out.append(claim_sinkhorn_vs_hungarian(ev.ablation_runs, numbers.iclr_table1))
    out.append(claim_eps_stability(ev.sensitivity))
    out.append(claim_sinkhorn_encoders(ev.roll, ev.knn))
    out.append(claim_dirichlet(ev.dirichlet))
    out.append(claim_probabilistic_programming(ev.probprog.run))
    out += theory_verdicts(ev.bound, ev.sphere, ev.limits)
    return out + not_run_here(numbers)


def not_run_here(numbers: PaperNumbers) -> list[Verdict]:
    """Claims this build does not test, each with the reason; paper values from the data file."""
    fid = {r.key: r.celeba_fid for r in numbers.uai_table1}
    celeba = lambda rows: ", ".join(f"{m.upper()}-{p[0].upper()} {fid[(m, p)]}" for m, p in rows)
    todo = [(1, "On CelebA, SAE with a hyperspherical prior matches or beats the baselines", "UAI Table 1",
             celeba([("sae", "sphere"), ("vae", "gaussian"), ("wae", "gaussian"), ("wae", "sphere"), ("swae", "gaussian")])),
            (3, "Sample-based OT with a Gaussian prior fails in 64-d on CelebA", "UAI Table 1 (secondary)",
             celeba([("sae", "gaussian"), ("hae", "gaussian"), ("w2gae", "gaussian"), ("swae", "gaussian")]))]
    return [Verdict(c, text, src, paper, "—", NOT_RUN_HERE,
                    "needs CelebA images and an Inception network in local folders (nothing is downloaded)")
            for c, text, src, paper in todo]


def save_json(records: list[Judged], profile: str, folder: Path | None = None) -> Path:
    """Write :func:`evidence_records` as JSON beside the profile's figures
    (``figures/<profile>/reproduction_report.json``), with the profile and the commit that computed it."""
    path = (Path(folder) if folder is not None else figures_root()) / check_profile(profile) / "reproduction_report.json"
    with atomic_write(path, "w") as f:
        rows = [{"evidence": j.evidence, "strength": list(j.strength), **asdict(j.verdict)} for j in records]
        f.write(json.dumps({"profile": profile, "commit": git_sha(), "records": rows}, indent=1, default=float))
    return path
