"""Depot: one citable, preserved record per natural-history specimen.

Two halves speak the same (Zenodo-compatible) HTTP API:

- :mod:`depot.deposit` turns a dataset into published records (the depositor);
- :mod:`depot.repository` is a self-hostable Zenodo-compatible repository (the server).

They share :mod:`depot.metadata`, the Zenodo deposit metadata model and its validation rules.
"""

__version__ = "0.1.0.dev0"
