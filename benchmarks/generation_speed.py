"""Generation throughput: the pipeline's batched loop vs naive one-prompt-at-a-time generate.

Prints tokens/s for (1) a naive loop of ``model.generate`` per prompt, (2) HF batched
``generate`` and (3) the project's batched, KV-cached, length-sorted loop, on the same prompts
and model (packaged SmolLM2-135M-Instruct, fp32, greedy), plus the share of a CPU matmul
roofline (tokens/s x 2 x params / measured GEMM FLOP/s) and the share of greedy texts identical
to the naive loop's.

    .venv/bin/python benchmarks/generation_speed.py [--prompts 32] [--new-tokens 32] [--batch 16 32]
"""

from __future__ import annotations

import argparse
import time

import torch

from llm_behavior.models import GenerationSettings, load_language_model
from llm_behavior.prompts import load_prompt_set


def gemm_flops(n: int = 1024, reps: int = 10) -> float:
    """Measured fp32 GEMM FLOP/s of torch on this machine (square n x n matmuls)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(2):
        a @ b
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t0)


def naive(lm, prompts: list[str], new_tokens: int) -> tuple[list[str], int, float]:
    tok, model = lm.tokenizer, lm.model
    texts, n_tokens = [], 0
    t0 = time.perf_counter()
    for p in prompts:
        enc = tok(lm.format_prompt(p), add_special_tokens=False, return_tensors="pt")
        with torch.inference_mode():
            out = model.generate(
                **enc, max_new_tokens=new_tokens, do_sample=False, pad_token_id=tok.pad_token_id
            )
        new = out[0, enc["input_ids"].shape[1] :].tolist()
        cut = next((j for j, t in enumerate(new) if t in lm.eos_ids), None)
        kept = new if cut is None else new[:cut]
        n_tokens += len(kept) + (0 if cut is None else 1)
        texts.append(tok.decode(kept, skip_special_tokens=True))
    return texts, n_tokens, time.perf_counter() - t0


def hf_batched(lm, prompts: list[str], new_tokens: int, batch: int) -> tuple[int, float]:
    tok, model = lm.tokenizer, lm.model
    tok.padding_side = "left"
    n_tokens = 0
    t0 = time.perf_counter()
    for s in range(0, len(prompts), batch):
        enc = tok(
            [lm.format_prompt(p) for p in prompts[s : s + batch]],
            add_special_tokens=False,
            return_tensors="pt",
            padding=True,
        )
        with torch.inference_mode():
            out = model.generate(
                **enc, max_new_tokens=new_tokens, do_sample=False, pad_token_id=tok.pad_token_id
            )
        new = out[:, enc["input_ids"].shape[1] :]
        for row in new.tolist():
            cut = next((j for j, t in enumerate(row) if t in lm.eos_ids), None)
            n_tokens += len(row) if cut is None else cut + 1
    return n_tokens, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--batch", type=int, nargs="+", default=[16, 32])
    ap.add_argument("--model", default="smollm2-135m-instruct")
    args = ap.parse_args()

    lm = load_language_model({"source": args.model})
    params = sum(p.numel() for p in lm.model.parameters())
    prompts = list(load_prompt_set("toxicity", n_prompts=args.prompts, seed=0)["prompt"])
    flops = gemm_flops()
    roofline = flops / (2 * params)
    print(
        f"model {args.model}: {params / 1e6:.1f}M params | torch threads {torch.get_num_threads()} "
        f"| GEMM {flops / 1e9:.1f} GFLOP/s -> roofline {roofline:.0f} tok/s"
    )
    print(
        f"{'method':<28}{'batch':>6}{'tokens':>8}{'seconds':>9}{'tok/s':>8}"
        f"{'% roofline':>12}{'speed-up':>10}{'same text':>11}"
    )
    ref_texts, n, dt = naive(lm, prompts, args.new_tokens)
    base = n / dt
    print(
        f"{'naive generate loop':<28}{1:>6}{n:>8}{dt:>9.1f}{base:>8.1f}"
        f"{100 * base / roofline:>11.1f}%{1:>9.1f}x{'-':>11}"
    )
    for batch in args.batch:
        n, dt = hf_batched(lm, prompts, args.new_tokens, batch)
        print(
            f"{'HF batched generate':<28}{batch:>6}{n:>8}{dt:>9.1f}{n / dt:>8.1f}"
            f"{100 * n / dt / roofline:>11.1f}%{n / dt / base:>9.1f}x{'-':>11}"
        )
        settings = GenerationSettings(
            max_new_tokens=args.new_tokens, do_sample=False, batch_size=batch
        )
        t0 = time.perf_counter()
        gens = lm.generate(prompts, settings)
        dt = time.perf_counter() - t0
        n = sum(g.n_new_tokens for g in gens)
        same = sum(g.text == r for g, r in zip(gens, ref_texts)) / len(prompts)
        print(
            f"{'llm_behavior generate':<28}{batch:>6}{n:>8}{dt:>9.1f}{n / dt:>8.1f}"
            f"{100 * n / dt / roofline:>11.1f}%{n / dt / base:>9.1f}x{100 * same:>10.0f}%"
        )


if __name__ == "__main__":
    main()
