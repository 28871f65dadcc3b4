"""Profiling pipeline: per-model profiles (toxicity, text, bias, calibration, diversity, utility)
and their comparison."""

from llm_behavior.pipelines.profiling.pipeline import create_pipeline

__all__ = ["create_pipeline"]
