"""Priors, networks and the generative autoencoders; imports only :mod:`sae.ot` below it.

Models and priors register themselves (:data:`MODELS`, :data:`PRIORS`) with the facts the engine
needs, so the layers above never branch on a model's or a prior's name.
"""
from .autoencoders import MODELS, Autoencoder, build_model
from .priors import PRIORS, Prior, make_prior

__all__ = ["MODELS", "PRIORS", "Autoencoder", "Prior", "build_model", "make_prior"]
