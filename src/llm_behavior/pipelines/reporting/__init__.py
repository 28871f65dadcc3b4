"""Reporting pipeline: the run's HTML report and the metrics logged to the tracking store."""

from llm_behavior.pipelines.reporting.pipeline import create_pipeline

__all__ = ["create_pipeline"]
