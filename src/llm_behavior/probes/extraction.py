"""Encodings of prompts and generations for every layer, from one forward pass per sequence.

For each generation the sequence ``formatted prompt + continuation`` goes through the model once
(right padding, teacher forcing) with all hidden states returned; two means are taken per layer:

* input encoding: mean over the tokens of the user's prompt text inside the formatted prompt
  (the original's choice: the chat template / system prompt tokens are left out; set
  ``input_span="full_prompt"`` to average over every prompt token instead);
* output encoding: mean over the continuation's tokens (EOS and padding masked). The continuation
  is the token ids the model generated (the generations table's ``token_ids``), not a
  re-tokenisation of the decoded text, which can differ at word boundaries and special tokens.
  Rows without stored ids (cached before the ids were stored, or a backend that gives none) are
  re-tokenised from their text, counted in a warning and in the store's ``n_retokenized``.

The model is causal, so a prompt's encoding does not depend on its continuation: it is taken from
the first generation of each prompt (prompts without generations get a prompt-only pass). Results
stream into an :class:`~llm_behavior.probes.store.ActivationStore` chunk by chunk, with a progress
bitmap, so memory is bounded by one batch and an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from llm_behavior.models.base import LanguageModel, TransformersCapable, require_transformers
from llm_behavior.models.batching import pad_batch
from llm_behavior.models.spec import stable_hash
from llm_behavior.probes.store import FORMAT, ActivationStore

logger = logging.getLogger(__name__)

INPUT_SPANS: tuple[str, ...] = ("prompt_text", "full_prompt")


@dataclass
class _Item:
    prompt_row: int
    output_row: int  # -1: prompt-only pass
    do_input: bool
    ids: np.ndarray  # int64 token ids: formatted prompt, then continuation
    input_mask: np.ndarray  # bool over the prompt tokens: the ones averaged for the input encoding
    n_prompt: int  # tokens of the formatted prompt; continuation tokens follow


def _capable(lm: LanguageModel) -> TransformersCapable:
    return require_transformers(lm, "Probing (per-token hidden states)")


def _tokenizer_of(lm: LanguageModel) -> Any:
    return _capable(lm).tokenizer


def prompt_token_spans(
    lm: LanguageModel, prompts: Sequence[str], input_span: str = "prompt_text"
) -> tuple[list[list[int]], list[list[bool]], list[bool]]:
    """Token ids of each formatted prompt, the mask of the tokens to average, and whether the
    prompt text was located (False: the whole prompt was used, see ``input_span``).

    The ids equal those the backend feeds to the model when generating (same template and special
    tokens), so the encodings describe what the model actually saw.
    """
    if input_span not in INPUT_SPANS:
        raise ValueError(f"input_span must be one of {INPUT_SPANS}, got {input_span!r}")
    tok = _tokenizer_of(lm)
    add_special = not getattr(lm, "uses_chat_template", False)
    formatted = [lm.format_prompt(p) for p in prompts]
    fast = bool(getattr(tok, "is_fast", False))
    enc = tok(formatted, add_special_tokens=add_special, return_offsets_mapping=fast)
    ids_all, masks, located = [], [], []
    for k, (prompt, text) in enumerate(zip(prompts, formatted)):
        ids = list(enc["input_ids"][k])
        mask = [True] * len(ids)
        found = False
        if input_span == "prompt_text" and fast:
            needle = prompt.strip()
            start = text.rfind(needle) if needle else -1
            if start >= 0:
                end = start + len(needle)
                offsets = enc["offset_mapping"][k]
                cand = [(e > s) and (s < end) and (e > start) for s, e in offsets]
                if any(cand):
                    mask, found = cand, True
        ids_all.append(ids)
        masks.append(mask)
        located.append(found)
    return ids_all, masks, located


def _stored_ids(value: Any) -> list[int] | None:
    """A generations table's ``token_ids`` cell as a list of ints (None where it is missing)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return [int(t) for t in np.asarray(value, dtype=np.int64).ravel()]


def generated_ids(generations: pd.DataFrame) -> list[list[int] | None]:
    """Per row: the stored generated token ids, or None (no ``token_ids`` column or cell)."""
    if "token_ids" not in generations:
        return [None] * len(generations)
    return [_stored_ids(v) for v in generations["token_ids"]]


def extraction_key(
    lm: LanguageModel, prompts: pd.DataFrame, generations: pd.DataFrame, input_span: str, dtype: str
) -> str:
    """Content hash of everything the stored encodings depend on."""
    spec = lm.spec
    source = getattr(lm, "source_info", {}) or {}
    return stable_hash(
        {
            "format": FORMAT,
            "spec": spec.identity(),
            "revision": source.get("revision"),
            "prompts": stable_hash(list(zip(prompts["prompt_id"].astype(str), prompts["prompt"]))),
            "generations": stable_hash(
                list(
                    zip(
                        generations["prompt_id"].astype(str),
                        generations["sample"].astype(int),
                        generations["text"],
                        generated_ids(generations),
                    )
                )
            ),
            "input_span": input_span,
            "dtype": dtype,
        }
    )


def _plan(
    lm: LanguageModel, prompts: pd.DataFrame, generations: pd.DataFrame, input_span: str
) -> tuple[pd.DataFrame, pd.DataFrame, list[_Item]]:
    tok = _tokenizer_of(lm)
    prompt_ids, masks, located = prompt_token_spans(lm, list(prompts["prompt"]), input_span)
    input_index = pd.DataFrame(
        {
            "prompt_id": prompts["prompt_id"].to_numpy(),
            "n_tokens": [int(sum(m)) for m in masks],
            "span": [
                "prompt_text"
                if ok
                else ("full_prompt" if input_span == "full_prompt" else "full_prompt_fallback")
                for ok in located
            ],
        }
    )
    row_of = {pid: i for i, pid in enumerate(prompts["prompt_id"])}
    gens = generations.copy()
    gens["_prow"] = gens["prompt_id"].map(row_of)
    missing = gens["_prow"].isna()
    if missing.any():
        raise ValueError(
            f"{int(missing.sum())} generation row(s) have a prompt_id not in the prompt table "
            f"(e.g. {gens.loc[missing, 'prompt_id'].iloc[0]!r})"
        )
    gens = gens.sort_values(["_prow", "sample"], kind="stable").reset_index(drop=True)
    skip = {int(i) for i in (getattr(lm, "eos_ids", None) or [])}
    if tok.pad_token_id is not None:
        skip.add(int(tok.pad_token_id))
    stored = generated_ids(gens)
    missing = [j for j, c in enumerate(stored) if c is None]
    cont: list[list[int]] = [c if c is not None else [] for c in stored]
    if missing:  # re-tokenise the decoded text of rows without stored ids
        texts = list(gens["text"].iloc[missing].fillna(""))
        for j, c in zip(missing, tok(texts, add_special_tokens=False)["input_ids"]):
            cont[j] = [t for t in c if t not in skip]
    output_index = pd.DataFrame(
        {
            "prompt_id": gens["prompt_id"].to_numpy(),
            "sample": gens["sample"].astype(int).to_numpy(),
            "n_tokens": np.array([len(c) for c in cont], dtype=int),
            "token_source": np.where(
                np.isin(np.arange(len(gens)), missing), "retokenized", "generated"
            ),
        }
    )
    items: list[_Item] = []
    seen: set[int] = set()
    p_arr = [np.asarray(p, dtype=np.int64) for p in prompt_ids]
    m_arr = [np.asarray(m, dtype=bool) for m in masks]
    for j, prow in enumerate(gens["_prow"].astype(int)):
        first = prow not in seen
        seen.add(prow)
        ids = np.concatenate([p_arr[prow], np.asarray(cont[j], dtype=np.int64)])
        items.append(_Item(prow, j, first, ids, m_arr[prow], len(p_arr[prow])))
    for prow in range(len(prompts)):
        if prow not in seen:
            items.append(_Item(prow, -1, True, p_arr[prow], m_arr[prow], len(p_arr[prow])))
    return input_index, output_index, items


def token_budget_batches(
    lengths: Sequence[int], batch_size: int, max_batch_tokens: int | None
) -> list[list[int]]:
    """Consecutive batches of positions into ``lengths`` (sorted ascending by the caller) with at
    most ``batch_size`` sequences and at most ``max_batch_tokens`` padded tokens each (a single
    longer sequence still gets its own batch)."""
    batches: list[list[int]] = []
    cur: list[int] = []
    width = 0
    for k, n in enumerate(lengths):
        w = max(width, n)
        if cur and (
            len(cur) >= batch_size or (max_batch_tokens and w * (len(cur) + 1) > max_batch_tokens)
        ):
            batches.append(cur)
            cur, w = [], n
        cur.append(k)
        width = w
    if cur:
        batches.append(cur)
    return batches


def _check_inputs(prompts: pd.DataFrame, generations: pd.DataFrame, batch_size: int) -> None:
    """A ValueError naming what is wrong with the tables or the batch size."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    for col in ("prompt_id", "prompt"):
        if col not in prompts:
            raise ValueError(f"prompts table needs a {col!r} column; has {list(prompts.columns)}")
    for col in ("prompt_id", "sample", "text"):
        if col not in generations:
            raise ValueError(
                f"generations table needs a {col!r} column; has {list(generations.columns)}"
            )
    if prompts["prompt_id"].duplicated().any():
        raise ValueError("prompts table has duplicated prompt_id values")
    if generations.duplicated(["prompt_id", "sample"]).any():
        raise ValueError("generations table has duplicated (prompt_id, sample) rows")


def _existing_store(root: Path, key: str) -> ActivationStore | None:
    """The store at ``root`` when it was written for the inputs with content ``key`` (complete,
    or to be resumed); None when there is none, it is unreadable or it is for other inputs."""
    if not (root / "meta.json").exists():
        return None
    try:
        old = ActivationStore.open(root, require_complete=False)
    except Exception:  # noqa: BLE001 - an unreadable old store is rebuilt
        return None
    if old.meta.get("key") == key:
        return old
    logger.info("Activations at %s were written for other inputs; rebuilding", root)
    return None


def _new_store(
    root: Path,
    *,
    lm: LanguageModel,
    cap: TransformersCapable,
    plan: tuple[pd.DataFrame, pd.DataFrame, list[_Item]],
    key: str,
    dtype: str,
    input_span: str,
) -> ActivationStore:
    """An empty store at ``root`` for the planned work items, its meta naming the model."""
    input_index, output_index, items = plan
    return ActivationStore.create(
        root,
        n_layers=cap.n_layers,
        d_model=cap.d_model,
        input_index=input_index,
        output_index=output_index,
        n_work_items=len(items),
        key=key,
        dtype=dtype,
        extra_meta={
            "input_span": input_span,
            "model": lm.spec.identity(),
            "model_name": lm.spec.name or lm.spec.source,
            "quantization": lm.spec.quantization,
        },
    )


def _todo_batches(
    items: Sequence[_Item], done: np.ndarray, batch_size: int, max_batch_tokens: int | None
) -> list[list[int]]:
    """The work items not yet done, in length-sorted batches under the token budget: little
    padding, and peak memory bounded by the budget (not by the number of prompts, nor by the
    longest sequences)."""
    todo = [int(k) for k in np.flatnonzero(~done)]
    todo.sort(key=lambda k: len(items[k].ids))
    lengths = [len(items[k].ids) for k in todo]
    batches = token_budget_batches(lengths, batch_size, max_batch_tokens)
    return [[todo[i] for i in b] for b in batches]


class _PendingRows:
    """Finished rows wait in RAM until :meth:`flush` writes them to the store's memory maps,
    which are opened only for the write: written pages do not accumulate in the process."""

    def __init__(self, store: ActivationStore, n_layers: int):
        self.store, self.n_layers = store, n_layers
        self.parts: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {"input": [], "output": []}

    def add(self, kind: str, rows: np.ndarray, data: np.ndarray) -> None:
        """Encodings ``data`` (L+1, rows, d) of the store's ``kind`` rows ``rows``."""
        self.parts[kind].append((rows, data))

    def flush(self, done: np.ndarray) -> None:
        """Write every pending row, then record ``done`` in the progress bitmap."""
        for kind, parts in self.parts.items():
            if not parts:
                continue
            rows = np.concatenate([p[0] for p in parts])
            data = np.concatenate([p[1] for p in parts], axis=1)  # (L+1, rows, d)
            order = np.argsort(rows)
            for li in range(self.n_layers + 1):
                mm = self.store.layer(kind, li, mode="r+")
                mm[rows[order]] = data[li][order]
                mm.flush()
                del mm
            parts.clear()
        self.store.mark_done(done)


def _span_masks(batch: Sequence[_Item], width: int) -> tuple[Any, Any]:
    """(input mask, output mask), float (B, width): the prompt tokens averaged for the input
    encoding, and the continuation tokens."""
    import torch

    in_mask = torch.zeros((len(batch), width), dtype=torch.float32)
    out_mask = torch.zeros((len(batch), width), dtype=torch.float32)
    for r, it in enumerate(batch):
        in_mask[r, : it.n_prompt] = torch.from_numpy(it.input_mask.astype(np.float32))
        out_mask[r, it.n_prompt : len(it.ids)] = 1.0
    return in_mask, out_mask


def _masked_means(
    hs: Sequence[Any], mask: Any, sel: list[int], d_model: int, dtype: str
) -> tuple[np.ndarray, int]:
    """Per layer, the mean of rows ``sel``'s hidden states over ``mask`` (NaN where it is empty,
    e.g. an empty continuation): (L+1, len(sel), d) in ``dtype``, and the number of values
    beyond the float16 range (when ``dtype`` is float16)."""
    import torch

    m = mask[sel]
    counts = m.sum(1, keepdim=True)
    out = np.empty((len(hs), len(sel), d_model), dtype=dtype)
    overflow = 0
    for li, h in enumerate(hs):
        hm = h[sel].float().cpu()
        mean = torch.einsum("btd,bt->bd", hm, m) / counts.clamp(min=1)
        mean[counts[:, 0] == 0] = float("nan")
        arr = mean.numpy()
        if dtype == "float16":
            overflow += int((np.abs(arr) > np.finfo(np.float16).max).sum())
        out[li] = arr
    return out, overflow


def _encode_batch(
    cap: TransformersCapable, batch: Sequence[_Item], pad: int, d_model: int, dtype: str
) -> tuple[list[tuple[str, np.ndarray, np.ndarray]], int]:
    """One forward pass over ``batch``: [(kind, store rows, encodings)] for the input encodings
    it owes and the output encodings of its generations, and the float16 overflow count."""
    inp, att = pad_batch([it.ids for it in batch], pad, left=False)
    in_mask, out_mask = _span_masks(batch, inp.shape[1])
    hs = cap.token_hidden_states(inp.to(cap.device), att.to(cap.device))
    results, overflow = [], 0
    for kind, mask, sel in (
        ("input", in_mask, [r for r, it in enumerate(batch) if it.do_input]),
        ("output", out_mask, [r for r, it in enumerate(batch) if it.output_row >= 0]),
    ):
        if not sel:
            continue
        rows = np.array(
            [batch[r].prompt_row if kind == "input" else batch[r].output_row for r in sel]
        )
        data, n_big = _masked_means(hs, mask, sel, d_model, dtype)
        results.append((kind, rows, data))
        overflow += n_big
    return results, overflow


def _write_batches(
    cap: TransformersCapable,
    items: Sequence[_Item],
    batches: Sequence[list[int]],
    pending: _PendingRows,
    *,
    done: np.ndarray,
    dtype: str,
    flush_every: int,
    ticks: Sequence[Callable[[int], Any]],
) -> int:
    """Encode ``batches`` of ``items``; their rows reach the store every ``flush_every`` batches
    and after the last (``done`` marks them); each tick is called with the batch size. Returns
    the number of values beyond the float16 range."""
    import torch

    pad = cap.tokenizer.pad_token_id if cap.tokenizer.pad_token_id is not None else 0
    d_model = pending.store.d_model
    overflow = 0
    with torch.inference_mode():
        for b, batch_keys in enumerate(batches):
            batch = [items[k] for k in batch_keys]
            encoded, n_big = _encode_batch(cap, batch, pad, d_model, dtype)
            overflow += n_big
            for kind, rows, data in encoded:
                pending.add(kind, rows, data)
            done[batch_keys] = True
            if (b + 1) % flush_every == 0 or b + 1 == len(batches):
                pending.flush(done)
            for tick in ticks:
                tick(len(batch))
    return overflow


def _progress_bar(show: bool, lm: LanguageModel, n_items: int, n_todo: int) -> Any:
    """A tqdm bar over the work items (None when not shown or nothing is left to do)."""
    if not (show and n_todo):
        return None
    from tqdm.auto import tqdm

    return tqdm(
        total=n_items,
        initial=n_items - n_todo,
        desc=f"activations {lm.spec.name or lm.spec.source}",
        unit="seq",
    )


def _finish(
    store: ActivationStore,
    cap: TransformersCapable,
    input_index: pd.DataFrame,
    output_index: pd.DataFrame,
    seconds: float,
) -> None:
    """Warn about empty generations, re-tokenised rows and prompt-span fallbacks; mark the store
    complete with those counts."""
    empty = int((output_index["n_tokens"] == 0).sum())
    retokenized = int((output_index["token_source"] == "retokenized").sum())
    if retokenized:
        logger.warning(
            "%d of %d generation(s) have no stored token ids (generated before the ids were "
            "stored, or by a backend without them): their output encodings re-tokenise the "
            "decoded text, which can differ from the generated tokens",
            retokenized,
            len(output_index),
        )
    fallback = int((input_index["span"] == "full_prompt_fallback").sum())
    if empty:
        logger.warning("%d generation(s) have no tokens: their output encodings are NaN", empty)
    if fallback:
        logger.warning(
            "%d prompt(s): the prompt text was not found in the formatted prompt; their input "
            "encoding averages the whole formatted prompt",
            fallback,
        )
    store.mark_complete(
        final_layer=cap.final_layer
        or store.meta.get("final_layer", "as_returned_by_transformers"),
        n_empty_generations=empty,
        n_prompt_span_fallbacks=fallback,
        n_retokenized=retokenized,
        seconds=round(seconds, 3),
    )


def extract_activations(
    lm: LanguageModel,
    prompts: pd.DataFrame,
    generations: pd.DataFrame,
    root: str | Path,
    *,
    batch_size: int = 64,
    max_batch_tokens: int | None = 2048,
    input_span: str = "prompt_text",
    dtype: str = "float16",
    flush_every: int = 8,
    progress: Callable[[int], None] | None = None,
    show_progress: bool = True,
) -> ActivationStore:
    """Write input and output encodings of every layer to a store at ``root`` and return it.

    ``prompts``: prompt_id, prompt (one row per prompt). ``generations``: prompt_id, sample, text
    (the continuation only) and, where stored, token_ids (the generated ids of the continuation;
    rows without them are re-tokenised from their text and counted). A complete store with the
    same content key is reused as is; an incomplete one is resumed; one written for other inputs
    is replaced.
    """
    _check_inputs(prompts, generations, batch_size)
    cap = _capable(lm)
    root = Path(root)
    key = extraction_key(lm, prompts, generations, input_span, dtype)
    store = _existing_store(root, key)
    if store is not None and store.meta.get("complete"):
        logger.info("Activations at %s are complete for these inputs; reusing them", root)
        return store
    if store is not None:
        logger.info("Resuming activation extraction at %s", root)
    plan = _plan(lm, prompts, generations, input_span)
    input_index, output_index, items = plan
    if store is None:
        store = _new_store(
            root, lm=lm, cap=cap, plan=plan, key=key, dtype=dtype, input_span=input_span
        )
    done = store.progress()
    if done.size != len(items):
        raise RuntimeError(
            f"progress bitmap of {root} has {done.size} items, expected {len(items)}"
        )
    batches = _todo_batches(items, done, batch_size, max_batch_tokens)
    n_todo = sum(len(b) for b in batches)
    bar = _progress_bar(show_progress, lm, len(items), n_todo)
    t0 = time.perf_counter()
    overflow = _write_batches(
        cap,
        items,
        batches,
        _PendingRows(store, cap.n_layers),
        done=done,
        dtype=dtype,
        flush_every=flush_every,
        ticks=[t for t in (bar.update if bar is not None else None, progress) if t is not None],
    )
    if bar is not None:
        bar.close()
    if overflow:
        raise OverflowError(
            f"{overflow} encoding values exceed the float16 range; re-run the extraction with "
            "dtype float32"
        )
    elapsed = time.perf_counter() - t0
    _finish(store, cap, input_index, output_index, elapsed)
    logger.info("Extracted %d sequences in %.1f s into %s", n_todo, elapsed, root)
    return store
