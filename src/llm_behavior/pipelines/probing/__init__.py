"""Probing pipeline: per-layer probes of toxicity on both models of a pair, beside their
behaviour."""

from llm_behavior.pipelines.probing.pipeline import create_pipeline

__all__ = ["create_pipeline"]
