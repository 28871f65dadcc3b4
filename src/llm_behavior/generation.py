"""Generate continuations for a prompt table with full provenance, resumably.

Each (prompt, sample) row is keyed by a content hash of everything that determines its text:
the model's provenance (backend, library versions, weights revision, dtype, quantization, chat
template), the exact rendered prompt, the decoding parameters that shape a sample, the prompt's
seed, and the sample's index (``<generation_key>:<sample>``). How many samples were asked for
(``num_samples``) is not part of it: sample k draws from its own seed whatever the count, so
raising ``num_samples`` keeps the samples already generated and adds the new ones. Rows already in
the chunk store are reused; only missing prompts are generated, chunk by chunk.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable

import pandas as pd
from tqdm.auto import tqdm

from llm_behavior.chunks import ChunkStore
from llm_behavior.models.base import LanguageModel
from llm_behavior.models.sampling import row_seed
from llm_behavior.models.spec import GenerationSettings, stable_hash
from llm_behavior.schemas import GENERATION_COLUMNS

logger = logging.getLogger(__name__)


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def model_key(lm: LanguageModel) -> str:
    """Hash of what the model computes: spec identity
    + provenance (versions, revision, dtype...)."""
    return stable_hash({"spec": lm.spec.identity(), "provenance": lm.provenance()})


def sample_decoding(settings: GenerationSettings) -> dict[str, object]:
    """The decoding settings that shape one sample's text: all of them but ``num_samples`` (how
    many others were asked for) and the batch size."""
    return {k: v for k, v in settings.decoding_identity().items() if k != "num_samples"}


def prompt_keys(
    lm: LanguageModel, prompts: pd.DataFrame, settings: GenerationSettings, mkey: str
) -> pd.DataFrame:
    """Per prompt: rendered prompt hash, its seed and its generation key (a sample's key is
    ``<generation_key>:<sample>``)."""
    decoding = sample_decoding(settings)
    rendered = [lm.format_prompt(p) for p in prompts["prompt"]]
    rows = []
    for pid, text in zip(prompts["prompt_id"], rendered):
        rhash = text_hash(text)
        seed = 0 if settings.greedy else row_seed(settings.seed, pid)
        gkey = stable_hash(
            {"model": mkey, "rendered_prompt": rhash, "decoding": decoding, "seed": seed}
        )
        rows.append(
            {"prompt_id": pid, "rendered_prompt_hash": rhash, "seed": seed, "generation_key": gkey}
        )
    return pd.DataFrame(rows)


def generate_continuations(  # noqa: PLR0917 (mirrors the generate_side node inputs)
    lm: LanguageModel,
    prompts: pd.DataFrame,
    side: str,
    store: ChunkStore,
    settings: GenerationSettings | None = None,
    chunk_prompts: int = 64,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Generations for every prompt x sample
    (GENERATION_COLUMNS), reusing finished rows in ``store``."""
    settings = settings or lm.spec.generation
    if prompts["prompt_id"].duplicated().any():
        raise ValueError("prompts: duplicate prompt_id values")
    mkey = model_key(lm)
    provenance = json.dumps(lm.provenance(), sort_keys=True, default=str)
    keys = prompts[["prompt_id", "prompt"]].merge(
        prompt_keys(lm, prompts, settings, mkey), on="prompt_id"
    )
    done = store.keys(mkey)
    wanted = {f"{g}:{s}" for g in keys["generation_key"] for s in range(settings.num_samples)}
    todo = keys[
        [
            any(f"{g}:{s}" not in done for s in range(settings.num_samples))
            for g in keys["generation_key"]
        ]
    ]
    # upper bound: a prompt's samples already stored are kept
    n_rows = len(todo) * settings.num_samples
    logger.info(
        "%s: %d of %d prompts to generate (%d reused from the cache)",
        side,
        len(todo),
        len(keys),
        len(keys) - len(todo),
    )
    bar = tqdm(total=n_rows, desc=f"generate {side}", unit="gen", disable=n_rows == 0)
    decoding = json.dumps(settings.decoding_identity(), sort_keys=True)
    chat_hash = getattr(lm, "chat_template_hash", None)
    for start in range(0, len(todo), chunk_prompts):
        chunk = todo.iloc[start : start + chunk_prompts]
        gens = lm.generate(
            list(chunk["prompt"]),
            settings,
            seeds=list(chunk["seed"]),
            progress=(lambda n: (bar.update(n), progress(n) if progress else None)),
        )
        rows = []
        for g in gens:
            src = chunk.iloc[g.prompt_index]
            # an earlier run's sample: kept as it was
            if f"{src['generation_key']}:{g.sample}" in done:
                continue
            rows.append(
                {
                    "row_key": f"{src['generation_key']}:{g.sample}",
                    "prompt_id": src["prompt_id"],
                    "sample": g.sample,
                    "prompt": src["prompt"],
                    "text": g.text,
                    "n_prompt_tokens": g.n_prompt_tokens,
                    "n_new_tokens": g.n_new_tokens,
                    "finish_reason": g.finish_reason,
                    "generation_key": src["generation_key"],
                    "rendered_prompt_hash": src["rendered_prompt_hash"],
                    "seed": int(src["seed"]),
                    "token_ids": g.token_ids,
                }
            )
        if rows:
            store.append(mkey, pd.DataFrame(rows))
    bar.close()
    stored = store.read(mkey)
    stored = stored[stored["row_key"].isin(wanted)]
    if "token_ids" not in stored.columns:  # rows cached before token ids were stored
        stored = stored.assign(token_ids=None)
    out = keys[["prompt_id", "generation_key"]].merge(
        stored.drop(columns=["prompt_id"]), on="generation_key", how="left"
    )
    missing = out["text"].isna().sum()
    if missing or len(out) != len(keys) * settings.num_samples:
        raise RuntimeError(
            f"{side}: {missing} generations missing after the run (expected {len(wanted)})"
        )
    out["side"] = side
    out["model_name"] = lm.spec.name or lm.spec.source
    out["spec_hash"] = lm.spec.identity_hash()
    out["chat_template_hash"] = chat_hash
    out["decoding"] = decoding
    out["provenance"] = provenance
    out["sample"] = out["sample"].astype(int)
    columns = list(GENERATION_COLUMNS)
    if "reference" in prompts.columns:  # a prompt set with reference texts (translation quality)
        out = out.merge(prompts[["prompt_id", "reference"]], on="prompt_id", how="left")
        columns.append("reference")
    return out[columns].sort_values(["prompt_id", "sample"]).reset_index(drop=True)


def formatting_report(tables: dict[str, pd.DataFrame]) -> dict[str, object]:
    """Summary per side and flags where the sides' prompt
    formatting differs (template on one side only)."""
    sides: dict[str, dict[str, object]] = {}
    for side, df in tables.items():
        sides[side] = {
            "model_name": str(df["model_name"].iloc[0]) if len(df) else None,
            "spec_hash": str(df["spec_hash"].iloc[0]) if len(df) else None,
            "n_generations": len(df),
            "n_prompts": int(df["prompt_id"].nunique()),
            "chat_template_hash": df["chat_template_hash"].iloc[0] if len(df) else None,
            "mean_new_tokens": float(df["n_new_tokens"].mean()) if len(df) else None,
            "finish_reasons": df["finish_reason"].value_counts().to_dict(),
            "n_empty_texts": int((df["text"].str.strip() == "").sum()),
        }
    flags = []
    names = list(sides)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            ta, tb = sides[a]["chat_template_hash"], sides[b]["chat_template_hash"]
            if (ta is None) != (tb is None):
                flags.append(
                    "prompt formatting differs: chat template "
                    f"applied on {a if ta else b} only ({a} vs {b})"
                )
            elif ta != tb:
                flags.append(f"chat templates differ between {a} and {b}")
            if set(tables[a]["prompt_id"]) != set(tables[b]["prompt_id"]):
                flags.append(f"{a} and {b} were generated on different prompts")
    return {"sides": sides, "flags": flags}
