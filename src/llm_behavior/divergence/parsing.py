"""Robust parsing of an assistant LM's answers: lists of prompts, yes/no verdicts.

Small assistants (SmolLM2-135M) answer with numbered lists, bullets, JSON, prose or nothing
useful. A list is accepted in any of those list shapes; anything else is *malformed* (counted by
the caller, never an exception). Items that are too short/long are rejected with a reason.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

_ITEM = re.compile(
    r"^\s*(?:\(?\d{1,3}\s*[.):\]]|[-*\u2022]|#\d{1,3}[.:)]?|prompt\s*\d{0,3}\s*[:.)-])\s*(.+?)\s*$",
    re.I,
)
_LABEL = re.compile(r"^(?:prompt|user|question|text|input)\s*\d{0,3}\s*[:\-]\s*", re.I)
_TRAILING_SCORE = re.compile(
    r"\s*[\(\[]?\s*(?:score|rating|rated|divergence)\s*[:=]?\s*\d+(?:\.\d+)?\s*(?:/\s*10)?\s*[\)\]]?\s*$",
    re.I,
)
_LEADING_SCORE = re.compile(
    r"^\s*(?:(?:score|rating|rated|divergence)\s*[:=]?\s*\d+(?:\.\d+)?\s*(?:/\s*10)?\s*[:\-,)]?"
    r"|\d+(?:\.\d+)?\s*(?:/\s*10)?\s*:)\s+",
    re.I,
)
_NESTED_MARKER = re.compile(r"^(?:\[\d{1,3}\]|\d{1,3}[.)])\s+")
_QUOTES = "\"'\u201c\u201d\u2018\u2019`"


@dataclass
class ParsedList:
    """Prompts parsed from one answer; ``malformed`` when no list could be found at all."""

    prompts: list[str]
    malformed: bool
    fmt: str  # "json" | "list" | "none"
    rejected: Counter = field(default_factory=Counter)  # reason -> count of dropped items


def clean_item(item: str) -> str:
    """Strip labels ("Prompt 3:"), score annotations, wrapping quotes and markdown emphasis."""
    text = item.strip().strip("*_").strip()
    text = _NESTED_MARKER.sub("", text)  # "1. [2] ..." or "1. 3. ...": a second list marker
    text = _LEADING_SCORE.sub("", text)
    text = _LABEL.sub("", text)
    text = _TRAILING_SCORE.sub("", text).strip()
    if len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
        text = text[1:-1].strip()
    elif text and text[0] in _QUOTES and text.count(text[0]) == 1:  # an opening quote never closed
        text = text[1:].strip()
    return re.sub(r"\s+", " ", text)


def _json_strings(obj: Any) -> list[str] | None:
    """Strings of a parsed JSON answer: a list of strings/objects, or an object of prompt fields."""
    if isinstance(obj, dict):
        keys = [k for k in obj if re.search(r"prompt|text|question", str(k), re.I)] or list(obj)
        if len(keys) == 1 and isinstance(obj[keys[0]], list):
            return _json_strings(obj[keys[0]])
        values = [obj[k] for k in keys]
        return [v for v in values if isinstance(v, str)] or None
    if isinstance(obj, list):
        out = []
        for v in obj:
            if isinstance(v, str):
                out.append(v)
            elif isinstance(v, dict):
                inner = _json_strings(v)
                out.extend(inner or [])
        return out or None
    return None


def _try_json(text: str) -> list[str] | None:
    for open_, close in (("[", "]"), ("{", "}")):
        start, end = text.find(open_), text.rfind(close)
        if 0 <= start < end:
            try:
                found = _json_strings(json.loads(text[start : end + 1]))
            except (json.JSONDecodeError, ValueError):
                continue
            if found:
                return found
    return None


def parse_prompt_list(
    answer: str,
    *,
    truncated: bool = False,
    min_chars: int = 8,
    max_chars: int = 400,
) -> ParsedList:
    """Prompts from an assistant's answer (JSON list/object, numbered or bulleted lines).

    ``truncated``: the answer hit its token limit, so its last list item may be cut off and is
    dropped (reason ``truncated``).
    """
    rejected: Counter = Counter()
    items = _try_json(answer)
    fmt = "json"
    if items is None:
        fmt = "list"
        items = []
        for line in answer.splitlines():
            m = _ITEM.match(line)
            if m:
                items.append(m.group(1))
            elif items and line[:1] in (" ", "\t") and line.strip():
                items[-1] += " " + line.strip()  # an indented continuation of the previous item
        if truncated and items:
            items = items[:-1]
            rejected["truncated"] += 1
    if not items:
        return ParsedList([], malformed=True, fmt="none", rejected=rejected)
    prompts = []
    for raw in items:
        text = clean_item(str(raw))
        if len(text) < min_chars:
            rejected["too_short"] += 1
        elif len(text) > max_chars:
            rejected["too_long"] += 1
        else:
            prompts.append(text)
    return ParsedList(prompts, malformed=False, fmt=fmt, rejected=rejected)


_YES_NO = re.compile(r"\b(yes|no)\b", re.I)


def parse_yes_no(answer: str) -> bool | None:
    """The first "yes"/"no" word of an answer (None when there is none)."""
    m = _YES_NO.search(answer)
    return None if m is None else m.group(1).lower() == "yes"
