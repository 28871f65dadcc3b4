"""Contrastive search: where do the reference and candidate models diverge? (see
docs/contrastive_search.md)"""

from llm_behavior.pipelines.contrastive_search.pipeline import create_pipeline

__all__ = ["create_pipeline"]
