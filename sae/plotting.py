"""Figure builders and ``save``: every figure of the book is drawn here and written to figures/.

Builders take plain numbers (dicts, arrays) and return a Matplotlib Figure; chapters call them.
``save`` writes PNG and PDF plus a JSON sidecar with the config, commit and the numbers plotted.
"""
from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from .engine.profiles import check_profile
from .utils import figures_root, git_sha

# One style for the whole book: sized for the page width of the HTML book (about 7 in).
BOOK_RC = {
    "figure.dpi": 110, "savefig.dpi": 150, "font.size": 9, "axes.titlesize": 9, "axes.labelsize": 9,
    "legend.fontsize": 8, "xtick.labelsize": 8, "ytick.labelsize": 8, "axes.spines.top": False,
    "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3, "lines.linewidth": 1.5,
    "figure.constrained_layout.use": True,
}
WIDTH = 7.0


def _jsonable(obj):
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _jsonable(dataclasses.asdict(obj))
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    return obj


def save(fig, name: str, profile: str, config: dict | None = None, data: dict | None = None,
         formats=("png", "pdf"), folder: Path | None = None) -> None:
    """Write ``figures/<profile>/<name>.<ext>`` and ``<name>.json`` beside it (profile, config,
    commit, numbers plotted).

    Each profile has its own folder, so a smoke run of a chapter (the tests, papermill) never
    overwrites the figures of the quick build. Paths resolve from the repository root, never from
    the notebook's working directory. In a
    notebook kernel the figure is displayed here, whatever the matplotlib backend (``make book``
    runs kernels with Agg, and matplotlib's rc_context can switch the inline backend's
    interactivity off), and then closed, so it is shown exactly once.
    """
    folder = (Path(folder) if folder is not None else figures_root()) / check_profile(profile)
    folder.mkdir(parents=True, exist_ok=True)
    for ext in formats:
        p = folder / f"{name}.{ext}"
        fig.savefig(p, metadata={"Creator": "sae"} if ext == "pdf" else None)
    side = folder / f"{name}.json"
    side.write_text(json.dumps({"figure": name, "profile": profile, "commit": git_sha(),
                                "config": _jsonable(config or {}), "data": _jsonable(data or {})}, indent=1))
    _show(fig, folder / f"{name}.png" if "png" in formats else None)


def _show(fig, png: Path | None) -> None:
    """In a Jupyter kernel, display the saved PNG (exactly what figures/ holds) as the cell's
    output; close the figure in any case."""
    try:
        from IPython import get_ipython
        from IPython.display import Image, display
    except ImportError:
        get_ipython = None
    shell = get_ipython() if get_ipython else None
    if png is not None and shell is not None and hasattr(shell, "kernel"):
        display(Image(data=png.read_bytes(), format="png"))
    plt.close(fig)


def _fig(ncols=1, nrows=1, height=2.6, width=WIDTH, **kw):
    with plt.rc_context(BOOK_RC):
        fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), **kw)
    return fig, axes


def style():
    """Context manager applying the book style (use around any custom plotting)."""
    return plt.rc_context(BOOK_RC)


# --------------------------------------------------------------------------- Sinkhorn chapter

def eps_sweep(study):
    """Sharp cost and regularised value minus exact OT against ε, with the ε·log n bound."""
    with style():
        fig, ax = _fig(2, height=2.7)
        eps = np.asarray(study.eps)
        ax[0].loglog(eps, np.maximum(study.value_gap, 1e-16), "o-", label=r"value $-$ OT (regularised)")
        ax[0].loglog(eps, np.maximum(study.cost_gap, 1e-16), "s-", label=r"$\langle P_\varepsilon, C\rangle -$ OT (sharp)")
        ax[0].loglog(eps, study.bound, "k--", label=r"bound $\varepsilon \log \min(N, M)$")
        ax[0].set(xlabel=r"$\varepsilon$", ylabel="gap to exact OT", title="Error against exact OT (ot.emd2)")
        ax[0].legend()
        ax[1].semilogx(eps, study.cost, "s-", label="sharp cost")
        ax[1].semilogx(eps, study.value, "o-", label="regularised value")
        ax[1].axhline(study.exact, color="k", ls=":", label="exact OT")
        ax[1].set(xlabel=r"$\varepsilon$", ylabel="transport cost", title="The two Sinkhorn quantities")
        ax[1].legend()
    return fig


def convergence(curves: dict):
    """Marginal error against iterations, one line per ε."""
    with style():
        fig, ax = _fig(1, height=2.6, width=WIDTH * 0.7)
        for label, (its, err) in curves.items():
            ax.semilogy(its, np.maximum(err, 1e-17), label=label)
        ax.set(xlabel="iteration", ylabel=r"$\|P1-a\|_1+\|P^\top 1-b\|_1$", title="Convergence of the marginal error")
        ax.legend(title=r"$\varepsilon$ / median$(C)$")
    return fig


def _limit_panel(ax, study, title: str = "") -> None:
    eps = np.asarray(study.eps)
    ax.semilogx(eps, study.sharp, "s-", label="sharp divergence")
    ax.semilogx(eps, study.regularized, "o-", label="regularised divergence")
    ax.axhline(study.exact, color="k", ls=":", label=r"exact OT $W_c$ ($\varepsilon\to0$)")
    ax.axhline(study.half_mmd, color="C3", ls="--", label=r"$\frac{1}{2}$MMD$^2_{-c}$ ($\varepsilon\to\infty$)")
    ax.set(xlabel=r"$\varepsilon$", ylabel=r"$S_\varepsilon(\alpha,\beta)$", title=title)
    ax.legend()


def mmd_limit(study):
    """Debiased Sinkhorn divergence from ε → 0 (exact OT) to ε → ∞ (½ MMD² with kernel −c)."""
    with style():
        fig, ax = _fig(1, height=2.6, width=WIDTH * 0.7)
        _limit_panel(ax, study, "Between OT and MMD")
    return fig


def entropic_limits(study, n: int):
    """Left: distance of the divergences to W_c against ε, with the ε·log n bound of the
    regularised one. Right: the divergences between their two limits (as ``mmd_limit``)."""
    eps = np.asarray(study.eps)
    with style():
        fig, ax = _fig(2, height=2.6)
        dev = np.abs(np.asarray(study.regularized) - study.exact)
        ax[0].loglog(eps, np.maximum(dev, 1e-16), "o-", label=r"$|S_\varepsilon - W_c|$ (regularised)")
        ax[0].loglog(eps, np.maximum(np.abs(np.asarray(study.sharp) - study.exact), 1e-16), "s-", label="sharp")
        ax[0].loglog(eps, eps * np.log(n), "k--", label=r"$\varepsilon \log n$")
        ax[0].set(xlabel=r"$\varepsilon$", ylabel="deviation from $W_c$", ylim=(1e-6, None))
        ax[0].legend()
        _limit_panel(ax[1], study)
    return fig


def gradient_comparison(study):
    """Unrolled against envelope gradient of the value: agreement, then time and memory per L."""
    with style():
        fig, ax = _fig(3, height=2.6)
        g1, g2 = np.asarray(study.unrolled_grad).ravel(), np.asarray(study.envelope_grad).ravel()
        ax[0].plot(g2, g1, ".", ms=2)
        lim = [min(g1.min(), g2.min()), max(g1.max(), g2.max())]
        ax[0].plot(lim, lim, "k--", lw=0.8)
        ax[0].set(xlabel="envelope  ∂value/∂C = P", ylabel="unrolled ∂value/∂C", title=f"L = {study.L_scatter}")
        L = study.L
        ax[1].plot(L, study.ms_unrolled, "o-", label="unrolled")
        ax[1].plot(L, study.ms_envelope, "s-", label="envelope")
        ax[1].set(xlabel="iterations L", ylabel="forward+backward (ms)", title="Time")
        ax[1].legend()
        ax[2].plot(L, study.mb_unrolled, "o-", label="unrolled")
        ax[2].plot(L, study.mb_envelope, "s-", label="envelope")
        ax[2].set(xlabel="iterations L", ylabel="tensors kept for backward (MB)", title="Memory")
        ax[2].legend()
    return fig


def rounding(study):
    """Marginal error before and after the rounding of Altschuler et al., against iterations."""
    with style():
        fig, ax = _fig(1, height=2.6, width=WIDTH * 0.7)
        ax.semilogy(study.iters, study.err_before, "o-", label="Sinkhorn plan")
        ax.semilogy(study.iters, np.maximum(study.err_after, 1e-17), "s-", label="rounded plan")
        ax.semilogy(study.iters, study.moved, "^:", label=r"$\|$rounded $-$ plan$\|_1$")
        ax.set(xlabel="iterations", ylabel="L1 marginal error", title="Rounding onto the transport polytope")
        ax.legend()
    return fig


def bench_bars(rows, title: str):
    """Median time per library and mode, one group per problem size (log scale); ``rows``: the
    benchmark's cases (sae.studies.bench.BenchCase)."""
    with style():
        modes = [("sae", "forward"), ("pot", "forward"), ("sae", "forward+backward (envelope)"),
                 ("pot", "forward+backward (envelope)"), ("sae", "forward+backward (unrolled)"),
                 ("pot", "forward+backward (unrolled)"), ("geomloss", "forward (regularised value)")]
        sizes = sorted({r.n for r in rows})
        by = {(r.n, r.library, r.mode): r.ms for r in rows}
        fig, ax = _fig(1, height=2.8)
        w = 0.8 / len(modes)
        for k, (lib, mode) in enumerate(modes):
            vals = [by.get((n, lib, mode)) or np.nan for n in sizes]
            ax.bar(np.arange(len(sizes)) + k * w, vals, w, label=f"{lib}: {mode}", color=f"C{k}",
                   hatch="//" if lib != "sae" else None)
        ax.set_yscale("log")
        ax.set_xticks(np.arange(len(sizes)) + w * (len(modes) - 1) / 2, [f"n = {n}" for n in sizes])
        ax.set(ylabel="median time (ms)", title=title)
        ax.legend(ncols=2, fontsize=7)
    return fig


# --------------------------------------------------------------------------- experiment chapters

def image_rows(rows: dict, title: str = "", cmap: str = "gray"):
    """One row of images per label: ``rows[label]`` is a (n, C, H, W) tensor in [0, 1]."""
    labels = list(rows)
    n = max(len(v) for v in rows.values())
    with style():
        fig, axes = plt.subplots(len(labels), n, figsize=(WIDTH, 0.72 * len(labels) + 0.3),
                                 gridspec_kw={"wspace": 0.03, "hspace": 0.08}, constrained_layout=False)
        axes = np.atleast_2d(axes)
        for r, label in enumerate(labels):
            imgs = rows[label].detach().cpu().clamp(0, 1)
            for c in range(n):
                ax = axes[r, c]
                ax.set_xticks([]); ax.set_yticks([]); ax.grid(False)
                for s in ax.spines.values():
                    s.set_visible(False)
                if c < len(imgs):
                    im = imgs[c]
                    ax.imshow(im[0] if im.shape[0] == 1 else im.permute(1, 2, 0), cmap=cmap, vmin=0, vmax=1)
            axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
        if title:
            fig.suptitle(title, fontsize=9)
        fig.subplots_adjust(left=0.17, right=0.99, top=0.93 if title else 0.99, bottom=0.01)
    return fig


def metric_bars(summary, label_col: str, title: str):
    """FID, RE and MMD per row (mean ± sd over seeds), coloured by prior."""
    with style():
        fig, axes = plt.subplots(1, 3, figsize=(WIDTH, 0.28 * len(summary) + 1.2), sharey=True)
        y = np.arange(len(summary))
        for ax, (k, name) in zip(axes, [("fid", "FID (ours)"), ("reconstruction_error", "RE"),
                                        ("latent_mmd_x1000", "MMD×1000")]):
            ax.barh(y, summary[k], xerr=summary[k + "_sd"], color=["C0" if p == "gaussian" else "C1"
                                                                     for p in summary.get("prior", ["x"] * len(y))])
            ax.set_xlabel(name)
            ax.invert_yaxis() if ax is axes[0] else None
        axes[0].set_yticks(y, summary[label_col])
        fig.suptitle(title, fontsize=9)
    return fig


def fid_against_epochs(curves, title: str):
    """FID (mean over seeds, bar: their spread) against epochs, one line per row; a panel per prior."""
    with style():
        priors = list(dict.fromkeys(curves.prior))
        fig, axes = plt.subplots(1, len(priors), figsize=(WIDTH, 2.8), sharey=True, squeeze=False)
        for ax, prior in zip(axes[0], priors):
            for label, g in curves[curves.prior == prior].groupby("label", sort=False):
                by_epoch = g.groupby("epoch").fid
                ax.errorbar(by_epoch.mean().index, by_epoch.mean(), yerr=by_epoch.std().fillna(0.0), marker="o", ms=3,
                            capsize=2, label=label)
            ax.set(title=f"{prior} prior", xlabel="epoch", yscale="log")
            ax.legend(fontsize=6, ncol=2)
        axes[0][0].set_ylabel("FID (log scale)")
        fig.suptitle(title, fontsize=9)
    return fig


def tau_by_epoch(orders: dict, title: str):
    """Kendall's τ of the FID ordering against the paper's, per recorded epoch, one line per sweep
    (``orders[name]``: :func:`sae.studies.comparison.ordering_by_epoch`'s Ordering)."""
    with style():
        fig, ax = plt.subplots(figsize=(WIDTH * 0.6, 2.6))
        for name, order in orders.items():
            ax.plot([e.epoch for e in order.epochs], [e.tau_paper for e in order.epochs], marker="o", ms=3, label=name)
        ax.axhline(0, color="0.6", lw=0.8)
        ax.set(xlabel="epoch", ylabel="Kendall τ vs the paper", ylim=(-0.2, 1.0), title=title)
        ax.legend(fontsize=7)
    return fig


# --------------------------------------------------------------------------- latent-geometry chapters

def forest(intervals, title: str = ""):
    """Every tested quantity with its interval, one panel per claim (own scale): the dot and bar are
    ours, the dashed line what the verdict judges against, a red cross the paper's value."""
    claims = list(dict.fromkeys((i.claim, i.unit) for i in intervals))      # a panel per claim and scale
    heights = [sum((i.claim, i.unit) == c for i in intervals) + 0.8 for c in claims]
    fig, axes = plt.subplots(len(claims), 1, figsize=(WIDTH, 0.32 * sum(heights) + 0.4 * len(claims) + 0.6),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, (c, unit) in zip(axes[:, 0], claims):
        rows = [i for i in intervals if (i.claim, i.unit) == (c, unit)]
        y = np.arange(len(rows))[::-1]
        for yi, r in zip(y, rows):
            ax.plot([r.lo, r.hi], [yi, yi], color="C0", lw=2)
            ax.plot([r.estimate], [yi], "o", color="C0", ms=5)
            if r.paper is not None:
                ax.plot([r.paper], [yi], "x", color="C3", ms=7, mew=2)
        ax.axvline(rows[0].reference, color="0.4", ls="--", lw=1)
        ax.set_yticks(y, [r.label for r in rows], fontsize=8)
        ax.set_ylim(-0.7, len(rows) - 0.3)
        ax.set_title(f"claim {c} ({rows[0].evidence})", fontsize=9, loc="left")
        ax.tick_params(axis="x", labelsize=8)
        ax.set_xlabel(rows[0].unit, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def tsne_panels(panels: dict, colorbar: str = "digit", height: float = 3.2):
    """One t-SNE scatter per entry: ``panels[title] = (embedding (n, 2), labels (n,))``, coloured by class."""
    with style():
        fig, axes = plt.subplots(1, len(panels), figsize=(WIDTH, height), squeeze=False)
        for ax, (title, (emb, lab)) in zip(axes[0], panels.items()):
            sc = ax.scatter(*np.asarray(emb).T, c=np.asarray(lab), cmap="tab10", s=3, vmin=-0.5, vmax=9.5)
            ax.set(title=title, xticks=[], yticks=[])
        fig.colorbar(sc, ax=list(axes[0]), ticks=range(10), label=colorbar)
    return fig


def posterior_vs_prior(emb_codes, emb_prior, profile_codes, profile_prior, title: str = ""):
    """Left: joint t-SNE of codes (red) and prior draws (blue), ICLR Fig. 3c. Right: the mean
    sorted-coordinate profile of each (how much mass the largest, second, … coordinate holds)."""
    with style():
        fig, (a, b) = plt.subplots(1, 2, figsize=(WIDTH, 3.0), gridspec_kw={"width_ratios": [1.2, 1]})
        a.scatter(*np.asarray(emb_prior).T, s=3, c="tab:blue", alpha=0.5, label="prior draws")
        a.scatter(*np.asarray(emb_codes).T, s=3, c="tab:red", alpha=0.5, label="test codes (aggregated posterior)")
        a.set(xticks=[], yticks=[], title="joint t-SNE")
        a.legend(loc="lower left", markerscale=3)
        k = np.arange(1, len(profile_codes) + 1)
        b.plot(k, profile_prior, "o-", c="tab:blue", label="prior")
        b.plot(k, profile_codes, "s-", c="tab:red", label="test codes")
        b.set(xlabel="rank of the coordinate", ylabel="mean value", yscale="log", title="sorted-coordinate profile")
        b.legend()
        if title:
            fig.suptitle(title, fontsize=9)
    return fig


def crispness(df, summary, title: str = ""):
    """Classifier confidence of decoded prior samples against their vertexness (binned means),
    with the exact vertices marked."""
    with style():
        fig, ax = plt.subplots(figsize=(WIDTH * 0.7, 2.6))
        s = df[~df.vertex]
        bins = np.quantile(s.vertexness, np.linspace(0, 1, 11))
        idx = np.clip(np.digitize(s.vertexness, bins[1:-1]), 0, 9)
        mids = [s.vertexness[idx == i].mean() for i in range(10)]
        ax.plot(mids, [s.confidence[idx == i].mean() for i in range(10)], "o-", label="prior samples (deciles)")
        v = df[df.vertex]
        ax.plot(v.vertexness, v.confidence, "k^", alpha=0.6, label="exact vertices")
        ax.set(xlabel="vertexness of z (largest coordinate)", ylabel="classifier confidence",
               title=title or f"Crispness vs vertexness (Spearman ρ = {summary.spearman_confidence:.2f})")
        ax.legend(loc="lower right")
    return fig


def localisation(canvases, boxes: dict, n: int = 8):
    """Canvases with the digit box of each placement in ``boxes[name]`` ((B, 4) left, top, w, h in
    pixel units, pixel edges at integers) drawn over them."""
    from matplotlib.patches import Rectangle

    colours = ["tab:green", "tab:red", "tab:orange"]
    with style():
        fig, axes = plt.subplots(1, n, figsize=(WIDTH, WIDTH / n + 0.45), constrained_layout=False)
        for i, ax in enumerate(axes):
            ax.imshow(canvases[i, 0], cmap="gray", vmin=0, vmax=1)
            for c, (name, b) in zip(colours, boxes.items()):
                left, top, w, h = (float(v) for v in b[i])
                ax.add_patch(Rectangle((left - 0.5, top - 0.5), w, h, fill=False, ec=c, lw=1.2,
                                       label=name if i == 0 else None))
            ax.set(xticks=[], yticks=[])
            ax.grid(False)
        fig.legend(loc="lower center", ncol=len(boxes), frameon=False)
        fig.subplots_adjust(left=0.01, right=0.99, top=0.99, bottom=0.2, wspace=0.05)
    return fig


def where_scatter(true, found, names=("scale", "x", "y")):
    """Found against true z_where, one panel per coordinate, with the identity line."""
    true, found = np.asarray(true), np.asarray(found)
    with style():
        fig, axes = plt.subplots(1, true.shape[1], figsize=(WIDTH, 2.4))
        for k, ax in enumerate(axes):
            ax.scatter(true[:, k], found[:, k], s=2, alpha=0.5)
            ax.plot([-3, 3], [-3, 3], "k:", lw=0.8)
            r = np.corrcoef(true[:, k], found[:, k])[0, 1]
            ax.set(xlabel=f"true z_where[{names[k]}]", ylabel="found" if k == 0 else None, title=f"r = {r:.2f}",
                   xlim=(-3.2, 3.2), ylim=(-3.2, 3.2), aspect="equal")
    return fig


# --------------------------------------------------------------------------- theory chapter

def min_min_bound(bound, monge):
    """Left: both sides of the min-min bound for random encoders (``bound``: theory.BoundStudy) and
    the Monge encoder (``monge``: its theory.Terms, on the equality line). Right: the relative slack,
    never below 0."""
    with style():
        fig, ax = plt.subplots(1, 2, figsize=(WIDTH, 2.6))
        ax[0].scatter(bound.w_data, bound.rhs, s=6, alpha=0.6, label="random encoders")
        ax[0].scatter([monge.W_data], [monge.rhs], marker="*", s=120, c="C3", label="Monge encoder")
        lim = [0, float(np.quantile(bound.rhs, 0.95))]
        ax[0].plot(lim, lim, "k--", lw=0.8, label="equality")
        ax[0].set(xlabel=r"$W_p(P_X, P_G)$", ylabel=r"rec$^{1/p}$ + $\gamma W_p(Q_Z, P_Z)$", xlim=(0, None),
                  ylim=(0, lim[1]))
        ax[0].legend()
        ax[1].hist(bound.slack / bound.w_data, bins=40)
        ax[1].set(xlabel="relative slack (right side / left side − 1)", ylabel="count", title="never below 0")
    return fig


def deterministic_encoders(suff, gamma: float):
    """Excess objective J(Q) − W_p against the encoder's L^p distance to the Monge map, with 2γ·error
    (``suff``: theory.Sufficiency)."""
    with style():
        fig, ax = plt.subplots(figsize=(WIDTH * 0.7, 2.6))
        ax.loglog(suff.lp_error, suff.J - suff.W, "o-", label=r"$J(Q) - W_p(P_X,P_G)$")
        ax.loglog(suff.lp_error, 2 * gamma * suff.lp_error, "k--", label=r"$2\gamma\,\|Q-Q^\star\|_{L^p}$")
        ax.set(xlabel=r"$\|Q - Q^\star\|_{L^p(P_X)}$", ylabel="excess objective",
               title="Deterministic encoders approaching the Monge map")
        ax.legend()
    return fig


# --------------------------------------------------------------------------- ablation and geometry chapters

def step_time(wide):
    """Seconds per latent step (forward + backward) against batch size, SAE vs HAE."""
    with style():
        fig, ax = plt.subplots(figsize=(WIDTH * 0.7, 2.6))
        for m, mk in (("sae", "o-"), ("hae", "s-")):
            ax.loglog(wide.index, wide[m], mk, label={"sae": "SAE (Sinkhorn, L=50)", "hae": "HAE (exact OT)"}[m])
        ax.set(xlabel="batch size M", ylabel="seconds per latent step", title="Latent loss, forward + backward")
        ax.legend()
    return fig


def swiss_roll_embeddings(x, position, embeddings: dict, baselines: dict, curves: dict):
    """Top: the 3-D Swiss roll and its codes on the square (2-D) and the sphere (3-D); bottom: PCA
    and Isomap of the same points, and the encoders' training loss. Colour: position on the roll."""
    with style():
        fig = plt.figure(figsize=(WIDTH, 5.0))
        ax = fig.add_subplot(2, 3, 1, projection="3d")
        ax.scatter(*np.asarray(x).T, c=position, s=2, cmap="viridis")
        ax.set_title("Swiss roll (colour: position)")
        ax = fig.add_subplot(2, 3, 2)
        ax.scatter(*np.asarray(embeddings["box"]).T, c=position, s=2, cmap="viridis")
        ax.set(title="Sinkhorn encoder, square prior", aspect="equal")
        ax = fig.add_subplot(2, 3, 3, projection="3d")
        ax.scatter(*np.asarray(embeddings["sphere"]).T, c=position, s=2, cmap="viridis")
        ax.set_title("Sinkhorn encoder, sphere prior")
        for i, (name, emb) in enumerate(baselines.items()):
            ax = fig.add_subplot(2, 3, 4 + i)
            ax.scatter(*np.asarray(emb).T, c=position, s=2, cmap="viridis")
            ax.set(title=f"{name} (for comparison)", xticks=[], yticks=[])
        ax = fig.add_subplot(2, 3, 6)
        for prior, loss in curves.items():
            ax.plot(np.arange(1, len(loss) + 1), loss, label={"box": "square"}.get(prior, prior))
        ax.set(title="training loss (Sinkhorn term)", xlabel="epoch", yscale="log")
        ax.legend(fontsize=7)
        fig.subplots_adjust(left=0.04, right=0.98, top=0.93, bottom=0.08, hspace=0.35, wspace=0.3)
    return fig


def gaussian_shell(norms: dict):
    """Histograms of ‖z‖ for z ~ N(0, I_d), one per d, with √d marked."""
    with style():
        fig, ax = plt.subplots(figsize=(WIDTH * 0.7, 2.4))
        for d, r in norms.items():
            ax.hist(r, bins=60, density=True, alpha=0.6, label=f"d = {d}")
            ax.axvline(np.sqrt(d), color="k", lw=0.6)
        ax.set(xlabel=r"$\|z\|$ for $z \sim N(0, I_d)$ (lines: $\sqrt{d}$)", ylabel="density", title="The Gaussian shell")
        ax.legend()
    return fig


def variance_vs_dim(wide):
    """Mean per-dimension code variance against latent dimension, one line per method."""
    with style():
        fig, ax = plt.subplots(figsize=(WIDTH * 0.7, 2.6))
        for m in wide.columns:
            ax.plot(wide.index, wide[m], "o-", label=m.upper())
        ax.axhline(1.0, color="k", ls=":", lw=0.8, label="prior variance")
        ax.set(xscale="log", xlabel="latent dimension d", ylabel="mean per-dimension code variance",
               title="Learned code variance, Gaussian prior (MNIST)")
        ax.legend()
    return fig
