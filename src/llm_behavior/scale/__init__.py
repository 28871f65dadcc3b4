"""Scoring and auditing of large score sets on Dask (docs/scale.md)."""
