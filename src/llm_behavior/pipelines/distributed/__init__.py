"""Distributed pipeline: scoring and the audit's
reductions on Dask, for large generation/score sets."""

from llm_behavior.pipelines.distributed.pipeline import create_pipeline

__all__ = ["create_pipeline"]
