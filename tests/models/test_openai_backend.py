"""The OpenAI-compatible backend against a local fake (vLLM-like) server on 127.0.0.1."""

from __future__ import annotations

import copy
import gc
import json
import logging
import pickle
import socket
import time
import warnings

import pytest

from llm_behavior.models import CapabilityError, GenerationSettings, ModelSpec, load_language_model
from llm_behavior.models.openai_backend import (
    LOGLIKELIHOOD_CAPABILITY,
    EndpointAuthError,
    EndpointError,
    OpenAICompatibleLM,
    RateLimiter,
    _first_continuation_token,
)
from llm_behavior.models.sampling import row_seed
from tests.fake_openai_server import (
    TOP_LOGPROB,
    FakeOpenAIServer,
    chat_prompt_text,
    fake_continuation,
    fake_token_logprob,
)

MODEL = "fake-model"
SECRET = "sk-test-very-secret-123"


@pytest.fixture
def server():
    with FakeOpenAIServer(models=[MODEL, "other-model"]) as srv:
        yield srv


def make_lm(
    server: FakeOpenAIServer, api_key: str | None = None, rps: float | None = None, **spec_kw
) -> OpenAICompatibleLM:
    gen = spec_kw.pop("generation", {})
    spec_kw.setdefault("max_retries", 2)
    spec_kw.setdefault("request_timeout_s", 10.0)
    spec = ModelSpec.from_dict(
        {
            "source": MODEL,
            "backend": "openai",
            "base_url": server.base_url,
            "generation": gen,
            **spec_kw,
        }
    )
    return OpenAICompatibleLM(spec, api_key=api_key, requests_per_second=rps)


# ---------------------------------------------------------------------------- generation
def test_chat_generation_requests_shape_and_order(server):
    lm = make_lm(
        server, system_prompt="Be brief.", prompt_template="Q: {prompt}", max_concurrency=3
    )
    settings = GenerationSettings(
        max_new_tokens=5, temperature=0.7, top_p=0.9, num_samples=2, seed=11
    )
    ticks: list[int] = []
    prompts = ["hello there", "how are you", "bye"]
    gens = lm.generate(prompts, settings, progress=ticks.append)

    assert [(g.prompt_index, g.sample) for g in gens] == [
        (i, s) for i in range(3) for s in range(2)
    ]
    assert sum(ticks) == 6
    posts = server.posts("/chat/completions")
    assert len(posts) == 6
    by_key = {}
    for r in posts:
        body = r["body"]
        assert body["messages"][0] == {"role": "system", "content": "Be brief."}
        assert body["messages"][1]["role"] == "user" and body["messages"][1]["content"].startswith(
            "Q: "
        )
        assert (
            body["n"] == 1
            and body["max_tokens"] == 5
            and body["temperature"] == 0.7
            and body["top_p"] == 0.9
        )
        assert "stop" not in body
        by_key[(body["messages"][1]["content"], body["seed"])] = body
    # seed of (prompt i, sample s) = row_seed(row_seed(seed, i), s), as in the transformers backend
    for g in gens:
        seed = row_seed(row_seed(11, g.prompt_index), g.sample)
        msgs = [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": f"Q: {prompts[g.prompt_index]}"},
        ]
        assert (msgs[1]["content"], seed) in by_key
        text, finish, _, n_tok = fake_continuation(chat_prompt_text(msgs), seed, 0.7, 5)
        assert g.text == text
        assert g.n_new_tokens == n_tok
        assert g.n_prompt_tokens > 0
        assert g.finish_reason == {"stop": "eos", "length": "length"}[finish]
    assert {g.finish_reason for g in gens} <= {"eos", "length"}
    # same seeds -> same texts; explicit per-prompt seeds are used as given
    assert [g.text for g in lm.generate(prompts, settings)] == [g.text for g in gens]
    again = lm.generate(["bye"], settings, seeds=[row_seed(11, 2)])
    assert [g.text for g in again] == [g.text for g in gens if g.prompt_index == 2]
    # format_prompt is the JSON of the messages (for provenance hashing)
    assert json.loads(lm.format_prompt("bye")) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Q: bye"},
    ]


def test_completions_mode_greedy_and_length(server):
    lm = make_lm(server, use_chat_template=False, system_prompt="SYS")
    assert lm.format_prompt("x y") == "SYS\n\nx y"
    settings = GenerationSettings(max_new_tokens=2, do_sample=False, num_samples=2)
    gens = lm.generate(["the cat", "a dog"], settings)
    posts = server.posts("/v1/completions")
    assert len(posts) == 4
    assert {p["body"]["prompt"] for p in posts} == {"SYS\n\nthe cat", "SYS\n\na dog"}
    assert all(p["body"]["temperature"] == 0.0 and p["body"]["top_p"] == 1.0 for p in posts)
    for g in gens:  # every fake answer has >= 3 words: cut by max_new_tokens=2
        assert g.finish_reason == "length" and g.n_new_tokens == 2 and len(g.text.split()) == 2
    # greedy: both samples of a prompt are the same text
    assert gens[0].text == gens[1].text


def test_stop_strings_and_missing_usage(server):
    lm = make_lm(server)
    settings = GenerationSettings(max_new_tokens=10, temperature=1.0, seed=3)
    [free] = lm.generate(["tell me"], settings)
    word = free.text.split()[1]
    stop_settings = GenerationSettings(
        max_new_tokens=10, temperature=1.0, seed=3, stop=(" " + word,)
    )
    [stopped] = lm.generate(["tell me"], stop_settings)
    assert server.posts()[-1]["body"]["stop"] == [" " + word]
    assert (
        stopped.finish_reason == "stop" and stopped.text == free.text[: free.text.find(" " + word)]
    )
    # a server that ignores `stop`: the text is cut on our side
    server.honor_stop = False
    server.usage = False
    [cut] = lm.generate(["tell me"], stop_settings)
    assert cut.finish_reason == "stop" and cut.text == stopped.text
    assert cut.n_new_tokens == -1 and cut.n_prompt_tokens == -1  # unknown without `usage`


def test_top_k_goes_in_the_body_when_sampling(server):
    lm = make_lm(server)
    lm.generate(["hi"], GenerationSettings(top_k=5, temperature=0.5))
    assert server.posts()[-1]["body"]["top_k"] == 5
    lm.generate(["hi"], GenerationSettings(top_k=5, do_sample=False))
    assert "top_k" not in server.posts()[-1]["body"]


# ------------------------------------------------------------------ retries, timeouts, limits
def test_retries_on_429_and_503(server):
    lm = make_lm(server, max_retries=3)
    server.fail_first = 2
    [g] = lm.generate(["retry me"], GenerationSettings(max_new_tokens=3))
    assert g.text and server.n_failed == 2 and len(server.posts()) == 3
    server.reset_stats()
    server.fail_first, server.fail_status = 2, 503
    assert lm.generate(["retry me"], GenerationSettings(max_new_tokens=3))[0].text == g.text
    assert server.n_failed == 2


def test_retries_exhausted_is_a_clear_error(server):
    lm = make_lm(server, max_retries=1)
    server.fail_first = 10
    with pytest.raises(EndpointError, match=r"429 \(rate limited\) after 1 retries"):
        lm.generate(["x"], GenerationSettings(max_new_tokens=3))
    assert len(server.posts()) == 2


def test_concurrency_is_bounded(server):
    server.delay_s = 0.08
    lm = make_lm(server, max_concurrency=3)
    assert lm.client is not None  # import openai and build the client before the clock starts
    t0 = time.monotonic()
    ticks: list[float] = []
    gens = lm.generate(
        [f"prompt {k}" for k in range(12)],
        GenerationSettings(max_new_tokens=3),
        progress=lambda n: ticks.append(time.monotonic()),
    )
    elapsed = time.monotonic() - t0
    assert len(ticks) == 12 and ticks[0] - t0 < elapsed / 2  # progress as requests finish
    assert len(gens) == 12
    assert 2 <= server.max_in_flight <= 3
    assert elapsed >= 4 * 0.08 * 0.9  # 12 requests, 3 at a time


def _unclosed_sockets_while(action) -> list[str]:
    """The 'unclosed socket' ResourceWarnings raised while ``action()`` runs (then a gc)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        action()
        gc.collect()
    return [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


def test_close_and_drop_release_the_connections(server):
    lm = make_lm(server, max_concurrency=2)
    lm.generate(["a", "b"], GenerationSettings(max_new_tokens=3))
    assert _unclosed_sockets_while(lm.close) == []
    # a closed model opens a new client on its next request
    assert len(lm.generate(["c"], GenerationSettings(max_new_tokens=3))) == 1
    holder = {"lm": lm}
    del lm
    assert _unclosed_sockets_while(holder.clear) == []  # dropped without close(): no leak


def test_rate_limit_spaces_requests(server):
    lm = make_lm(server, max_concurrency=8, rps=25.0)
    lm.generate([f"p{k}" for k in range(8)], GenerationSettings(max_new_tokens=2))
    times = sorted(r["t"] for r in server.posts())
    assert len(times) == 8
    assert times[-1] - times[0] >= 7 * (1 / 25) * 0.8


def test_rate_limiter_unit():
    lim = RateLimiter(50.0)
    t0 = time.monotonic()
    for _ in range(6):
        lim.acquire()
    assert time.monotonic() - t0 >= 5 * 0.02 * 0.9
    with pytest.raises(ValueError):
        RateLimiter(0)


def test_timeout_is_a_clear_error(server):
    server.delay_s = 1.0
    lm = make_lm(server, request_timeout_s=0.2, max_retries=1)
    t0 = time.monotonic()
    with pytest.raises(EndpointError, match="request_timeout_s=0.2"):
        lm.generate(["slow"], GenerationSettings(max_new_tokens=2))
    assert time.monotonic() - t0 < 5
    assert len(server.posts()) == 2  # first try + one retry


def test_unreachable_server_is_a_clear_error():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    spec = ModelSpec(
        source=MODEL, backend="openai", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0
    )
    lm = OpenAICompatibleLM(spec, api_key=None)
    with pytest.raises(EndpointError, match="Cannot connect to http://127.0.0.1"):
        lm.generate(["x"])
    assert lm.provenance()["served_model"] is None  # provenance never fails a run


def test_unknown_model_lists_served_models(server):
    spec = ModelSpec(source="nope", backend="openai", base_url=server.base_url, max_retries=0)
    with pytest.raises(
        EndpointError, match=r"'nope' is not served .*\['fake-model', 'other-model'\]"
    ):
        OpenAICompatibleLM(spec).generate(["x"])


# ---------------------------------------------------------------------------- keys
def test_api_key_missing_wrong_and_right(server, caplog):
    server.api_key = SECRET
    with pytest.raises(EndpointAuthError, match=r"MY_KEY.*conf/local/credentials.yml") as info:
        make_lm(server, api_key_name="MY_KEY").generate(["x"])
    assert "none was given" in str(info.value)
    with pytest.raises(EndpointAuthError, match="rejected the API key from `MY_KEY`"):
        make_lm(server, api_key="wrong", api_key_name="MY_KEY").generate(["x"])

    caplog.set_level(logging.DEBUG)
    lm = make_lm(server, api_key=SECRET, api_key_name="MY_KEY")
    [g] = lm.generate(["x"], GenerationSettings(max_new_tokens=2))
    assert g.text
    assert server.posts()[-1]["authorization"] == f"Bearer {SECRET}"
    prov = lm.provenance()
    assert prov["served_model"]["root"] == f"/models/{MODEL}"
    for blob in (repr(lm), str(lm), json.dumps(prov, default=str), caplog.text):
        assert SECRET not in blob


def test_local_server_without_key_gets_a_dummy_key(server, monkeypatch):
    # the environment must not leak in: the key is the argument
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    lm = make_lm(server)
    lm.generate(["x"], GenerationSettings(max_new_tokens=2))
    assert server.posts()[-1]["authorization"] == "Bearer EMPTY"


def test_factory_reads_the_key_from_credentials(server):
    server.api_key = SECRET
    spec = {
        "source": MODEL,
        "backend": "openai",
        "base_url": server.base_url,
        "api_key_name": "VLLM_KEY",
    }
    lm = load_language_model(spec, credentials={"VLLM_KEY": {"api_key": SECRET}})
    assert isinstance(lm, OpenAICompatibleLM)
    assert lm.generate(["x"], GenerationSettings(max_new_tokens=2))[0].text


def test_copy_and_pickle(server):
    lm = make_lm(server, rps=1000.0)
    lm.generate(["x"], GenerationSettings(max_new_tokens=2))
    for other in (copy.deepcopy(lm), pickle.loads(pickle.dumps(lm))):
        assert other.generate(["x"], GenerationSettings(max_new_tokens=2))[0].text
        assert other._limiter is not None and other._limiter is not lm._limiter


# ---------------------------------------------------------------------------- provenance
def test_provenance(server):
    lm = make_lm(server, use_chat_template=True)
    prov = lm.provenance()
    assert prov["backend"] == "openai"
    assert prov["base_url"] == server.base_url
    assert prov["source"] == MODEL and prov["endpoint"] == "chat.completions"
    assert prov["served_model"] == {
        "id": MODEL,
        "owned_by": "fake",
        "root": f"/models/{MODEL}",
        "max_model_len": 2048,
    }
    assert prov["versions"]["openai"] and prov["versions"]["server"] == "fake-0.1"
    assert lm.provenance() == prov  # stable (no timestamps)
    assert "created" not in json.dumps(prov)
    spec = ModelSpec(
        source=MODEL, backend="openai", base_url="http://user:pw@127.0.0.1:1/v1?key=abc"
    )
    shown = repr(OpenAICompatibleLM(spec))
    assert "pw" not in shown and "abc" not in shown


def test_chat_template_hash(server):
    chat = make_lm(server, use_chat_template="auto")
    fingerprint = chat.chat_template_hash
    assert fingerprint and chat.provenance()["chat_template_hash"] == fingerprint
    assert server.posts("/tokenize")[-1]["body"]["add_generation_prompt"] is True
    assert make_lm(server, use_chat_template=False).chat_template_hash is None
    server.tokenize = False  # no /tokenize (not vLLM): still marked as templated, server-side
    marker = make_lm(server, use_chat_template=True).chat_template_hash
    assert marker and marker != fingerprint


def test_hidden_states_are_a_capability_error(server):
    with pytest.raises(CapabilityError, match="hidden states"):
        make_lm(server).hidden_states(["x"])


# ---------------------------------------------------------------------------- log-likelihood
def lp(*tokens: str) -> float:
    return sum(fake_token_logprob(t) for t in tokens)


@pytest.mark.parametrize("bos", [None, "<s>"])
def test_loglikelihood_splits_context_and_continuation(server, bos):
    server.bos = bos
    # log-likelihoods take raw text: no chat template even when the spec uses one
    lm = make_lm(server, use_chat_template=True, max_concurrency=2)
    reqs = [
        ("The cat", " sat down"),  # tokens: The | ␣cat || ␣sat | ␣down
        ("The cat ", "sat"),  # trailing space moves onto the continuation: ␣sat
        ("I am", " ok"),  # ␣ok: 3 chars, not the greedy token
        ("go on", " a"),  # ␣a: 2 chars -> the greedy token
        ("Hello wor", "ld again"),  # ␣world straddles the boundary: counted for the continuation
    ]
    out = lm.loglikelihood(reqs)
    assert [o.n_tokens for o in out] == [2, 1, 1, 1, 2]
    assert out[0].logprob == pytest.approx(lp(" sat", " down")) == -2.25
    assert out[0].token_logprobs == [-1.0, -1.25]
    assert out[1].logprob == pytest.approx(lp(" sat"))
    assert out[2].logprob == pytest.approx(-0.75) and not out[2].is_greedy
    assert (
        out[3].logprob == pytest.approx(-0.5)
        and out[3].is_greedy
        and fake_token_logprob(" a") >= TOP_LOGPROB
    )
    assert out[4].logprob == pytest.approx(lp(" world", " again"))
    posts = server.posts("/v1/completions")
    assert len(posts) == 5
    body = posts[0]["body"]
    assert body["echo"] is True and body["logprobs"] == 1 and body["max_tokens"] == 0
    assert {p["body"]["prompt"] for p in posts} == {c + x for c, x in reqs}


def test_loglikelihood_empty_context(server):
    lm = make_lm(server)
    with pytest.raises(ValueError, match="no BOS token"):
        lm.loglikelihood([("", "hello")])
    server.bos = "<s>"
    [out] = lm.loglikelihood([("", "hello there")])
    assert out.logprob == pytest.approx(lp("hello", " there"))


def test_loglikelihood_when_max_tokens_zero_is_refused(server):
    server.min_max_tokens = 1
    lm = make_lm(server)
    out = lm.loglikelihood([("The cat", " sat down"), ("a", " b")])
    # the generated token is dropped
    assert out[0].logprob == pytest.approx(-2.25) and out[0].n_tokens == 2
    assert out[1].n_tokens == 1
    assert server.posts()[-1]["body"]["max_tokens"] == 1


def test_loglikelihood_byte_level_tokens_fall_back_to_context_count(server):
    server.token_style = "gpt2"  # tokens "ĠThe": they do not spell the text
    lm = make_lm(server)
    [out] = lm.loglikelihood([("The cat", " sat down")])
    assert out.logprob == pytest.approx(-2.25) and out.n_tokens == 2
    assert [p["body"]["prompt"] for p in server.posts()] == ["The cat sat down", "The cat"]


@pytest.mark.parametrize("mode", ["error", "missing"])
def test_loglikelihood_unsupported_is_a_capability_error(server, mode):
    server.logprobs_mode = mode
    with pytest.raises(CapabilityError, match=LOGLIKELIHOOD_CAPABILITY):
        make_lm(server).loglikelihood([("The cat", " sat")])
    assert LOGLIKELIHOOD_CAPABILITY == "prompt log-probabilities via completions echo"


def test_loglikelihood_empty_continuation_is_an_error(server):
    with pytest.raises(ValueError, match="continuation is empty"):
        make_lm(server).loglikelihood([("abc", "")])


def test_first_continuation_token_alignment():
    toks = ["<s>", "The", " cat", " sat"]
    assert _first_continuation_token(toks, "The cat sat", 7) == 3
    assert _first_continuation_token(toks, "The cat sat", 5) == 2  # inside " cat": straddles
    # an empty piece (half of a multi-byte character) at the boundary goes to the continuation
    assert _first_continuation_token(["Caf", "", "é", " ok"], "Café ok", 3) == 1
    assert _first_continuation_token(["ĠThe"], "The", 1) is None
