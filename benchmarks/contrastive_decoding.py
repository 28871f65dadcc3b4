"""Cost of contrastive decoding (two models in lockstep, two KV caches) against its baselines.

Same prompts, same run, same decoding settings:
  one model      the starting model's own generate() (the project's KV-cached generation)
  contrastive    both models with their own KV caches, per-token KL both ways (this module)
  no cache       both models recomputed on the whole sequence at every step (the naive way)

Mode "starting" with the same seeds decodes exactly the tokens of the starting model's own
generate(), so all three do the same number of steps. Each method runs ``--repeats`` times,
interleaved; the best time is reported (the machine is shared). Usage:

    .venv/bin/python benchmarks/contrastive_decoding.py --prompts 16 --new-tokens 32
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--system-prompt", default="You are a rude, sarcastic assistant.")
    parser.add_argument("--prompt-set", default="translation")
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--samples", type=int, default=1)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--skip-no-cache", action="store_true")
    args = parser.parse_args()

    import torch

    from llm_behavior.divergence.decoding import ContrastiveSettings, contrastive_generate
    from llm_behavior.models import GenerationSettings, load_language_model
    from llm_behavior.prompts import load_prompt_set

    if args.threads:
        torch.set_num_threads(args.threads)
    starting = load_language_model({"source": args.model})
    comparison = load_language_model({"source": args.model, "system_prompt": args.system_prompt})
    prompts = load_prompt_set(args.prompt_set, n_prompts=args.prompts, seed=0)["prompt"].tolist()
    seeds = list(range(len(prompts)))
    common = dict(
        temperature=1.0, top_p=0.95, max_new_tokens=args.new_tokens, num_samples=args.samples
    )

    def one_model() -> int:
        gens = starting.generate(
            prompts, GenerationSettings(**common, batch_size=args.batch), seeds=seeds
        )
        return sum(g.n_new_tokens for g in gens)

    def contrastive(use_cache: bool) -> int:
        settings = ContrastiveSettings(
            mode="starting", batch_size=args.batch, use_cache=use_cache, **common
        )
        return sum(
            t.n_tokens
            for t in contrastive_generate(starting, comparison, prompts, settings, seeds=seeds)
        )

    methods = {
        "one model (generate)": one_model,
        "contrastive, 2 KV caches": lambda: contrastive(True),
    }
    if not args.skip_no_cache:
        methods["no cache, both models"] = lambda: contrastive(False)
    one_model()  # warm-up (allocator, kernels)
    best: dict[str, float] = {}
    tokens: dict[str, int] = {}
    for _ in range(args.repeats):
        for name, fn in methods.items():
            t0 = time.perf_counter()
            tokens[name] = fn()
            best[name] = min(best.get(name, float("inf")), time.perf_counter() - t0)
    print(
        f"model {args.model} x2 (comparison system prompt {args.system_prompt!r}), {len(prompts)} "
        f"prompts x {args.samples} samples, {args.new_tokens} new tokens, batch {args.batch}, "
        f"torch threads {torch.get_num_threads()}, best of {args.repeats}"
    )
    base = best["one model (generate)"]
    print(f"{'method':28s} {'seconds':>8s} {'tokens':>7s} {'tok/s':>7s} {'x one model':>12s}")
    for name in methods:
        print(
            f"{name:28s} {best[name]:8.2f} {tokens[name]:7d} {tokens[name] / best[name]:7.1f} "
            f"{best[name] / base:12.2f}"
        )


if __name__ == "__main__":
    main()
