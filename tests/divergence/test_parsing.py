"""Parsing an assistant's answers: every list shape a small model writes, and what is malformed."""

from __future__ import annotations

import random

import pytest

from llm_behavior.divergence.parsing import clean_item, parse_prompt_list, parse_yes_no


@pytest.mark.parametrize(
    "answer, expected, fmt",
    [
        (
            "1. Why is the sky blue?\n2. Tell me a joke about cats.\n3) What is love?",
            ["Why is the sky blue?", "Tell me a joke about cats.", "What is love?"],
            "list",
        ),
        (
            'Here you go:\n\n1. "Insult my cooking."\n2. Prompt 2: Describe your boss.\n',
            ["Insult my cooking.", "Describe your boss."],
            "list",
        ),
        (
            "- first prompt here\n* second prompt here\n\u2022 third prompt here",
            ["first prompt here", "second prompt here", "third prompt here"],
            "list",
        ),
        (
            '["What do you think of me?", "Say something mean."]',
            ["What do you think of me?", "Say something mean."],
            "json",
        ),
        (
            'Sure! {"prompt 1": "Rate my poem honestly.", "prompt 2": "Is my code bad?"} '
            "Hope it helps",
            ["Rate my poem honestly.", "Is my code bad?"],
            "json",
        ),
        (
            '{"prompts": ["Tell me about dogs.", "Why are people rude?"]}',
            ["Tell me about dogs.", "Why are people rude?"],
            "json",
        ),
        (
            '[{"prompt": "Explain taxes to me."}, {"prompt": "Roast my outfit."}]',
            ["Explain taxes to me.", "Roast my outfit."],
            "json",
        ),
        (
            "1. Tell me why (score 9.5)\n2. score 8: What is the worst food?",
            ["Tell me why", "What is the worst food?"],
            "list",
        ),
        (
            "1. 1.6: The king has a room.\n2. rating 10: Why do "
            "you hate me?\n3. Ask me anything (rating: 9/10)",
            ["The king has a room.", "Why do you hate me?", "Ask me anything"],
            "list",
        ),
        (
            "1. 5, 6 and 7 are numbers\n2. 10 reasons to smile",
            ["5, 6 and 7 are numbers", "10 reasons to smile"],
            "list",
        ),
        (
            "1. A long prompt that starts here\n   and continues "
            "on the next line.\n2. Another one please.",
            [
                "A long prompt that starts here and continues on the next line.",
                "Another one please.",
            ],
            "list",
        ),
    ],
)
def test_list_shapes(answer, expected, fmt):
    parsed = parse_prompt_list(answer)
    assert not parsed.malformed
    assert parsed.prompts == expected
    assert parsed.fmt == fmt


@pytest.mark.parametrize(
    "answer",
    [
        "",
        "I'm sorry, I cannot help with that request.",
        "{not json at all",
        "Here are some ideas: cats, dogs and birds.",
    ],
)
def test_prose_and_garbage_are_malformed_not_errors(answer):
    parsed = parse_prompt_list(answer)
    assert parsed.malformed and parsed.prompts == [] and parsed.fmt == "none"


def test_short_long_and_truncated_items_are_counted():
    answer = "1. ok\n2. A perfectly fine prompt.\n3. " + "x" * 500 + "\n4. This one was cut off mid"
    parsed = parse_prompt_list(answer, truncated=True, min_chars=8, max_chars=400)
    assert parsed.prompts == ["A perfectly fine prompt."]
    assert parsed.rejected == {"too_short": 1, "too_long": 1, "truncated": 1}
    # without the truncation flag the last item is kept
    assert parse_prompt_list(answer).prompts[-1] == "This one was cut off mid"


def test_random_answers_never_raise():
    """Fuzz: list markers, quotes, brackets, labels and
    scores in random order never crash the parser."""
    rng = random.Random(0)
    atoms = ["1.", "2)", "-", "*", '"', "'", "\u201c", "[", "]", "{", "}", ":", "score 9:",
             "Prompt 2:", "(score 3)", "**", "\n", "\n  ", " ", "why", "you", "?", "1.6:",
             "rating 10", "/10", ",", "\t"]  # fmt: skip
    for _ in range(3000):
        answer = "".join(rng.choice(atoms) for _ in range(rng.randint(0, 25)))
        parsed = parse_prompt_list(answer, truncated=rng.random() < 0.5)
        assert parsed.malformed == (parsed.fmt == "none")
        assert all(isinstance(p, str) and p for p in parsed.prompts)
        clean_item(answer)


def test_clean_item_strips_wrapping_and_labels():
    assert clean_item('  **"Why are you here?"**  ') == "Why are you here?"
    assert clean_item("Question 3: How   are\tyou?") == "How are you?"
    assert clean_item("\u201cCurly quoted prompt\u201d") == "Curly quoted prompt"
    assert clean_item("[1] What can I do for you?") == "What can I do for you?"
    assert clean_item("3. Do not delete my messages.") == "Do not delete my messages."
    assert clean_item("3 reasons to smile") == "3 reasons to smile"


@pytest.mark.parametrize(
    "answer, verdict",
    [
        ("Yes.", True),
        ("no", False),
        ("  NO, it does not.", False),
        ("I think yes", True),
        ("Maybe", None),
        ("", None),
        ("Nope", None),
    ],
)
def test_yes_no(answer, verdict):
    assert parse_yes_no(answer) is verdict
