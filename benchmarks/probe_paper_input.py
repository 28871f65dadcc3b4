r"""The input scenario of ``runs/probe_paper.yml`` at its full size, without generating.

The input scenario (prompt toxicity from the prompt's encodings) needs no generations: this runs
it on the run file's prompt set (all 993 bundled toxic prompts plus 993 benign Translation
sentences) for both models of the default pair, with the parameters of
``conf/base/parameters_probing.yml``: prompt labels by the behaviour scorer, prompt-only
extraction of every layer, ridge probes (KFold(4) over prompts x 5 seeds, permuted-label
control, penalty by leave-one-prompt-out) and the online code (MDL) with its control. It prints
each stage's wall time and writes the summary (one row per side x layer) as CSV.

Usage (time and peak memory of the whole process with GNU time):

    /usr/bin/time -v .venv/bin/python benchmarks/probe_paper_input.py \
        --out /tmp/probe_paper_input.csv
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    import pandas as pd
    import yaml

    from llm_behavior.models.factory import load_language_model
    from llm_behavior.probes.extraction import extract_activations
    from llm_behavior.probes.mdl import online_code
    from llm_behavior.probes.probing import ProbeSettings, build_targets, probe_target, summarize
    from llm_behavior.prompts import load_prompt_set
    from llm_behavior.scoring import build_scorer

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--n-per-set", type=int, default=993, help="prompts per set (993: the run file)"
    )
    ap.add_argument("--out", type=Path, required=True, help="summary CSV")
    ap.add_argument(
        "--work", type=Path, default=None, help="activation stores (default: a temp dir)"
    )
    args = ap.parse_args()

    gen_params = yaml.safe_load((ROOT / "conf/base/parameters_generation.yml").read_text())
    params = yaml.safe_load((ROOT / "conf/base/parameters_probing.yml").read_text())["probing"]
    settings = ProbeSettings.from_dict(params["probes"])
    mdl_cfg = params["mdl"]
    ext = params["extraction"]
    b = params["behaviour"]
    t = {}
    t0 = time.perf_counter()
    prompts = load_prompt_set(["toxicity", "translation"], n_prompts=args.n_per_set, seed=0)
    wide = build_scorer(b["scorer"]).score(list(prompts["prompt"]))
    labels = pd.Series(wide[b["metric"]].to_numpy(dtype=float), index=prompts["prompt_id"])
    t["prompt labels"] = time.perf_counter() - t0
    print(
        f"{len(prompts)} prompts ({prompts['prompt_set'].value_counts().to_dict()}); {b['scorer']} "
        f"toxicity mean {labels.mean():.3f}, share >= 0.5 {(labels >= 0.5).mean():.3f}",
        flush=True,
    )
    no_gens = pd.DataFrame({"prompt_id": [], "sample": [], "text": []})
    no_labels = pd.DataFrame({"prompt_id": [], "sample": [], "value": []})
    work = args.work or Path(tempfile.mkdtemp(prefix="probe_paper_input_"))
    summaries, mdls = [], []
    for side in ("reference", "candidate"):
        lm = load_language_model(gen_params[side]["model"])
        t0 = time.perf_counter()
        store = extract_activations(
            lm,
            prompts[["prompt_id", "prompt"]],
            no_gens,
            work / side,
            batch_size=int(ext["batch_size"]),
            max_batch_tokens=ext["max_batch_tokens"],
            input_span=ext["input_span"],
            dtype=ext["dtype"],
            show_progress=False,
        )
        t[f"{side} extraction"] = time.perf_counter() - t0
        target = build_targets(store, labels, no_labels, ["input"], task=settings.task)["input"]
        t0 = time.perf_counter()
        res = probe_target(store, target, settings)
        t[f"{side} probes"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        mdl = pd.concat(
            [
                online_code(
                    store,
                    target,
                    seed=int(s),
                    precision=float(mdl_cfg["precision"]),
                    eps=float(mdl_cfg["eps"]),
                    settings=settings,
                )
                for s in mdl_cfg["seeds"]
            ]
        )
        t[f"{side} mdl"] = time.perf_counter() - t0
        res.insert(0, "side", side)
        mdl.insert(0, "side", side)
        summaries.append(res)
        mdls.append(mdl)
        print(f"{side}: {t[f'{side} extraction']:.0f} s extraction, {t[f'{side} probes']:.0f} s "
              f"probes, {t[f'{side} mdl']:.0f} s MDL", flush=True)  # fmt: skip
        del lm
    summary = summarize(pd.concat(summaries, ignore_index=True))
    mdl = pd.concat(mdls, ignore_index=True)
    wide_mdl = mdl.groupby(["side", "scenario", "layer", "task"])[
        ["compression", "compression_vs_null"]
    ].mean().unstack("task")  # fmt: skip
    wide_mdl.columns = [m if tk == "real" else f"control_{m}" for m, tk in wide_mdl.columns]
    summary = summary.merge(wide_mdl.reset_index(), on=["side", "scenario", "layer"], how="left")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    summary.to_csv(args.out, index=False)
    cols = ["side", "layer", "n_prompts", "pearson_r", "pearson_r_std", "control_pearson_r",
            "selectivity", "compression", "control_compression", "compression_vs_null",
            "control_compression_vs_null"]  # fmt: skip
    with pd.option_context("display.width", 200, "display.max_rows", 100):
        print(summary[cols].round(3).to_string(index=False))
    print("stage wall times (s):", {k: round(v, 1) for k, v in t.items()})


if __name__ == "__main__":
    main()
