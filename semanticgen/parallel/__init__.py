"""Parallelism across GPUs beyond data parallelism: context (sequence) parallelism that follows the Swin windows.

- :mod:`.comm`: the context group and its differentiable collectives (one uneven all-to-all).
- :mod:`.sequence`: one sample's tokens split over the context ranks on window boundaries.
- :mod:`.attention`: attention on the split sequence (local windows, halo exchange, Ulysses).
- :mod:`.mesh`: the data × context layout of the ranks; switching a model to context parallelism.
- :mod:`.memory`, :mod:`.plan`: the analytic memory model and the resolved training plan (``--dry-run``).
"""
