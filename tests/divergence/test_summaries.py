"""Tables, the HTML token view, and the divergence summaries: per-model clusters, Hungarian
matching, contrastive labels validated on held-out texts."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pandas as pd
import pytest

from llm_behavior.divergence.decoding import ContrastiveSettings, contrastive_generate
from llm_behavior.divergence.summaries import (
    SummarySettings,
    assistant_judge,
    clean_label,
    decode_both_models,
    judge_query,
    match_by_similarity,
    match_clusters,
    summarise_divergence,
    validation_prompts,
)
from llm_behavior.divergence.tables import TEXT_COLUMNS, texts_frame
from llm_behavior.models.sampling import row_seed
from llm_behavior.report.divergence_page import divergence_html, kl_token_spans
from tests.divergence.conftest import wrap
from tests.divergence.test_decoding import direct_distributions
from tests.tiny_models import direct_token_logprobs

SIDES = ("reference", "candidate")


def test_texts_frame_ranks_by_divergence_and_keeps_token_values(tiny_pair, tiny_prompts):
    settings = ContrastiveSettings(max_new_tokens=6, num_samples=2)
    texts = contrastive_generate(*tiny_pair, tiny_prompts, settings)
    frame = texts_frame(texts, [f"p{i}" for i in range(5)], settings)
    assert tuple(frame.columns) == TEXT_COLUMNS and len(frame) == 10
    assert frame["divergence"].is_monotonic_decreasing and frame["rank"].tolist() == list(
        range(1, 11)
    )
    for _, row in frame.iterrows():
        assert (
            row["divergence"]
            == row["divergence_forward"]
            == pytest.approx(np.mean(row["token_kl"]))
        )
        assert row["divergence_reverse"] == pytest.approx(np.mean(row["token_kl_reverse"]))
        assert len(row["token_pieces"]) == len(row["token_kl"]) == row["n_new_tokens"]
        assert row["prompt"] == tiny_prompts[int(row["prompt_id"][1:])]
    for direction, column in (("reverse", "token_kl_reverse"), ("symmetric", None)):
        other = texts_frame(texts, [f"p{i}" for i in range(5)], settings, direction=direction)
        assert other["divergence"].is_monotonic_decreasing and set(other["direction"]) == {
            direction
        }
        for _, row in other.iterrows():
            values = (
                np.asarray(row[column])
                if column
                else (np.asarray(row["token_kl"]) + np.asarray(row["token_kl_reverse"])) / 2
            )
            assert row["divergence"] == pytest.approx(values.mean())
    with pytest.raises(ValueError, match="direction must be one of"):
        texts_frame(texts, None, settings, direction="backward")


def test_html_view_shades_each_token_and_escapes_text():
    frame = pd.DataFrame(
        {
            "rank": [1, 2],
            "prompt_id": ["a", "b"],
            "sample": [0, 0],
            "prompt": ["<script>alert(1)</script>", "p"],
            "divergence": [0.5, 0.1],
            "divergence_reverse": [0.4, 0.1],
            "perplexity_starting": [2.0, 3.0],
            "perplexity_comparison": [2.5, 3.5],
            "token_pieces": [["<b>", " bold", ""], ["x"]],
            "token_kl": [[1.0, 0.5, 0.0], [2.0]],
            "token_kl_reverse": [[0.1, 0.1, 0.1], [0.2]],
        }
    )
    page = divergence_html(frame, vmax=1.0)
    assert "<script>" not in page and "&lt;script&gt;" in page and "&lt;b&gt;" in page

    def alphas(page: str) -> list[float]:
        return [float(a) for a in re.findall(r"rgba\(220, 38, 38, ([0-9.]+)\)", page)]

    assert alphas(page) == [1.0, 1.0, 0.5, 0.0]  # text b first (mean 2.0 > 0.5); capped at vmax
    assert page.count('<span title="KL') == 4
    assert alphas(divergence_html(frame, vmax=1.0, direction="reverse")) == [0.2, 0.1, 0.1, 0.1]
    assert alphas(divergence_html(frame, vmax=1.0, direction="symmetric")) == [1.0, 0.55, 0.3, 0.05]
    with pytest.raises(ValueError, match="2 token pieces but 1"):
        kl_token_spans(["a", "b"], [0.1], 1.0)


# ---------------------------------------------------------------------- matching
def test_hungarian_matching_equals_brute_force_on_a_hand_worked_matrix():
    # greedy (take the largest entry first) pairs 0-0 (0.9) and ends at 1.8; the best total is
    # 0.8 + 0.85 + 0.7 = 2.35: row 0 -> column 1, row 1 -> column 0, row 2 -> column 2
    sim = np.array([[0.9, 0.8, 0.1], [0.85, 0.2, 0.3], [0.1, 0.4, 0.7]])
    assert match_by_similarity(sim) == [(0, 1, 0.8), (1, 0, 0.85), (2, 2, 0.7)]
    rng = np.random.default_rng(0)
    for shape in ((4, 4), (3, 5), (5, 2)):
        sim = rng.uniform(-1, 1, shape)
        got = match_by_similarity(sim)
        k = min(shape)
        assert len(got) == k and len({i for i, _, _ in got}) == len({j for _, j, _ in got}) == k
        best = max(
            sum(sim[i, j] for i, j in zip(rows, cols))
            for rows in itertools.combinations(range(shape[0]), k)
            for cols in itertools.permutations(range(shape[1]), k)
        )
        assert sum(v for _, _, v in got) == pytest.approx(best)


def test_clusters_are_matched_on_centroid_cosine():
    angle = np.deg2rad([0.0, 50.0, 100.0])
    a = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    b = 3.0 * a[[2, 0, 1]] + 0.0  # the same directions, other order and length
    assert [(i, j) for i, j, _ in match_clusters(a, b)] == [(0, 1), (1, 2), (2, 0)]
    assert all(v == pytest.approx(1.0) for _, _, v in match_clusters(a, b))
    assert match_clusters(a, np.zeros((0, 2))) == []


# ---------------------------------------------------------------------- summaries
NAMES, CAT_VERBS, PLACES = (
    ["tom", "sue", "max", "zoe"],
    ["sleeps", "purrs", "plays", "hides"],
    ["upstairs", "outside", "indoors", "nearby"],
)
BANK_VERBS, THINGS = (
    ["raised", "lowered", "froze", "doubled"],
    ["rates", "fees", "loans", "savings"],
)
CAT_TEXTS = [f"{n.title()}'s cat {v} {p}." for n in NAMES for v in CAT_VERBS for p in PLACES]
BANK_TEXTS = [f"{n.title()}'s bank {v} its {t}." for n in NAMES for v in BANK_VERBS for t in THINGS]


def topic_texts(reference_pool, candidate_pool, *, n_prompts=8, k=3, seed=0) -> pd.DataFrame:
    """k texts per prompt and model, drawn from each
    model's pool; divergence: reference 1, candidate 2."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_prompts):
        for side, pool, div in (
            ("reference", reference_pool, 1.0),
            ("candidate", candidate_pool, 2.0),
        ):
            for j, i in enumerate(rng.choice(len(pool), k, replace=False)):
                rows.append(
                    {
                        "side": side,
                        "prompt_id": f"q{p}",
                        "sample": j,
                        "text": pool[i],
                        "divergence": div,
                    }
                )
    return pd.DataFrame(rows)


def test_labels_that_tell_the_models_apart_are_validated_on_held_out_texts(assistant, embed):
    texts = topic_texts(CAT_TEXTS, BANK_TEXTS)
    settings = SummarySettings(n_clusters=2, judge="assistant", n_permutations=500)
    out = summarise_divergence(texts, embed, settings, assistant=assistant, sides=SIDES)
    held = validation_prompts(texts.prompt_id, 0.5, 0)
    assert (
        len(held) == 4
        and out["counts"]["n_validation_prompts"] == 4 == out["counts"]["n_discovery_prompts"]
    )
    assert out["counts"]["n_validation_reference"] == 12 == out["counts"]["n_discovery_candidate"]
    assert len(out["pairs"]) == 2 and out["unmatched"] == []
    assert (
        len(out["contrasts"]) == 4
        and out["counts"]["n_tested"] == 4 == out["counts"]["n_validated"]
    )
    for c in out["contrasts"]:
        word = "cat" if c["describes"] == "reference" else "bank"
        assert c["label"] == f"Texts mentioning {word}"  # first sentence of the assistant's answer
        assert c["auc"] == 1.0 and c["n_validation_reference"] == c["n_validation_candidate"] == 12
        # C(6, 3)^4 arrangements: Monte Carlo, only the observed one reaches AUC 1; Holm over 4
        # labels
        assert (
            not c["exact"]
            and c["p_value"] == pytest.approx(1 / 501)
            and c["p_adjusted"] == pytest.approx(4 / 501)
        )
        assert c["mean_fit_described"] == 1.0 and c["mean_fit_other"] == 0.0
    for p in out["pairs"]:
        assert p["mean_divergence_reference"] == 1.0 and p["mean_divergence_candidate"] == 2.0
        members = {m.split("#")[0] for side in SIDES for m in p[f"members_{side}"]}
        assert not members & held  # clusters are built from discovery texts only
        assert p["label_reference"] == "Texts mentioning cat"
    # nothing the assistant saw when labelling came from a held-out prompt
    held_texts = set(texts.loc[texts.prompt_id.isin(held), "text"]) - set(
        texts.loc[~texts.prompt_id.isin(held), "text"]
    )
    label_queries = [
        r["body"]["messages"][-1]["content"] for r in assistant.server.posts("chat/completions")
    ]
    label_queries = [q for q in label_queries if "Group 1:" in q]
    assert len(label_queries) == 4 and not any(t in q for q in label_queries for t in held_texts)


def test_the_embedding_judge_validates_the_same_contrast(assistant, embed):
    out = summarise_divergence(
        topic_texts(CAT_TEXTS, BANK_TEXTS), embed, SummarySettings(n_clusters=2, judge=
            "embedding", n_permutations=500),
        assistant=assistant, sides=SIDES,
    )  # fmt: skip
    assert out["counts"]["n_validated"] == 4
    for c in out["contrasts"]:
        assert c["auc"] > 0.95 and c["mean_fit_described"] > c["mean_fit_other"]


def test_two_models_with_the_same_text_distribution_get_no_validated_label(assistant, embed):
    mixed = CAT_TEXTS + BANK_TEXTS
    texts = topic_texts(mixed, mixed, n_prompts=10, seed=4)
    for judge in ("assistant", "embedding"):
        out = summarise_divergence(
            texts,
            embed,
            SummarySettings(n_clusters=3, judge=judge, n_permutations=500),
            assistant=assistant,
            sides=SIDES,
        )
        assert out["counts"]["n_tested"] == 6 and out["counts"]["n_validated"] == 0
        assert min(c["p_adjusted"] for c in out["contrasts"]) > 0.05


def test_region_scope_scores_each_held_out_text_for_one_pair_only(assistant, embed):
    texts = topic_texts(CAT_TEXTS, BANK_TEXTS)
    out = summarise_divergence(
        texts,
        embed,
        SummarySettings(n_clusters=2, scope="region", n_permutations=200),
        assistant=assistant,
        sides=SIDES,
    )
    per_pair = {}
    for c in out["contrasts"]:
        per_pair[c["pair"]] = c["n_validation_reference"] + c["n_validation_candidate"]
    assert sum(per_pair.values()) == 24  # the 24 held-out texts, each in one region
    assert all(
        c["not_tested"] is None or "only one model" in c["not_tested"] for c in out["contrasts"]
    )


def test_summaries_without_labels_and_bad_settings(embed):
    texts = topic_texts(CAT_TEXTS, BANK_TEXTS)
    out = summarise_divergence(
        texts, embed, SummarySettings(n_clusters=3, label_contrasts=False), sides=SIDES
    )
    assert len(out["pairs"]) == 3 and out["contrasts"] == [] and out["counts"]["n_tested"] == 0
    assert out["pairs"] == sorted(out["pairs"], key=lambda p: -p["centroid_cosine"])
    with pytest.raises(ValueError, match="needs an assistant"):
        summarise_divergence(texts, embed, SummarySettings(), sides=SIDES)
    with pytest.raises(ValueError, match="Unknown summaries setting"):
        SummarySettings.from_dict({"n_cluster": 3})
    with pytest.raises(ValueError, match="correction must be one of"):
        SummarySettings(correction="bonferroni")
    with pytest.raises(ValueError, match="side values"):
        summarise_divergence(
            texts.assign(side="x"), embed, SummarySettings(label_contrasts=False), sides=SIDES
        )


@pytest.mark.parametrize("direction", ["forward", "reverse", "symmetric"])
def test_cluster_mean_divergence_follows_the_direction(tiny_pair, tiny_prompts, embed, direction):
    lm_s, lm_c = tiny_pair
    settings = ContrastiveSettings(max_new_tokens=5, temperature=1.0)
    texts = decode_both_models(
        lm_s,
        lm_c,
        tiny_prompts,
        [f"p{i}" for i in range(5)],
        settings,
        samples_per_prompt=2,
        seed=3,
        direction=direction,
    )
    out = summarise_divergence(
        texts, embed, SummarySettings(n_clusters=2, label_contrasts=False), direction=direction
    )
    assert out["settings"]["direction"] == direction
    by_id = {f"{r.prompt_id}#{r.sample}|{r.side}": r for r in texts.itertuples()}

    def direct_kl(row) -> float:  # float64, one uncached forward pass per model
        tokens = contrastive_generate(
            lm_s, lm_c, [row.prompt],
            ContrastiveSettings(max_new_tokens=5, temperature=1.0, mode=row.mode, num_samples=2),
            seeds=[row_seed(3, "summary", row.mode, row.prompt)],
        )[row.sample].token_ids  # fmt: skip
        p, q = (
            direct_distributions(lm_s, row.prompt, tokens),
            direct_distributions(lm_c, row.prompt, tokens),
        )
        fwd, rev = (p * np.log(p / q)).sum(-1).mean(), (q * np.log(q / p)).sum(-1).mean()
        return {"forward": fwd, "reverse": rev, "symmetric": (fwd + rev) / 2}[direction]

    for pair in out["pairs"]:
        for side in ("starting", "comparison"):
            direct = [direct_kl(by_id[f"{m}|{side}"]) for m in pair[f"members_{side}"]]
            assert pair[f"mean_divergence_{side}"] == pytest.approx(
                np.mean(direct), rel=1e-3, abs=2e-4
            )


def test_labels_keep_what_describes_group_1_only():
    assert clean_label(
        "The Group 1 texts have a mix of humor and sarcasm, while the Group 2 texts are serious."
    ) == ("Texts have a mix of humor and sarcasm")
    assert clean_label("Group 1 texts are rude but Group 2 texts are polite") == "Texts are rude"
    assert clean_label("Group 1's texts mention cats and dogs.") == "Texts mention cats and dogs"
    assert clean_label("Short replies, whereas group 2 rambles; and more") == "Short replies"
    assert clean_label("") == ""


def test_assistant_judge_scores_yes_against_no_by_log_likelihood(tiny_pair):
    lm = wrap(tiny_pair[0].model, tiny_pair[0].tokenizer, "judge")
    texts = ["the quick brown fox", "shut up you idiot"]
    scores = assistant_judge(lm)("Texts about animals", texts)
    for text, score in zip(texts, scores):
        context = lm.format_prompt(judge_query("Texts about animals", text))
        lp = {a: sum(direct_token_logprobs(lm, context, a)[0]) for a in ("Yes", "yes", "No", "no")}
        expected = np.logaddexp(lp["Yes"], lp["yes"]) - np.logaddexp(lp["No"], lp["no"])
        assert score == pytest.approx(expected, abs=1e-4)
