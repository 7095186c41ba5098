"""The paper's numbers, typed, with where each table was read (``paper/numbers.json``)."""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources

from ..engine.store import known_fields


@dataclass(frozen=True)
class TableRow:
    """A row of UAI Table 1 (FID on MNIST and CelebA) or ICLR Table 2 (MMD×1000, RE, FID on
    MNIST); None where that table does not give the number."""
    method: str
    prior: str
    label: str
    mnist_fid: float | None = None
    celeba_fid: float | None = None
    beta: float | None = None
    mnist_mmd: float | None = None
    mnist_re: float | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.prior


@dataclass(frozen=True)
class AblationRow:
    """A row of ICLR Table 1: solver, target assignment and β, with MNIST MMD×1000, RE and FID."""
    solver: str
    assignment: str
    beta: float
    mnist_mmd: float | None
    mnist_re: float | None
    mnist_fid: float | None

    @property
    def key(self) -> tuple[str, str, float]:
        return self.solver, self.assignment, float(self.beta)


@dataclass(frozen=True)
class PaperNumbers:
    uai_table1: list[TableRow]
    iclr_table2: list[TableRow]
    iclr_table1: list[AblationRow]
    provenance: dict[str, str]           # table → where and how it was read

    def uai_fid(self) -> dict[tuple[str, str], float]:
        """UAI Table 1's MNIST FID per (method, prior)."""
        return {r.key: r.mnist_fid for r in self.uai_table1}

    def iclr(self, method: str, prior: str) -> TableRow:
        """ICLR Table 2's row of (method, prior)."""
        return next(r for r in self.iclr_table2 if r.key == (method, prior))

    def ablation_fid(self) -> dict[tuple[str, str, float], float]:
        """ICLR Table 1's MNIST FID per (solver, assignment, β)."""
        return {r.key: r.mnist_fid for r in self.iclr_table1}


@functools.lru_cache(maxsize=None)
def paper_numbers() -> PaperNumbers:
    """The paper's numbers (sae/studies/paper/numbers.json), typed."""
    d = json.loads(resources.files("sae.studies").joinpath("paper/numbers.json").read_text())
    return PaperNumbers([TableRow(**known_fields(TableRow, r)) for r in d.pop("uai_table1")],
                        [TableRow(**known_fields(TableRow, r)) for r in d.pop("iclr_table2")],
                        [AblationRow(**known_fields(AblationRow, r)) for r in d.pop("iclr_table1")], d.pop("_provenance"))
