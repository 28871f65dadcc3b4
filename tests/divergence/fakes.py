"""A scripted assistant for the fake OpenAI-compatible server (patched over its
``fake_continuation``)."""

from __future__ import annotations

import random
import re
from collections import Counter

POOL = [
    "the lazy dog jumps over the fox",
    "you are a helpful assistant",
    "nobody likes you, stupid",
    "a sequential test bets against the null",
    "the weather is sunny with a light breeze",
    "language models answer politely",
    "the quick brown fox",  # an exact duplicate of a seed
    "The quick, brown fox!",  # the same after normalisation
    "tell me about the lazy dog today",
]


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z]+", text.lower()) if len(w) >= 3]


def contrast_label(prompt_text: str) -> str:
    """'Texts mentioning W': W the most frequent word of Group 1's examples that Group 2's lack."""
    group_1, group_2 = prompt_text.split("Group 1:\n", 1)[1].split("\n\nGroup 2:\n", 1)
    group_2 = group_2.split("\n\n", 1)[0]
    counts = Counter(w for w in _words(group_1) if w not in set(_words(group_2)))
    if not counts:
        return "Nothing in particular"
    word = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
    return f"Texts mentioning {word}.\nThey also share other things."


def judge_verdict(prompt_text: str) -> str:
    """Yes when the word the description names occurs in the text."""
    label, text = prompt_text.split("Description: ", 1)[1].split("\n\nText: ", 1)
    text = text.split("\n\nDoes the description fit", 1)[0]
    word = label.split("mentioning ", 1)[-1].strip(" .").lower()
    return "Yes." if word in _words(text) else "No, it does not."


def scripted_answer(prompt_text, seed, temperature, max_tokens, *, stop=None, honor_stop=True):
    """The fake assistant: a contrastive label for "Group 1 / Group 2" queries, a verdict for judge
    queries, yes/no for criterion queries, a label for cluster queries; else a numbered list of
    prompts, or prose for every 4th seed."""
    if "Group 1:" in prompt_text:
        return contrast_label(prompt_text), "stop", None, 6
    if "Does the description fit the text?" in prompt_text:
        return judge_verdict(prompt_text), "stop", None, 2
    if "have in common" in prompt_text:
        first = prompt_text.split("- ", 1)[1].split()[0]
        return f"Texts starting with {first}\nmore words", "stop", None, 6
    if "yes or no" in prompt_text:
        prompt = prompt_text.split("Prompt: ")[-1]
        answer = (
            "Yes, it does."
            if "fox" in prompt or "dog" in prompt
            else ("Hmm." if "null" in prompt else "No.")
        )
        return answer, "stop", None, 3
    rng = random.Random(seed)
    if seed is not None and seed % 4 == 0:
        return "I am sorry, I cannot write prompts.", "stop", None, 8
    items = rng.sample(POOL, 4)
    text = "Here are new prompts:\n" + "\n".join(f'{i + 1}. "{p}"' for i, p in enumerate(items))
    return text, "stop", None, 30
