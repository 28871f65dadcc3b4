"""Profiling benchmark: a full profile of SmolLM2-135M with the shipped default sizes, and batched
log-likelihood scoring vs one item at a time (the simplest baseline), in the same run.

    .venv/bin/python benchmarks/profiling.py                 # everything (several minutes on 2 cores)
    .venv/bin/python benchmarks/profiling.py --only-batching # the batching comparison only
    .venv/bin/python benchmarks/profiling.py --parts bias calibration --threads 1

Prints: wall time per part and its share of the total, the process's peak RSS after each part,
and, on the same requests in the same run: (A) CrowS-Pairs sentences and (B) multiple-choice options
(OpenBookQA + BBQ) scored by the simplest baseline (one request at a time, full forward pass,
log_softmax over the vocabulary at every position), by ``TransformersLM.loglikelihood`` at batch 1
and batched (the pure batching gain is the last column), and (B) with each item's context shared by
its options (the profile's default), with the largest difference from the baseline's results. The machine's load average is printed too: on a shared
machine, other processes slow every figure down.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parents[1]
PARTS = ("toxicity", "text", "bias", "calibration", "next_token", "diversity", "utility")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def naive_logprobs(lm, requests) -> list[tuple[float, int]]:
    """The simplest baseline: one request at a time, a full forward pass, log_softmax over the whole
    vocabulary at every position, then the continuation's tokens picked out. (logprob, n_tokens)."""
    import torch

    out = []
    with torch.inference_mode():
        for ctx, cont in requests:
            c, x = lm._encode_pair(ctx, cont)  # noqa: SLF001  (the backend's own tokenisation)
            logits = lm.model(input_ids=torch.tensor([c + x], device=lm.device)).logits[0]
            logp = torch.log_softmax(logits.float(), dim=-1)[len(c) - 1 : len(c) - 1 + len(x)]
            out.append((float(logp.gather(-1, torch.tensor(x)[:, None]).sum()), len(x)))
    return out


def _row(label: str, seconds: float, n: int, base: float, prev: float | None = None) -> None:
    extra = f"{prev / seconds:>10.1f}x" if prev else f"{'':>11}"
    print(f"{label:<46}{seconds:>9.2f}{n / seconds:>9.1f}{base / seconds:>9.1f}x{extra}")


def batching(lm, params: dict, n_pairs: int, n_mc: int) -> None:
    """Same requests, same run: the simplest baseline vs the backend's scoring at batch 1 and batched
    (pure batching gain) vs shared contexts for multiple-choice options."""
    import numpy as np

    from llm_behavior.profiles import data
    from llm_behavior.profiles.bias import bbq_context
    from llm_behavior.profiles.calibration import qa_context, score_options

    batch = int(params.get("batch_size", 16))
    lm.loglikelihood([("", "warm up")], batch_size=1)
    head = f"{'method':<46}{'seconds':>9}{'items/s':>9}{'vs naive':>10}{'vs batch 1':>11}"

    pairs = data.subsample(data.load_crows_pairs(), n_pairs, 0, stratify="bias_type")
    sentences = [("", s) for s in pairs["sent_more"]] + [("", s) for s in pairs["sent_less"]]
    naive, t_naive = _timed(lambda: naive_logprobs(lm, sentences))
    one, t_one = _timed(lambda: lm.loglikelihood(sentences, batch_size=1))
    many, t_many = _timed(lambda: lm.loglikelihood(sentences, batch_size=batch))
    diff = max(
        max(abs(a[0] - b.logprob), abs(a[0] - c.logprob)) for a, b, c in zip(naive, one, many)
    )
    n_tok = sum(n for _, n in naive)
    print(f"\nA. {len(sentences)} CrowS-Pairs sentences (independent requests, {n_tok} tokens)")
    print(head)
    _row("naive: one at a time, full forward + log_softmax", t_naive, len(sentences), t_naive)
    _row("loglikelihood, batch 1", t_one, len(sentences), t_naive)
    _row(f"loglikelihood, batch {batch}", t_many, len(sentences), t_naive, t_one)
    print(f"max |log-likelihood difference| vs naive {diff:.1e}")

    obqa = data.subsample(data.load_multiple_choice("openbookqa"), n_mc, 0)
    bbq = data.subsample(data.load_bbq(), n_mc, 0, stratify="ambiguous")
    contexts = [qa_context(q) for q in obqa["question"]] + [
        bbq_context(c, q) for c, q in zip(bbq["context"], bbq["question"])
    ]
    options = [list(o) for o in obqa["options"]] + [list(o) for o in bbq["options"]]
    reqs = [(c, " " + str(o).strip()) for c, opts in zip(contexts, options) for o in opts]
    n_opts = len(reqs)

    def naive_mc():
        means = iter([logprob / n for logprob, n in naive_logprobs(lm, reqs)])
        return [np.array([next(means) for _ in o]) for o in options]

    def run(bs, share):
        return score_options(lm, contexts, options, batch_size=bs, share_context=share)

    naive, t_naive = _timed(naive_mc)
    one, t_one = _timed(lambda: run(1, False))
    many, t_many = _timed(lambda: run(batch, False))
    sh1, t_sh1 = _timed(lambda: run(1, True))
    shared, t_shared = _timed(lambda: run(batch, True))
    diffs = [
        max(float(np.max(np.abs(a - b))) for a, b in zip(naive, other))
        for other in (one, many, sh1, shared)
    ]
    n_ctx_tok = sum(len(lm._encode_pair(c, " x")[0]) for c in contexts)  # noqa: SLF001
    print(
        f"\nB. {len(contexts)} multiple-choice items ({n_mc} OpenBookQA + {n_mc} BBQ), {n_opts} options, "
        f"{n_ctx_tok} context tokens"
    )
    print(head)
    _row("naive: one request per option, one at a time", t_naive, len(contexts), t_naive)
    _row("loglikelihood per option, batch 1", t_one, len(contexts), t_naive)
    _row(f"loglikelihood per option, batch {batch}", t_many, len(contexts), t_naive, t_one)
    _row("shared context, batch 1 item", t_sh1, len(contexts), t_naive)
    _row(f"shared context, batch {batch} items", t_shared, len(contexts), t_naive, t_sh1)
    print(
        "max |mean log-likelihood difference| vs naive: "
        + ", ".join(f"{d:.1e}" for d in diffs)
        + " (rows 2-5)"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument(
        "--parts",
        nargs="*",
        default=None,
        choices=PARTS,
        help="default: the parts enabled in the parameters",
    )
    ap.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's choice)"
    )
    ap.add_argument("--only-batching", action="store_true")
    ap.add_argument("--batching-pairs", type=int, default=32)
    ap.add_argument("--batching-mc", type=int, default=16)
    args = ap.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from llm_behavior.models import load_language_model
    from llm_behavior.profiles import parts as P
    from llm_behavior.profiles import summary

    params = yaml.safe_load((PROJECT / "conf/base/parameters_profiling.yml").read_text())[
        "profiling"
    ]
    print(
        f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (1 min); torch threads {torch.get_num_threads()}"
    )
    t0 = time.perf_counter()
    lm = load_language_model({"source": args.model, "name": args.model})
    print(
        f"model {args.model} loaded in {time.perf_counter() - t0:.1f} s; peak RSS {peak_rss_mb():.0f} MB"
    )

    if args.only_batching:
        batching(lm, params, args.batching_pairs, args.batching_mc)
        return 0

    seed, batch = int(params.get("seed", 0)), int(params.get("batch_size", 16))
    if args.parts is None:
        args.parts = [p for p in PARTS if p == "bias" or params[p].get("enabled", True)]
    tox_scorer = None
    if (
        "toxicity" in args.parts
    ):  # set-up, not profiling: a missing local_toxicity model trains here
        from llm_behavior.scoring import build_scorer

        t = time.perf_counter()
        cfg = dict(params["toxicity"].get("scorer") or {"name": "local_toxicity"})
        tox_scorer = build_scorer(cfg.pop("name"), **cfg)
        tox_scorer.score(["warm up"])
        print(f"toxicity scorer {tox_scorer.name} ready in {time.perf_counter() - t:.1f} s")
    runners = {
        "toxicity": lambda: P.run_toxicity(lm, params["toxicity"], seed=seed, scorer=tox_scorer)[1],
        "text": lambda: P.run_text(lm, params["text"], seed=seed)[1],
        "bias": lambda: P.run_bias(lm, params["bias"], seed=seed, batch_size=batch)[0],
        "calibration": lambda: P.run_calibration(
            lm, params["calibration"], seed=seed, batch_size=batch
        ),
        "next_token": lambda: P.run_next_token(lm, params["next_token"])[0],
        "diversity": lambda: P.run_diversity(lm, params["diversity"], seed=seed)[1],
        "utility": lambda: P.run_utility_part(
            lm, {**params["utility"], "enabled": True}, seed=seed, batch_size=batch
        ),
    }
    times, rss, items = {}, {}, []
    for part in args.parts:
        t = time.perf_counter()
        out = runners[part]()
        times[part] = time.perf_counter() - t
        rss[part] = peak_rss_mb()
        if part != "utility":
            items.append(out)
        print(
            f"  {part:<12} {times[part]:7.1f} s   peak RSS so far {rss[part]:6.0f} MB", flush=True
        )
    import pandas as pd

    t = time.perf_counter()
    table = summary.profile_table(
        pd.concat(items, ignore_index=True),
        model=args.model,
        n_resamples=int(params["bootstrap"]["n_resamples"]),
    )
    times["profile table"] = time.perf_counter() - t
    total = sum(times.values())
    print(
        f"\nFull profile of {args.model}, default sizes (conf/base/parameters_profiling.yml): {total:.1f} s, peak RSS {peak_rss_mb():.0f} MB"
    )
    print(f"{'part':<15}{'seconds':>9}{'share':>8}")
    for part, s in times.items():
        print(f"{part:<15}{s:>9.1f}{100 * s / total:>7.1f}%")
    print(f"profile rows: {len(table)}; load average now {os.getloadavg()[0]:.1f}")
    batching(lm, params, args.batching_pairs, args.batching_mc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
