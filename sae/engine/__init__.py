"""The experiment engine: profiles, configs, data, training, the results store, metrics, FID.

Imports :mod:`sae.models` and :mod:`sae.ot` below it, never the studies above.
"""
