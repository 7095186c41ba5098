"""The probabilistic-programming toy (ICLR §6.5) as a study: the toy's run at each β, and its
localisation numbers. The program itself (spatial transformers, networks) is
:mod:`sae.models.whatwhere`; the canvas data set is ``mnist_canvas`` in :mod:`sae.engine.data`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import pandas as pd
import torch

from ..engine.config import make_config
from ..engine.data import SALT, Dataset, load
from ..engine.metrics import embed
from ..engine.profiles import sizes
from ..engine.store import get_or_train
from ..models.whatwhere import CANVAS, WHAT_DIM, WHERE_DIM, box_corners, glimpse

__all__ = ["config", "study", "ProbprogStudy", "reconstructions", "traversal", "BETAS", "SALT", "CANVAS",
           "box_corners", "glimpse"]

def config(profile: str, seed: int = 0, beta: float | None = None):
    """The toy's run: SAE with the what/where prior (10 + 3 dimensions) on the digit canvas."""
    extra = {"beta": beta} if beta is not None else {}
    return make_config(profile, "sae_whatwhere", "whatwhere", "mnist_canvas", latent_dim=WHAT_DIM + WHERE_DIM, seed=seed,
                       train={"epochs": sizes("probprog", profile).epochs}, **extra)


BETAS = (10.0, 100.0)     # ours, and SAE's MNIST value


@dataclass
class ProbprogStudy:
    table: pd.DataFrame          # one row of localisation and reconstruction numbers per β
    runs: dict                   # β -> run
    data: Dataset                # the canvases, with the true placements in ``extras``
    model: object                # the model of the first β (ours), trained
    codes: torch.Tensor          # its deterministic test codes

    @property
    def run(self):
        return self.runs[BETAS[0]]

    def where(self) -> torch.Tensor:
        return self.model.prior.split(self.codes)[1]


@dataclass(frozen=True)
class Localisation:
    """How well the encoder's z_where finds the digit (what the what/where model's evaluation adds to
    a run's metrics, :func:`sae.models.whatwhere.localisation`): the mean error of the box
    centre in pixels and of its scale (relative), the correlations of z_where with the true pose,
    and two baselines that know nothing of the digit (the noisy canvas's centre of mass, the
    canvas centre)."""
    centre_error_px: float
    scale_error_rel: float
    where_corr_x: float
    where_corr_y: float
    where_corr_scale: float
    baseline_com_error_px: float
    baseline_centre_error_px: float

    @classmethod
    def of(cls, metrics) -> "Localisation":
        return cls(**{f.name: metrics.extra[f.name] for f in fields(cls)})


def study(profile: str, seed: int = 0) -> ProbprogStudy:
    """Train (or reload) the toy at each β of BETAS; one row of metrics per run, the runs, and the
    test codes of the first β's model."""
    runs = {b: get_or_train(config(profile, seed, b), progress=False) for b in BETAS}
    table = pd.DataFrame([{"beta": b, **asdict(Localisation.of(r.metrics)), "reconstruction_error":
                           r.metrics.reconstruction_error, "latent_ot": r.metrics.latent_ot,
                           "train_seconds": r.metrics.provenance.train_seconds} for b, r in runs.items()])
    run = runs[BETAS[0]]
    data = load(run.cfg.data)
    model = run.model()
    return ProbprogStudy(table, runs, data, model, embed(model, data.x_test))


@torch.no_grad()
def reconstructions(st: ProbprogStudy, n: int = 10, seed: int = 4) -> tuple[dict, torch.Tensor]:
    """Test canvases, their reconstructions, the glimpses the encoder cropped and the digits its
    z_what decodes to; and 20 samples of the program."""
    what, where = st.model.prior.split(st.codes[:n])
    x = st.data.x_test[:n]
    rows = {"data": x, "reconstruction": st.model.decode(st.codes[:n]), "glimpse": glimpse(x, where),
            "decoded z_what": st.model.decoder.patch(what)}
    samples = st.model.decode(st.model.prior.sample(20, torch.Generator().manual_seed(seed)))
    return rows, samples


@torch.no_grad()
def traversal(st: ProbprogStudy, steps: int = 8, seed: int = 5) -> dict:
    """One z_what at poses from −2 to 2 along each z_where coordinate, then different z_what at the
    mean pose."""
    prior = st.model.prior
    g = torch.Generator().manual_seed(seed)
    w0 = prior.split(prior.sample(1, g))[0]
    grid = torch.linspace(-2, 2, steps)
    rows = {}
    for k, name in enumerate(("scale", "x", "y")):
        pose = torch.zeros(steps, prior.where_dim)
        pose[:, k] = grid
        rows[f"vary {name}"] = st.model.decode(torch.cat([w0.expand(steps, -1), pose], 1))
    rows["vary z_what"] = st.model.decode(torch.cat([prior.split(prior.sample(steps, g))[0],
                                                     torch.zeros(steps, prior.where_dim)], 1))
    return rows
