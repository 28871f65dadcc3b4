"""Log-likelihood scoring with shared prefixes computed once: requests packed into rows.

Requests that begin with the same tokens (the options of a multiple-choice item after their
question, the three StereoSet candidates after their context, the two CrowS-Pairs sentences up to
the first word they differ in) share one row of the batch:

    row = prefix + suffix_1 + suffix_2 + ... + suffix_k      (then right padding)

Each suffix attends to the prefix and causally to itself (a 4-D attention mask), and its position
ids continue from the end of the prefix, so every token sees exactly the tokens it would see in its
own unpadded sequence; the prefix is computed once instead of k times. Short groups are then
packed side by side into rows as long as the longest group (each attends only within itself), so a
batch carries little padding. The LM head and the log-softmax run only at the positions that
predict a scored token (a gather of the last hidden states, ``HEAD_CHUNK`` positions at a time),
not over contexts. Results equal one full forward pass per request with ``log_softmax`` up to
float error (tests).

Grouping is greedy over the requests sorted by their token ids: a request joins the current group
while the shared prefix stays at least ``min_shared`` tokens, the tokens saved do not shrink, and
the row stays within ``max_row_tokens``. A request's suffix always keeps at least its last token;
a request alone is a group whose prefix is all of it.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# attention implementations that take a custom 4-D mask
PACKABLE_ATTENTION = ("sdpa", "eager")
# scored positions whose full-vocabulary logits are held in memory at once
HEAD_CHUNK = 2048


@dataclass(frozen=True)
class Group:
    """Requests (indices into the call) whose token
    sequences share their first ``n_prefix`` tokens."""

    n_prefix: int
    members: tuple[int, ...]


def common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def group_by_prefix(
    seqs: Sequence[Sequence[int]], *, min_shared: int = 4, max_row_tokens: int = 2048
) -> list[Group]:
    """Greedy groups of sequences sharing a prefix (see the module docstring); every index once."""
    order = sorted(range(len(seqs)), key=lambda i: list(seqs[i]))
    groups: list[Group] = []
    members: list[int] = []
    n_prefix = 0

    def close() -> None:  # a request alone keeps all of its tokens as its "prefix"
        groups.append(
            Group(n_prefix if len(members) > 1 else len(seqs[members[0]]), tuple(members))
        )

    for i in order:
        s = seqs[i]
        if members:
            new_prefix = min(n_prefix, common_prefix_length(seqs[members[0]], s), len(s) - 1)
            saved_before = (len(members) - 1) * n_prefix
            saved_after = len(members) * new_prefix
            row_tokens = new_prefix + sum(len(seqs[m]) - new_prefix for m in [*members, i])
            if (
                new_prefix >= min_shared
                and saved_after >= saved_before
                and row_tokens <= max_row_tokens
            ):
                members.append(i)
                n_prefix = new_prefix
                continue
            close()
        members, n_prefix = [i], len(s) - 1
    if members:
        close()
    return groups


def group_tokens(g: Group, seqs: Sequence[Sequence[int]]) -> int:
    """Length of a group laid out as prefix + suffixes."""
    return g.n_prefix + sum(len(seqs[m]) - g.n_prefix for m in g.members)


def fill_rows(groups: Sequence[Group], seqs: Sequence[Sequence[int]]) -> list[list[Group]]:
    """Groups packed into rows as long as the longest
    group (best fit, longest first): little padding.

    Each group goes to the row with the least free room that still holds it (a sorted list of
    (free tokens, row) searched by bisection), else to a new row.
    """
    sized = sorted(((group_tokens(g, seqs), k) for k, g in enumerate(groups)), key=lambda x: -x[0])
    width = sized[0][0] if sized else 0
    rows: list[list[Group]] = []
    free: list[tuple[int, int]] = []  # (free tokens, row index), ascending
    for size, k in sized:
        at = bisect.bisect_left(free, (size, -1))
        if at == len(free):
            rows.append([groups[k]])
            r, room = len(rows) - 1, width - size
        else:
            room, r = free.pop(at)
            rows[r].append(groups[k])
            room -= size
        if room > 0:
            bisect.insort(free, (room, r))
    return rows


@dataclass
class PackedBatch:
    """Model inputs for a batch of rows, and where each scored token's logit comes from."""

    input_ids: Any  # (rows, width)
    position_ids: Any  # (rows, width)
    groups: Any  # (rows, width): the group a column belongs to within its row, -1 padding
    segments: Any  # (rows, width): 0 prefix, k suffix k of its group, -1 padding
    gather_row: list[int]
    gather_col: list[int]
    targets: list[int]
    owners: list[int]  # request index of each scored token, in order


def pack(
    rows: Sequence[Sequence[Group]],
    seqs: Sequence[Sequence[int]],
    n_scored: Sequence[int],
    pad: int,
) -> PackedBatch:
    """Lay the groups of each row out one after another; record the logit column and target of
    every scored token.

    Token ``j`` of request ``m`` (scored when ``j >= len(m) - n_scored[m]``) is predicted by the
    column holding its token ``j - 1``: the group's start plus ``j - 1`` inside the prefix, else the
    suffix's start plus ``j - 1 - n_prefix``.
    """
    import torch

    laid: list[tuple[list[int], list[int], list[int], list[int]]] = []
    gather_row, gather_col, targets, owners = [], [], [], []
    for r, row in enumerate(rows):
        ids: list[int] = []
        pos: list[int] = []
        grp: list[int] = []
        seg: list[int] = []
        for gi, g in enumerate(row):
            p, start = g.n_prefix, len(ids)
            ids += seqs[g.members[0]][:p]
            pos += range(p)
            seg += [0] * p
            for k, m in enumerate(g.members, start=1):
                s = seqs[m]
                offset = len(ids)
                ids += s[p:]
                pos += range(p, len(s))
                seg += [k] * (len(s) - p)
                for j in range(len(s) - n_scored[m], len(s)):
                    gather_row.append(r)
                    gather_col.append(start + j - 1 if j - 1 < p else offset + j - 1 - p)
                    targets.append(s[j])
                    owners.append(m)
            grp += [gi] * (len(ids) - start)
        laid.append((ids, pos, grp, seg))
    width = max(len(x[0]) for x in laid)
    input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
    position_ids = torch.zeros((len(rows), width), dtype=torch.long)
    groups = torch.full((len(rows), width), -1, dtype=torch.long)
    segments = torch.full((len(rows), width), -1, dtype=torch.long)
    for r, (ids, pos, grp, seg) in enumerate(laid):
        n = len(ids)
        input_ids[r, :n] = torch.tensor(ids)
        position_ids[r, :n] = torch.tensor(pos)
        groups[r, :n] = torch.tensor(grp)
        segments[r, :n] = torch.tensor(seg)
    return PackedBatch(
        input_ids, position_ids, groups, segments, gather_row, gather_col, targets, owners
    )


def attention_mask(groups: Any, segments: Any) -> Any:
    """Boolean 4-D mask (rows, 1, width, width), True where a query may attend to a key: causal,
    within a group, and a suffix sees only its group's prefix and itself.

    Padding columns (group -1, at the right end) see only padding; they are never gathered, and no
    row of the mask is empty.
    """
    import torch

    width = segments.shape[1]
    idx = torch.arange(width, device=segments.device)
    causal = idx[None, :] <= idx[:, None]  # (query, key)
    same_group = groups[:, :, None] == groups[:, None, :]
    same_segment = segments[:, :, None] == segments[:, None, :]
    key_in_prefix = (segments == 0)[:, None, :]
    return (causal[None] & same_group & (same_segment | key_in_prefix))[:, None]


def additive(mask: Any, dtype: Any) -> Any:
    """A boolean mask as the additive float mask eager attention adds to its scores."""
    import torch

    out = torch.zeros(mask.shape, dtype=dtype, device=mask.device)
    return out.masked_fill_(~mask, torch.finfo(dtype).min)


def head_only_at_gathered(model: Any) -> bool:
    """Whether logits = output embedding(last hidden state) exactly (no soft-capping or scaling)."""
    cfg = model.config
    return (
        model.get_output_embeddings() is not None
        and getattr(cfg, "final_logit_softcapping", None) is None
        and getattr(cfg, "logit_scale", None) is None
        and getattr(model, "base_model_prefix", "") != ""
        and hasattr(model, getattr(model, "base_model_prefix", ""))
    )


def score_packed(model: Any, batch: PackedBatch, device: Any) -> tuple[Any, Any]:
    """One forward pass over a packed batch: (token
    log-probs, token is argmax) in ``batch.owners`` order."""
    import torch

    mask = attention_mask(batch.groups.to(device), batch.segments.to(device))
    if model.config._attn_implementation == "eager":  # sdpa takes the boolean mask as it is
        mask = additive(mask, model.get_input_embeddings().weight.dtype)  # activations' dtype
    inputs = {
        "input_ids": batch.input_ids.to(device),
        "position_ids": batch.position_ids.to(device),
        "attention_mask": mask,
        "use_cache": False,
    }
    width = batch.input_ids.shape[1]
    flat = torch.tensor(batch.gather_row) * width + torch.tensor(batch.gather_col)
    # a shared prefix's positions predict the same token for every member: compute them once
    where, slot = torch.unique(flat, return_inverse=True)
    rows, cols = (where // width).to(device), (where % width).to(device)
    # last hidden states at the gathered positions, or their logits when the model's head cannot
    # be applied on its own (soft-capping, logit scaling)
    if head_only_at_gathered(model):
        base = getattr(model, model.base_model_prefix)
        hidden = base(**inputs).last_hidden_state[rows, cols]
        head = model.get_output_embeddings()
    else:
        hidden = model(**inputs).logits[rows, cols]
        head = None
    slot = slot.to(device)
    target = torch.tensor(batch.targets, device=device)
    picked = torch.empty(len(target), dtype=torch.float32, device=device)
    is_max = torch.empty(len(target), dtype=torch.bool, device=device)
    # the (positions, vocabulary) logits in chunks: memory stays bounded for long continuations
    for start in range(0, len(hidden), HEAD_CHUNK):
        part = hidden[start : start + HEAD_CHUNK]
        logits = (head(part) if head is not None else part).float()
        sel = (slot >= start) & (slot < start + len(part))
        at, tgt = slot[sel] - start, target[sel]
        picked[sel] = logits[at, tgt] - torch.logsumexp(logits, dim=-1)[at]
        is_max[sel] = logits.argmax(-1)[at] == tgt
    return picked.double().cpu(), is_max.cpu()
