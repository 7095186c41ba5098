"""How much the FID protocol, not the training, decides what FID says on MNIST.

The paper's MNIST FIDs come from "features of a 2-layer convolutional network" (ICLR; the UAI
protocol is unknown), without sample sizes or how a decoder's output becomes an image. Before the
verdicts trust one protocol, this study measures, with our DigitCNN, for every model of the
comparison table (seed 0):

* what is scored: prior samples decoded as Bernoulli **means** (the protocol of the verdicts),
  the same means **thresholded** at 0.5, a Bernoulli **sample** of them, and **reconstructions**
  of the test digits;
* with which features: the 128-unit hidden layer (the protocol of the verdicts) or the 10 logits;
* against which floors: training digits against the test digits, binarised test digits against
  the test digits (same network, same sample size);

each FID with its bootstrap standard error, and Kendall's τ between the models' orderings under
every pair of protocols. The verdicts keep Bernoulli means with the 128-unit features, chosen
before any comparison with the paper: they are the images the decoder defines and the ICLR text's
feature network.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import torch
from scipy.stats import kendalltau
from torch import nn

from ..engine.config import DataConfig
from ..engine.data import load
from ..engine.fid import mnist_feature_net
from ..engine.metrics import PR_K, binarise, fid
from ..engine.profiles import sizes
from ..engine.store import get_or_train
from ..engine.sweeps import configs
from ..utils import repo_root

WHAT = ("Bernoulli means", "thresholded at 0.5", "Bernoulli samples", "reconstructions")
VERDICT_PROTOCOL = ("Bernoulli means", "128-unit features")


class _Logits(nn.Module):
    """The classifier's 10 logits as an alternative feature layer."""

    def __init__(self, cnn):
        super().__init__()
        self.cnn = cnn

    def forward(self, x):
        return self.cnn(x)


@dataclass(frozen=True)
class Fid:
    """What :func:`sae.engine.metrics.fid` returns, typed: the FID, the sample sizes, the bootstrap
    standard error (with ``n_boot``) and, with ``pr_k``, precision and recall."""
    fid: float
    n_real: int
    n_fake: int
    se: float = math.nan
    n_boot: int = 0
    precision: float = math.nan
    recall: float = math.nan
    pr_k: int | None = None


def _fid(*args, **kwargs) -> Fid:
    return Fid(**fid(*args, **kwargs))


@dataclass
class FidProtocolStudy:
    table: pd.DataFrame          # one line per (model, what, layer): fid, se
    floors: pd.DataFrame         # real against real, per layer
    tau: pd.DataFrame            # Kendall τ between the orderings of every pair of protocols
    n_real: int
    n_fake: int
    n_boot: int                  # bootstrap resamplings behind each se

    def wide(self) -> pd.DataFrame:
        """FID ± se per model (rows) and protocol (columns)."""
        t = self.table.assign(cell=[f"{r.fid:.3g} ± {r.se:.2g}" for r in self.table.itertuples()])
        return t.pivot_table(index=["label", "prior"], columns=["layer", "what"], values="cell", aggfunc="first",
                             sort=False)


@torch.no_grad()
def _images(model, what: str, x_test: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    model.eval()
    if what == "reconstructions":
        return model.decode(model.embed(binarise(x_test)))
    means = model.decode(model.prior.sample(len(x_test), g))
    if what == "thresholded at 0.5":
        return (means > 0.5).float()
    if what == "Bernoulli samples":
        return torch.bernoulli(means, generator=g)
    return means


def study(profile: str, seed: int = 0) -> FidProtocolStudy:
    """Every protocol for every comparison model of seed ``seed`` (reloaded from the store), each
    FID with a bootstrap standard error over the profile's ``protocol_boot`` resamplings."""
    n_boot = sizes("comparison", profile).protocol_boot
    runs = configs("table", profile, [seed])
    data_cfg = runs[0][1].data
    digits, full = load(data_cfg), load(replace(data_cfg, n_train=None, n_test=None))
    hidden, _ = mnist_feature_net(full)
    layers = {"128-unit features": hidden, "10 logits": _Logits(hidden.cnn).eval()}
    real = digits.x_test
    floors = []
    for layer, net in layers.items():
        for name, ref in (("training digits", full.x_train[:len(real)]), ("binarised test digits", binarise(real, 99))):
            f = _fid(net, real, ref, n_boot=n_boot, seed=seed)
            floors.append({"layer": layer, "against the test digits": name, "fid": f.fid, "se": f.se})
    rows = []
    for row, cfg in runs:
        model = get_or_train(cfg, progress=False).model()
        for what in WHAT:
            fake = _images(model, what, real, torch.Generator().manual_seed(seed + 7))
            for layer, net in layers.items():
                f = _fid(net, real, fake, n_boot=n_boot, seed=seed)
                rows.append({"label": row.label, "prior": row.prior, "what": what, "layer": layer, "fid": f.fid,
                             "se": f.se})
    table = pd.DataFrame(rows)
    cols = table.pivot_table(index=["label", "prior"], columns=["what", "layer"], values="fid", sort=False)
    names = [f"{w} / {lay}" for w, lay in cols.columns]
    tau = pd.DataFrame([[kendalltau(cols[a], cols[b])[0] for b in cols.columns] for a in cols.columns],
                       index=names, columns=names)
    return FidProtocolStudy(table, pd.DataFrame(floors), tau, len(real), len(real), n_boot)


REAL_FLOOR = "real-floor-{dataset}.json"       # stored under results/stored/


@dataclass(frozen=True)
class FloorRow:
    """Real digits against the test digits (``against``: which real digits), in the verdicts'
    features: FID ± se, precision and recall, the sample sizes and the feature network."""
    against: str
    fid: float
    fid_se: float
    precision: float
    recall: float
    pr_k: int
    n_real: int
    n_fake: int
    network: str
    network_test_accuracy: float


@dataclass(frozen=True)
class StoredFloor:
    """``python -m sae floor``'s stored record: its rows, command, commit, machine and seconds."""
    rows: list[FloorRow]
    command: str
    commit: str
    machine: dict
    seconds: float

    @classmethod
    def from_json(cls, d: dict) -> "StoredFloor":
        d = dict(d)
        # written before the rows were typed, the first field was named for a reader
        rows = [FloorRow(**{("against" if k == "against the test digits" else k): v for k, v in r.items()})
                for r in d.pop("rows")]
        return cls(rows, **d)


def real_floor(dataset: str = "mnist_full", n_boot: int = 30, seed: int = 0) -> list[FloorRow]:
    """What real digits score against the test digits, in the verdicts' features (the 128-unit
    layer of the DigitCNN trained on ``dataset``): FID ± se and precision and recall (k =
    :data:`sae.engine.metrics.PR_K`) of as many training digits as test digits, and of the test
    digits binarised. A model cannot be expected to beat these; they set the scale of every
    sample-quality number of the comparison."""
    data = load(DataConfig(name=dataset, n_train=None, n_test=None))
    net, info = mnist_feature_net(data)
    real = data.x_test
    out = []
    for name, ref in (("training digits", data.x_train[:len(real)]), ("binarised test digits", binarise(real, 99))):
        f = _fid(net, real, ref, n_boot=n_boot, seed=seed, pr_k=PR_K)
        out.append(FloorRow(name, f.fid, f.se, f.precision, f.recall, f.pr_k, f.n_real, f.n_fake, info["network"],
                            info["test_accuracy"]))
    return out


def stored_real_floor(dataset: str = "mnist_full", stored: Path | None = None) -> StoredFloor | None:
    """The stored :func:`real_floor` record (rows and provenance), or None when none is stored."""
    path = (Path(stored) if stored is not None else repo_root() / "results" / "stored") / REAL_FLOOR.format(dataset=dataset)
    return StoredFloor.from_json(json.loads(path.read_text())) if path.exists() else None
