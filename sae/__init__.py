"""sae: the package behind the Sinkhorn AutoEncoders companion book.

Layers, each importing only those above it in this list (``tests/test_architecture.py`` checks):

* :mod:`sae.utils` - repository paths and provenance;
* :mod:`sae.ot` - cost matrices, the Sinkhorn solver, sample-level OT losses;
* :mod:`sae.models` - priors, networks, the generative autoencoders (each declares its facts);
* :mod:`sae.engine` - profiles, configs, data, training, the results store, metrics, FID;
* :mod:`sae.studies` - one module per chapter, returning the results the chapter shows;
* :mod:`sae.report` - verdicts on the paper's claims from those results;
* :mod:`sae.plotting` - figures (imports only :mod:`sae.utils` and the profile names).

The solver's public surface is flat here, as POT's ``ot.*``.
"""
from .engine.profiles import default_profile, sizes
from .ot import (
                 ConvergenceWarning,
                 SinkhornDivergenceResult,
                 SinkhornLoss,
                 SinkhornResult,
                 cost_matrix,
                 exact_ot,
                 exact_plan,
                 round_plan,
                 sinkhorn,
                 sinkhorn_cost,
                 sinkhorn_divergence,
)
from .utils import repo_root

__version__ = "0.2.0"

__all__ = [
    "cost_matrix", "sinkhorn", "SinkhornResult", "ConvergenceWarning", "round_plan",
    "sinkhorn_cost", "sinkhorn_divergence", "SinkhornDivergenceResult", "SinkhornLoss", "exact_ot", "exact_plan",
    "default_profile", "sizes", "repo_root", "__version__",
]
