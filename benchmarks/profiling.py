"""Profiling benchmark: a full profile of SmolLM2-135M with the shipped default sizes, and batched
log-likelihood scoring vs one item at a time (the simplest baseline), in the same run.

    .venv/bin/python benchmarks/profiling.py  # everything (several minutes on 2 cores)
    .venv/bin/python benchmarks/profiling.py --only-batching  # the batching comparison only
    .venv/bin/python benchmarks/profiling.py --lm-eval --batching-items 50   # ours vs lm-eval HFLM
    .venv/bin/python benchmarks/profiling.py --parts bias calibration --threads 1
    # paper sizes, extrapolated:
    /usr/bin/time -v .venv/bin/python benchmarks/profiling.py --paper-fraction

``--paper-fraction``: an estimate of the profile of both sides of the default pair on EVERY
bundled item at the papers' per-item sizes (``runs/profile_paper.yml``'s settings with every
prompt and benchmark item; the run file itself samples the benchmarks and is measured whole in
docs/profiling.md), each part measured at the fraction given in ``PAPER_FRACTIONS``
(``--fraction`` overrides them all) and its time extrapolated linearly in the part's units
(prompts, pairs, items, windows, prompt x temperature cells); SEAT is measured whole. Prints and
writes (``--out``) one row per side and part: measured units, paper units, seconds, extrapolated
seconds.

Prints: wall time per part and its share of the total, the process's peak RSS after each part,
and, on the same requests in the same run: (A) CrowS-Pairs sentences and (B) multiple-choice options
(OpenBookQA + BBQ) scored by the simplest baseline (one request at a time, full forward pass,
log_softmax over the vocabulary at every position), by ``TransformersLM.loglikelihood`` at batch 1
and batched (the pure batching gain is the last column), and (B) with each item's context shared by
its options (the profile's default), with the largest difference from the baseline's results. The
machine's load average is printed too: on a shared machine, other processes slow every figure down.
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
            c, x = lm.encode_pair(ctx, cont)  # the backend's own tokenisation
            logits = lm.model(input_ids=torch.tensor([c + x], device=lm.device)).logits[0]
            logp = torch.log_softmax(logits.float(), dim=-1)[len(c) - 1 : len(c) - 1 + len(x)]
            out.append((float(logp.gather(-1, torch.tensor(x)[:, None]).sum()), len(x)))
    return out


def _row(label: str, seconds: float, n: int, base: float, prev: float | None = None) -> None:
    extra = f"{prev / seconds:>10.1f}x" if prev else f"{'':>11}"
    print(f"{label:<50}{seconds:>9.2f}{n / seconds:>10.1f}{base / seconds:>9.1f}x{extra}")


def batching_workloads(
    params: dict, n_pairs: int, n_items: int
) -> dict[str, list[tuple[str, str]]]:
    """The profile's own log-likelihood requests, as the bias and calibration parts build them."""
    from llm_behavior.profiles.benchmarks import (
        bbq,
        common,
        crows_pairs,
        multiple_choice,
        stereoset,
    )
    from llm_behavior.profiles.benchmarks.bbq import bbq_context
    from llm_behavior.profiles.bias import crows_pairs_requests, stereoset_requests
    from llm_behavior.profiles.calibration import option_requests, qa_context

    pairs = common.subsample(crows_pairs.load_crows_pairs(), n_pairs, 0, stratify="bias_type")
    crows = crows_pairs_requests(pairs)
    stereo = stereoset_requests(
        common.subsample(stereoset.load_stereoset(), n_items, 0, stratify="type")
    )
    mc_names = list(params["calibration"]["datasets"])
    contexts, options = [], []
    for name in mc_names:
        mc = common.subsample(multiple_choice.load_multiple_choice(name), n_items, 0)
        contexts += [qa_context(q) for q in mc["question"]]
        options += [list(o) for o in mc["options"]]
    bbq_frame = common.subsample(bbq.load_bbq(), n_items, 0, stratify="ambiguous")
    contexts += [bbq_context(c, q) for c, q in zip(bbq_frame["context"], bbq_frame["question"])]
    options += [list(o) for o in bbq_frame["options"]]
    choice = option_requests(contexts, options)
    return {
        f"A. CrowS-Pairs: {len(pairs)} pairs, standalone sentences": crows,
        f"B. StereoSet: {n_items} items (intra + inter), 3 candidates each": stereo,
        f"C. multiple choice: {n_items} items each of {', '.join(mc_names)}, "
        "BBQ; options after a shared context": choice,
    }


def batching(lm, params: dict, n_pairs: int, n_items: int) -> None:
    """Same requests, same run: the simplest baseline vs ``loglikelihood`` called once per request
    (LM head only at scored positions), batched without shared prefixes (pure batching: requests
    packed into rows) and batched with shared prefixes (the profile's default), per dataset and
    over all of them. The last column is the gain over one request per call."""
    batch = int(params.get("batch_size", 16))
    lm.loglikelihood([("", "warm up")], batch_size=1)
    head = f"{'method':<50}{'seconds':>9}{'requests/s':>10}{'vs naive':>10}{'vs 1 by 1':>11}"
    methods = {
        "naive: one at a time, full forward + log_softmax": lambda r: naive_logprobs(lm, r),
        "loglikelihood, one request per call": lambda r: [
            lm.loglikelihood([q], batch_size=1)[0] for q in r
        ],
        f"loglikelihood, {batch} packed rows, no shared prefix": lambda r: lm.loglikelihood(
            r, batch_size=batch, share_prefixes=False
        ),
        f"loglikelihood, {batch} packed rows, shared prefixes": lambda r: lm.loglikelihood(
            r, batch_size=batch
        ),
    }
    totals = dict.fromkeys(methods, 0.0)
    n_total = 0
    for title, reqs in batching_workloads(params, n_pairs, n_items).items():
        n_tok = sum(sum(map(len, lm.encode_pair(c, x))) for c, x in reqs)
        print(f"\n{title}: {len(reqs)} requests, {n_tok} tokens")
        print(head)
        results, times = {}, {}
        for name, fn in methods.items():
            results[name], times[name] = _timed(lambda: fn(reqs))
            totals[name] += times[name]
        names = list(methods)
        base = times[names[0]]
        for k, name in enumerate(names):
            _row(name, times[name], len(reqs), base, times[names[1]] if k >= 2 else None)
        naive = [lp for lp, _ in results[names[0]]]
        diffs = [max(abs(a - b.logprob) for a, b in zip(naive, results[n])) for n in names[1:]]
        print("max |log-likelihood difference| vs naive: " + ", ".join(f"{d:.1e}" for d in diffs))
        n_total += len(reqs)
    print(f"\nAll three: {n_total} requests")
    print(head)
    names = list(methods)
    for k, name in enumerate(names):
        _row(name, totals[name], n_total, totals[names[0]], totals[names[1]] if k >= 2 else None)


def lm_eval_parity(lm, params: dict, n_pairs: int | None, n_items: int) -> dict:  # noqa: ANN001
    """Ours vs lm-evaluation-harness's HFLM on the same weights and the same CrowS-Pairs and
    multiple-choice requests, in one run: wall time, largest |log-likelihood difference|, and the
    CrowS-Pairs pairs whose verdict (more-stereotyping sentence preferred) flips between our mean
    token log-likelihood and lm-eval's summed log-likelihood."""
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    batch = int(params.get("batch_size", 16))
    ref = HFLM(pretrained=lm.model, tokenizer=lm.tokenizer, batch_size=batch, device="cpu")
    work = batching_workloads(params, n_pairs, n_items)
    crows_key = next(k for k in work if k.startswith("A."))
    mc_key = next(k for k in work if k.startswith("C."))
    out = {}
    print(
        f"\nParity with lm-eval {__import__('lm_eval').__version__} HFLM (batch {batch}), same run:"
    )
    print(f"{'requests':<72}{'n':>6}{'ours s':>9}{'lm-eval s':>11}{'max |diff|':>12}")
    for key in (crows_key, mc_key):
        reqs = work[key]
        ours, t_ours = _timed(lambda r=reqs: lm.loglikelihood(r, batch_size=batch))
        inst = [
            Instance(request_type="loglikelihood", doc={}, arguments=r, idx=i)
            for i, r in enumerate(reqs)
        ]
        theirs, t_ref = _timed(lambda i=inst: ref.loglikelihood(i, disable_tqdm=True))
        diff = max(abs(a.logprob - b[0]) for a, b in zip(ours, theirs))
        print(f"{key[:70]:<72}{len(reqs):>6}{t_ours:>9.1f}{t_ref:>11.1f}{diff:>12.1e}")
        out[key] = {"n": len(reqs), "ours_s": t_ours, "lm_eval_s": t_ref, "max_abs_diff": diff}
        if key == crows_key:
            n = len(reqs) // 2
            more, less = ours[:n], ours[n:]
            by_mean = [a.mean_logprob > b.mean_logprob for a, b in zip(more, less)]
            by_sum = [a.logprob > b.logprob for a, b in zip(more, less)]
            flips = sum(x != y for x, y in zip(by_mean, by_sum))
            print(
                f"CrowS-Pairs: {n} pairs; metric score by mean token log-prob "
                f"{100 * sum(by_mean) / n:.1f}, by summed log-prob (lm-eval) "
                f"{100 * sum(by_sum) / n:.1f}; verdict flips on {flips} pairs"
            )
            out["crows_flips"] = {
                "pairs": n,
                "flips": flips,
                "score_mean": 100 * sum(by_mean) / n,
                "score_sum": 100 * sum(by_sum) / n,
            }
    return out


# share of each part's paper size measured by --paper-fraction (units in brackets)
PAPER_FRACTIONS = {
    "toxicity": 0.005,  # prompts (993 x 25 samples): 5 prompts
    "text": 0.03,  # prompts: 3
    "crows_pairs": 0.03,  # pairs: 31
    "stereoset": 0.01,  # items: 43
    "bbq": 0.002,  # items (16,076 BBQ-lite): 33
    "seat": 1.0,  # fixed size
    "calibration": 0.01,  # items over the three datasets: 33
    "next_token": 0.03,  # windows of 1,024 tokens: 3
    # (prompt, temperature) cells: 6 of 96 (3 creative + 3 factual prompts at T 1.5)
    "diversity": 0.0625,
}


def paper_params() -> dict:
    """parameters_profiling.yml with runs/profile_paper.yml's profiling overrides (deep merge)."""
    from omegaconf import OmegaConf

    base = yaml.safe_load((PROJECT / "conf/base/parameters_profiling.yml").read_text())
    run = yaml.safe_load((PROJECT / "runs/profile_paper.yml").read_text())["run"]["params"]
    merged = OmegaConf.merge(base, {"profiling": run.get("profiling", {})})
    return OmegaConf.to_container(merged)["profiling"]


def paper_fraction(args) -> int:  # noqa: ANN001
    """Both sides of the default pair, each part on a fraction of all bundled items, scaled up."""
    import copy
    import json
    import math

    from llm_behavior.models import load_language_model
    from llm_behavior.profiles import parts as P
    from llm_behavior.profiles.benchmarks import (
        bbq,
        crows_pairs,
        multiple_choice,
        stereoset,
        toxicity_prompts,
    )
    from llm_behavior.scoring import build_scorer

    params = paper_params()
    gen = yaml.safe_load((PROJECT / "conf/base/parameters_generation.yml").read_text())
    seed, batch, fmt = int(params["seed"]), int(params["batch_size"]), params["request_format"]
    frac = {k: (args.fraction if args.fraction else v) for k, v in PAPER_FRACTIONS.items()}
    bbq_frame, _ = bbq.load_bbq_frame(params["bias"]["bbq"])
    cal_sizes = {
        n: len(multiple_choice.load_multiple_choice(n)) for n in params["calibration"]["datasets"]
    }
    div = params["diversity"]
    n_div_prompts = len(div["creative_prompts"]) + len(div["factual_prompts"])
    paper_units = {
        "toxicity": len(toxicity_prompts.load_toxicity_prompts()),
        "text": int(params["text"]["n_prompts"]),
        "crows_pairs": len(crows_pairs.load_crows_pairs()),
        "stereoset": len(stereoset.load_stereoset()),
        "bbq": len(bbq_frame),
        "seat": 1,
        "calibration": sum(cal_sizes.values()),
        "next_token": int(params["next_token"]["n_windows"]),
        "diversity": n_div_prompts * len(div["temperatures"]),
    }

    def n_of(part: str) -> int:
        return max(1, math.ceil(frac[part] * paper_units[part]))

    scorer_cfg = dict(params["toxicity"].get("scorer") or {"name": "local_toxicity"})
    scorer = build_scorer(scorer_cfg.pop("name"), **scorer_cfg)
    scorer.score(["warm up"])
    rows = []
    print(
        f"{'side':<10}{'part':<13}{'units':>7}{'of paper':>9}{'seconds':>9}"
        f"{'extrapolated s':>16}{'peak RSS MB':>12}"
    )
    for side in args.sides:
        t = time.perf_counter()
        lm = load_language_model(gen[side]["model"])
        load_s = time.perf_counter() - t
        rows.append(
            {
                "side": side,
                "part": "load model",
                "units": 1,
                "paper_units": 1,
                "seconds": load_s,
                "extrapolated_s": load_s,
            }
        )
        p = copy.deepcopy(params)
        # diversity cells: the highest temperature (longest, most varied samples) first, then more
        n_cells = n_of("diversity")
        per_set = max(1, min(len(div["creative_prompts"]), n_cells // 2))
        n_temps = max(1, math.ceil(n_cells / (2 * per_set)))
        temps = list(reversed(div["temperatures"]))[:n_temps]
        n_cal = n_of("calibration")
        per_ds = max(1, round(n_cal / len(cal_sizes)))
        b = p["bias"]
        only = {k: {**b[k], "enabled": False} for k in ("crows_pairs", "stereoset", "bbq", "seat")}
        jobs = {
            "toxicity": (
                lambda: P.run_toxicity(
                    lm, {**p["toxicity"], "n_prompts": n_of("toxicity")}, seed=seed, scorer=scorer
                ),
                n_of("toxicity"),
            ),
            "text": (
                lambda: P.run_text(lm, {**p["text"], "n_prompts": n_of("text")}, seed=seed),
                n_of("text"),
            ),
            "crows_pairs": (
                lambda: P.run_bias(
                    lm,
                    {**only, "crows_pairs": {**b["crows_pairs"], "n_items": n_of("crows_pairs")}},
                    seed=seed,
                    batch_size=batch,
                    request_format=fmt,
                ),
                n_of("crows_pairs"),
            ),
            "stereoset": (
                lambda: P.run_bias(
                    lm,
                    {**only, "stereoset": {**b["stereoset"], "n_items": n_of("stereoset")}},
                    seed=seed,
                    batch_size=batch,
                    request_format=fmt,
                ),
                n_of("stereoset"),
            ),
            "bbq": (
                lambda: P.run_bias(
                    lm,
                    {**only, "bbq": {**b["bbq"], "n_items": n_of("bbq")}},
                    seed=seed,
                    batch_size=batch,
                    request_format=fmt,
                ),
                n_of("bbq"),
            ),
            "seat": (
                lambda: P.run_bias(
                    lm,
                    {**only, "seat": {**b["seat"], "enabled": True}},
                    seed=seed,
                    batch_size=batch,
                    request_format=fmt,
                ),
                1,
            ),
            "calibration": (
                lambda: P.run_calibration(
                    lm,
                    {**p["calibration"], "n_items": per_ds},
                    seed=seed,
                    batch_size=batch,
                    request_format=fmt,
                ),
                sum(min(per_ds, v) for v in cal_sizes.values()),
            ),
            "next_token": (
                lambda: P.run_next_token(
                    lm, {**p["next_token"], "n_windows": n_of("next_token")}, request_format=fmt
                ),
                n_of("next_token"),
            ),
            "diversity": (
                lambda: P.run_diversity(
                    lm, {**div, "temperatures": temps, "n_prompts": per_set}, seed=seed
                ),
                2 * per_set * len(temps),
            ),
        }
        for part, (fn, units) in jobs.items():
            t = time.perf_counter()
            fn()
            sec = time.perf_counter() - t
            ext = sec * paper_units[part] / units
            rows.append(
                {
                    "side": side,
                    "part": part,
                    "units": units,
                    "paper_units": paper_units[part],
                    "seconds": sec,
                    "extrapolated_s": ext,
                    "peak_rss_mb": peak_rss_mb(),
                }
            )
            print(
                f"{side:<10}{part:<13}{units:>7}{paper_units[part]:>9}{sec:>9.1f}{ext:>16.0f}{peak_rss_mb():>12.0f}",
                flush=True,
            )
    total = sum(r["extrapolated_s"] for r in rows)
    measured = sum(r["seconds"] for r in rows)
    print(
        f"measured {measured:.0f} s; paper-sized profile of both sides "
        f"extrapolated: {total:.0f} s = {total / 3600:.2f} h; peak RSS "
        f"{peak_rss_mb():.0f} MB; load average {os.getloadavg()[0]:.1f}"
    )
    if args.out:
        Path(args.out).write_text(
            json.dumps(
                {
                    "fractions": frac,
                    "rows": rows,
                    "extrapolated_total_s": total,
                    "measured_s": measured,
                    "peak_rss_mb": peak_rss_mb(),
                },
                indent=1,
            )
        )
    return 0


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
    ap.add_argument("--paper-fraction", action="store_true", help="paper sizes, extrapolated")
    ap.add_argument(
        "--lm-eval", action="store_true", help="only ours vs lm-eval HFLM (CrowS: all pairs)"
    )
    ap.add_argument("--fraction", type=float, default=None, help="one fraction for every part")
    ap.add_argument("--out", default=None, help="--paper-fraction: write the rows as JSON here")
    ap.add_argument("--sides", nargs="*", default=["reference", "candidate"])
    ap.add_argument("--batching-pairs", type=int, default=32)
    ap.add_argument("--batching-items", type=int, default=16)
    args = ap.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.paper_fraction:
        return paper_fraction(args)
    from llm_behavior.models import load_language_model
    from llm_behavior.profiles import parts as P
    from llm_behavior.profiles import summary

    params = yaml.safe_load((PROJECT / "conf/base/parameters_profiling.yml").read_text())[
        "profiling"
    ]
    print(
        f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (1 min); torch "
        f"threads {torch.get_num_threads()}"
    )
    t0 = time.perf_counter()
    lm = load_language_model({"source": args.model, "name": args.model})
    print(
        f"model {args.model} loaded in {time.perf_counter() - t0:.1f} "
        f"s; peak RSS {peak_rss_mb():.0f} MB"
    )

    if args.only_batching:
        batching(lm, params, args.batching_pairs, args.batching_items)
        return 0
    if args.lm_eval:
        lm_eval_parity(lm, params, None, args.batching_items)
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
        # spec format
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
        f"\nFull profile of {args.model}, default sizes (conf/base/parameters_profiling.yml): "
        f"{total:.1f} s, peak RSS {peak_rss_mb():.0f} MB"
    )
    print(f"{'part':<15}{'seconds':>9}{'share':>8}")
    for part, s in times.items():
        print(f"{part:<15}{s:>9.1f}{100 * s / total:>7.1f}%")
    print(f"profile rows: {len(table)}; load average now {os.getloadavg()[0]:.1f}")
    batching(lm, params, args.batching_pairs, args.batching_items)
    return 0


if __name__ == "__main__":
    sys.exit(main())
