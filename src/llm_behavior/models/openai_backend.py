"""OpenAI-compatible HTTP backend: vLLM (``vllm serve``), Ollama, llama.cpp server, OpenAI.

Requests go through the official ``openai`` client (sync), driven by a thread pool of
``spec.max_concurrency`` workers, so at most that many requests are in flight. The client
retries 408/409/429/5xx answers, timeouts and dropped connections ``spec.max_retries`` times
with exponential backoff (and honours ``Retry-After``); every request times out after
``spec.request_timeout_s``. An optional requests-per-second limit spaces out every HTTP
attempt, retries included.

Generation sends one request per (prompt, sample) with ``n=1`` and the seed
``row_seed(prompt_seed, sample)`` -- the rule the transformers backend uses -- so that:
the token counts of every sample are exact (``usage`` is summed over choices when ``n > 1``),
sample ``s`` of a prompt does not depend on ``num_samples`` (raising it later keeps the
samples already generated), and servers that ignore ``n`` give the same result.
vLLM's prefix cache makes the repeated prompt of the extra requests nearly free.

Log-likelihoods use the completions endpoint with ``echo=True, logprobs=1, max_tokens=0``
(vLLM answers with the prompt's per-token log-probabilities); the context/continuation split
is made on character offsets of the echoed tokens. A server that cannot do this raises
:class:`~llm_behavior.models.base.CapabilityError` naming the missing capability. Hidden
states are never available over HTTP.

The API key comes only from the constructor argument (see ``factory.resolve_api_key``: the
``spec.api_key_name`` entry of conf/local/credentials.yml, then the environment variable of
that name). It is never logged and never appears in ``repr`` or :meth:`provenance`.
"""

from __future__ import annotations

import importlib
import ipaddress
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from llm_behavior.models.base import CapabilityError, Generation, LanguageModel, LogLikelihood
from llm_behavior.models.sampling import apply_stop, row_seed
from llm_behavior.models.spec import GenerationSettings, ModelSpec, stable_hash

logger = logging.getLogger(__name__)

#: what a server must support for :meth:`OpenAICompatibleLM.loglikelihood`
LOGLIKELIHOOD_CAPABILITY = "prompt log-probabilities via completions echo"
#: sent when no key is configured: vLLM without ``--api-key`` accepts any key
DUMMY_API_KEY = "EMPTY"
#: token counts a server did not report
UNKNOWN = -1

T = TypeVar("T")
R = TypeVar("R")


class EndpointError(RuntimeError):
    """The server could not be reached, refused the request, or kept failing after retries."""


class EndpointAuthError(EndpointError, PermissionError):
    """The server wants an API key that was not given, or rejected the one given."""


class RateLimiter:
    """Spaces calls at least ``1 / requests_per_second`` apart (thread-safe, no bursts)."""

    def __init__(self, requests_per_second: float):
        if not requests_per_second > 0:
            raise ValueError(f"requests_per_second must be > 0, got {requests_per_second}")
        self.interval = 1.0 / float(requests_per_second)
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(self._next, now)
            self._next = slot + self.interval
        if slot > now:
            time.sleep(slot - now)

    def __call__(self, _request: Any = None) -> None:  # an httpx "request" event hook
        self.acquire()


@dataclass
class _EchoedPrompt:
    """The per-token answer of a completions call with ``echo=True, logprobs=1``."""

    tokens: list[str]
    logprobs: list[float | None]
    top: list[dict[str, float] | None]


def _redact_url(url: str) -> str:
    """The URL without user info, query or fragment (where keys sometimes hide)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _httpx_module() -> Any:
    """The httpx flavour the installed ``openai`` client is built on (``httpx`` or ``httpx2``)."""
    import openai

    base = next(c for c in openai.DefaultHttpxClient.__mro__[1:] if c.__name__ == "Client")
    return importlib.import_module(base.__module__.split(".")[0])


def _move_trailing_space(context: str, continuation: str) -> tuple[str, str]:
    """Trailing whitespace of the context belongs to the
    continuation (as in the transformers backend)."""
    n_space = len(context) - len(context.rstrip())
    if n_space:
        return context[:-n_space], context[-n_space:] + continuation
    return context, continuation


def _server_message(err: Exception) -> str:
    body = getattr(err, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        msg = inner.get("message") if isinstance(inner, dict) else inner
        if msg:
            return str(msg)[:500]
    return str(getattr(err, "message", None) or err)[:500]


class OpenAICompatibleLM(LanguageModel):
    """A model served over an OpenAI-compatible HTTP API, behind the project's LM interface.

    ``requests_per_second`` (argument, else ``spec.requests_per_second`` when the spec has
    it) limits the request rate; ``None`` means unlimited.
    """

    def __init__(
        self,
        spec: ModelSpec,
        api_key: str | None = None,
        *,
        requests_per_second: float | None = None,
    ):
        if spec.backend != "openai":
            raise ValueError(
                f"OpenAICompatibleLM needs a spec with backend 'openai', got {spec.backend!r}"
            )
        if spec.max_concurrency < 1:
            raise ValueError(f"model.max_concurrency must be >= 1, got {spec.max_concurrency}")
        if spec.request_timeout_s <= 0:
            raise ValueError(f"model.request_timeout_s must be > 0, got {spec.request_timeout_s}")
        if spec.max_retries < 0:
            raise ValueError(f"model.max_retries must be >= 0, got {spec.max_retries}")
        self.spec = spec
        self.base_url = str(spec.base_url).rstrip("/")
        self._api_key = api_key or None
        rps = (
            requests_per_second
            if requests_per_second is not None
            else getattr(spec, "requests_per_second", None)
        )
        self.requests_per_second = float(rps) if rps else None
        self._limiter = RateLimiter(self.requests_per_second) if self.requests_per_second else None
        self._client: Any = None
        self._http: Any = None
        self._lock = threading.Lock()
        self._served: dict[str, Any] | None = None
        self._server_version: str | None = None
        self._chat_template_hash: str | None = None
        self._ll_max_tokens = 0  # 0 = prompt only; 1 when the server refuses 0

    # ------------------------------------------------------------------ plumbing
    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(source={self.spec.source!r}, "
            f"base_url={_redact_url(self.base_url)!r}, endpoint={self.endpoint!r}, "
            f"max_concurrency={self.spec.max_concurrency})"
        )

    def __getstate__(self) -> dict[str, Any]:  # the client (sockets, locks) is rebuilt on demand
        state = self.__dict__.copy()
        state["_client"] = state["_http"] = state["_limiter"] = None
        state.pop("_lock", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        if self.requests_per_second:
            self._limiter = RateLimiter(self.requests_per_second)

    @property
    def client(self) -> Any:
        """The ``openai.OpenAI`` client (created on first
        use: constructing the model touches no network)."""
        with self._lock:
            if self._client is None:
                self._client = self._make_client()
            return self._client

    def _make_client(self) -> Any:
        import openai

        httpx = _httpx_module()
        seconds = self.spec.request_timeout_s
        timeout = httpx.Timeout(seconds, connect=min(10.0, seconds))
        http_client = openai.DefaultHttpxClient(
            timeout=timeout,
            limits=httpx.Limits(
                max_connections=self.spec.max_concurrency + 4,
                max_keepalive_connections=self.spec.max_concurrency + 4,
            ),
            # a proxy from the environment makes no sense for a server on this machine
            trust_env=not _is_loopback(self.base_url),
            event_hooks={"request": [self._limiter]} if self._limiter else None,
        )
        self._http = http_client
        return openai.OpenAI(
            api_key=self._api_key or DUMMY_API_KEY,
            base_url=self.base_url,
            timeout=timeout,
            max_retries=self.spec.max_retries,
            http_client=http_client,
        )

    def close(self) -> None:
        """Close the HTTP client and its connections (a later request opens a new one)."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = self._http = None

    def __del__(self) -> None:  # a dropped model closes its sockets instead of leaking them
        if getattr(self, "_client", None) is not None and hasattr(self, "_lock"):
            self.close()

    @property
    def uses_chat(self) -> bool:
        return self.spec.use_chat_template in (True, "auto")

    @property
    def endpoint(self) -> str:
        return "chat.completions" if self.uses_chat else "completions"

    def _call(self, endpoint: str, **kwargs: Any) -> Any:
        """One API call (with the client's retries), its failures turned into clear errors."""
        import openai

        fn = (
            self.client.chat.completions.create
            if endpoint == "chat.completions"
            else self.client.completions.create
        )
        where = f"{_redact_url(self.base_url)} ({endpoint}, model {self.spec.source!r})"
        try:
            return fn(model=self.spec.source, **kwargs)
        except (openai.AuthenticationError, openai.PermissionDeniedError) as err:
            raise EndpointAuthError(self._auth_message(err)) from err
        except openai.NotFoundError as err:
            served = self.served_models(refresh=True)
            if served and self.spec.source not in served:
                raise EndpointError(
                    f"Model {self.spec.source!r} is not served at "
                    f"{_redact_url(self.base_url)}; it serves {sorted(served)}: set "
                    "model.source to the served name (vLLM: --served-model-name)."
                ) from err
            raise
        except openai.RateLimitError as err:
            raise EndpointError(
                f"{where} still answered 429 (rate limited) after "
                f"{self.spec.max_retries} retries: lower model.max_concurrency or set "
                f"a requests_per_second limit. Server said: {_server_message(err)}"
            ) from err
        except openai.APITimeoutError as err:
            raise EndpointError(
                f"No answer from {where} within "
                f"model.request_timeout_s={self.spec.request_timeout_s:g} s (tried "
                f"{self.spec.max_retries + 1} times): raise request_timeout_s, lower "
                "max_concurrency or max_new_tokens, or check the server's load."
            ) from err
        except openai.APIConnectionError as err:
            raise EndpointError(
                f"Cannot connect to {where}: is the server running and is model.base_url right "
                f"(for vLLM: `vllm serve {self.spec.source} --port PORT`, base_url "
                f"http://HOST:PORT/v1)? ({type(err.__cause__ or err).__name__})"
            ) from err
        except openai.InternalServerError as err:
            raise EndpointError(
                f"{where} kept failing with HTTP {err.status_code} after {self.spec.max_retries} "
                f"retries: {_server_message(err)}"
            ) from err

    def _auth_message(self, err: Exception) -> str:
        status = getattr(err, "status_code", "?")
        name = self.spec.api_key_name
        url = _redact_url(self.base_url)
        if self._api_key is None:
            return (
                f"The server at {url} requires an API key (HTTP {status}) and none was given: put "
                f"`{name}: <key>` in conf/local/credentials.yml (or set the environment variable "
                f"{name}); model.api_key_name says which entry is used."
            )
        return (
            f"The server at {url} rejected the API key from `{name}` (HTTP {status}): check the "
            f"`{name}` entry of conf/local/credentials.yml (or the environment variable {name})."
        )

    def _map(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        progress: Callable[[int], None] | None = None,
    ) -> list[R]:
        """``fn`` over ``items`` with at most ``max_concurrency``
        in flight; order kept; first error raised."""
        results: list[Any] = [None] * len(items)
        if not items:
            return results
        pool = ThreadPoolExecutor(
            max_workers=min(self.spec.max_concurrency, len(items)), thread_name_prefix="openai-lm"
        )
        ok = False
        try:
            futures = {pool.submit(fn, item): k for k, item in enumerate(items)}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    results[futures[fut]] = fut.result()  # raises the first failure
                    if progress is not None:
                        progress(1)
            ok = True
        finally:
            pool.shutdown(wait=ok, cancel_futures=not ok)
        return results

    # ------------------------------------------------------------------ formatting
    def messages(self, prompt: str) -> list[dict[str, str]]:
        """The chat messages sent for a user prompt
        (system prompt, then the templated user turn)."""
        msgs = []
        if self.spec.system_prompt is not None:
            msgs.append({"role": "system", "content": self.spec.system_prompt})
        msgs.append({"role": "user", "content": self.spec.prompt_template.format(prompt=prompt)})
        return msgs

    @property
    def chat_template_hash(self) -> str | None:
        """A fingerprint of the server's chat template (None when plain completions are used).

        The server applies its own template, which the API does not return. vLLM's ``POST
        /tokenize`` renders a fixed probe conversation; the hash of its token ids changes with
        the template (and tokenizer). Where that endpoint is missing, the hash names the
        server-side template of the served model, so a template is still known to be applied.
        """
        if not self.uses_chat:
            return None
        if self._chat_template_hash is None:
            probe = [{"role": "user", "content": "Hello {prompt}"}]
            rendered: Any = None
            try:
                self.client  # noqa: B018 - builds self._http
                headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
                resp = self._http.post(
                    self._root_url + "/tokenize",
                    json={
                        "model": self.spec.source,
                        "messages": probe,
                        "add_generation_prompt": True,
                    },
                    headers=headers,
                    timeout=min(10.0, self.spec.request_timeout_s),
                )
                if resp.status_code == 200:
                    rendered = resp.json().get("tokens")
            except Exception:  # noqa: BLE001 - a fingerprint must not fail a run
                rendered = None
            basis = (
                {"tokenize": rendered} if rendered else {"server_side_template": self.spec.source}
            )
            self._chat_template_hash = stable_hash(basis)
        return self._chat_template_hash

    @property
    def _root_url(self) -> str:
        """The server root (base_url without its ``/v1``),
        where vLLM serves /version and /tokenize."""
        return self.base_url[: -len("/v1")] if self.base_url.endswith("/v1") else self.base_url

    def format_prompt(self, prompt: str) -> str:
        """What is sent: the JSON of the chat messages (the server
        applies its chat template), or the plain prompt."""
        if self.uses_chat:
            return json.dumps(self.messages(prompt), ensure_ascii=False)
        user = self.spec.prompt_template.format(prompt=prompt)
        if self.spec.system_prompt:
            return f"{self.spec.system_prompt}\n\n{user}"
        return user

    # ------------------------------------------------------------------ generation
    def generate(
        self,
        prompts: Sequence[str],
        settings: GenerationSettings | None = None,
        *,
        seeds: Sequence[int] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> list[Generation]:
        settings = settings or self.spec.generation
        seeds = (
            list(seeds)
            if seeds is not None
            else [row_seed(settings.seed, i) for i in range(len(prompts))]
        )
        if len(seeds) != len(prompts):
            raise ValueError(f"{len(seeds)} seeds for {len(prompts)} prompts")
        rows = [(i, s) for i in range(len(prompts)) for s in range(settings.num_samples)]
        if rows:
            logger.info(
                "Generating %d continuation(s) with %s at %s (%s, %d concurrent)",
                len(rows),
                self.spec.source,
                _redact_url(self.base_url),
                self.endpoint,
                self.spec.max_concurrency,
            )

        def one(row: tuple[int, int]) -> Generation:
            i, s = row
            return self._generate_one(prompts[i], i, s, row_seed(seeds[i], s), settings)

        return self._map(one, rows, progress)

    def _request_kwargs(self, settings: GenerationSettings, seed: int) -> dict[str, Any]:
        greedy = settings.greedy
        kwargs: dict[str, Any] = {
            "n": 1,
            "max_tokens": settings.max_new_tokens,
            "temperature": 0.0 if greedy else settings.temperature,
            "top_p": 1.0 if greedy else settings.top_p,
            "seed": int(seed),
        }
        if settings.stop:
            kwargs["stop"] = list(settings.stop)
        # top_k is not in the OpenAI API; vLLM reads it from the request body
        if settings.top_k and not greedy:
            kwargs["extra_body"] = {"top_k": settings.top_k}
        return kwargs

    def _generate_one(
        self, prompt: str, index: int, sample: int, seed: int, settings: GenerationSettings
    ) -> Generation:
        import openai

        kwargs = self._request_kwargs(settings, seed)
        try:
            if self.uses_chat:
                resp = self._call("chat.completions", messages=self.messages(prompt), **kwargs)
            else:
                resp = self._call("completions", prompt=self.format_prompt(prompt), **kwargs)
        except openai.NotFoundError as err:
            raise CapabilityError(
                f"The server at {_redact_url(self.base_url)} has no {self.endpoint} endpoint "
                f"(HTTP 404: {_server_message(err)}); set model.use_chat_template to "
                f"{'false' if self.uses_chat else 'true'} to use the other one"
            ) from err
        except openai.APIStatusError as err:
            raise EndpointError(
                f"The server at {_redact_url(self.base_url)} refused prompt "
                f"{index} ({self.endpoint}, model {self.spec.source!r}): "
                f"HTTP {err.status_code}: {_server_message(err)}"
            ) from err
        if not resp.choices:
            raise EndpointError(
                f"{_redact_url(self.base_url)} returned no choices for prompt {index}"
            )
        choice = resp.choices[0]
        text = (choice.message.content if self.uses_chat else choice.text) or ""
        text, finish = self._finish(choice, text, settings)
        usage = getattr(resp, "usage", None)
        n_prompt = getattr(usage, "prompt_tokens", None)
        n_new = getattr(usage, "completion_tokens", None)
        return Generation(
            prompt_index=index,
            sample=sample,
            text=text,
            n_prompt_tokens=int(n_prompt) if n_prompt is not None else UNKNOWN,
            n_new_tokens=int(n_new) if n_new is not None else UNKNOWN,
            finish_reason=finish,
        )

    @staticmethod
    def _finish(choice: Any, text: str, settings: GenerationSettings) -> tuple[str, str]:
        """Text cut at a stop string, and the finish reason in the transformers backend's terms."""
        text, cut = apply_stop(text, settings.stop)  # servers that ignore `stop`
        if cut:
            return text, "stop"
        reason = choice.finish_reason
        if reason == "length":
            return text, "length"
        if reason == "stop":
            # vLLM says which stop string matched (None = end-of-sequence token); OpenAI does not
            stop_reason = (getattr(choice, "model_extra", None) or {}).get("stop_reason")
            matched = isinstance(stop_reason, str) and stop_reason in settings.stop
            return text, "stop" if matched else "eos"
        return text, str(reason or "unknown")

    # ------------------------------------------------------------------ log-likelihood
    def loglikelihood(
        self, requests: Sequence[tuple[str, str]], *, batch_size: int = 16
    ) -> list[LogLikelihood]:
        """log p(continuation | context) from the server's prompt log-probabilities.

        One completions request per pair (``batch_size`` is ignored: ``max_concurrency``
        requests run at once). The continuation is the echoed tokens from the one holding
        its first character onward, so a token that straddles the boundary counts for the
        continuation. Where the echoed tokens do not spell the text (byte-level token
        strings), the split falls back to the token count of the context echoed alone.
        """
        pairs = [_move_trailing_space(c, x) for c, x in requests]
        for k, (_, cont) in enumerate(pairs):
            if not cont:
                raise ValueError(f"loglikelihood request {k}: the continuation is empty")
        return self._map(lambda pair: self._loglikelihood_one(*pair), pairs)

    def _echo(self, text: str) -> _EchoedPrompt:
        """The prompt's tokens and log-probabilities, or :class:`CapabilityError`."""
        import openai

        where = f"The server at {_redact_url(self.base_url)} (model {self.spec.source!r})"
        hint = (
            "use a server that returns prompt log-probabilities "
            "(vLLM does), or the transformers backend"
        )
        max_tokens = self._ll_max_tokens
        while True:
            try:
                resp = self._call(
                    "completions",
                    prompt=text,
                    echo=True,
                    logprobs=1,
                    max_tokens=max_tokens,
                    temperature=0.0,
                )
                break
            except (
                openai.BadRequestError,
                openai.UnprocessableEntityError,
                openai.NotFoundError,
            ) as err:
                if max_tokens == 0:  # some servers refuse max_tokens=0: ask for 1 token and drop it
                    max_tokens = self._ll_max_tokens = 1
                    continue
                raise CapabilityError(
                    f"{where} does not support {LOGLIKELIHOOD_CAPABILITY} (completions with "
                    f"echo=True, logprobs=1; HTTP {getattr(err, 'status_code', '?')}: "
                    f"{_server_message(err).rstrip('.')}); {hint}."
                ) from err
        choice = resp.choices[0] if resp.choices else None
        lp = getattr(choice, "logprobs", None)
        tokens = list(getattr(lp, "tokens", None) or [])
        token_lps = list(getattr(lp, "token_logprobs", None) or [])
        # the first token of a prompt has no log-probability (nothing before it); the rest must have
        # one
        if (
            not tokens
            or len(token_lps) != len(tokens)
            or (len(tokens) > 1 and all(v is None for v in token_lps[1:]))
        ):
            raise CapabilityError(
                f"{where} returned no {LOGLIKELIHOOD_CAPABILITY}: the completions answer to "
                f"echo=True, logprobs=1 has no per-token log-probabilities of the prompt; {hint}."
            )
        if not (choice.text or "").startswith(text) and text not in "".join(tokens):
            raise CapabilityError(
                f"{where} ignored echo=True, so it gives no {LOGLIKELIHOOD_CAPABILITY}; {hint}."
            )
        top = list(getattr(lp, "top_logprobs", None) or [None] * len(tokens))
        n = len(tokens)
        n_prompt = getattr(getattr(resp, "usage", None), "prompt_tokens", None)
        # drop generated tokens (the max_tokens=1 fallback)
        if n_prompt is not None and 0 < n_prompt < n:
            n = n_prompt
        elif max_tokens and n_prompt is None:
            n -= max_tokens
        return _EchoedPrompt(tokens[:n], token_lps[:n], (top + [None] * n)[:n])

    def _loglikelihood_one(self, context: str, continuation: str) -> LogLikelihood:
        full = context + continuation
        echoed = self._echo(full)
        first = _first_continuation_token(echoed.tokens, full, len(context))
        if first is None:  # token strings do not spell the text: count the context's own tokens
            first = len(self._echo(context).tokens) if context else 0
            if not 0 < first < len(echoed.tokens) and context:
                raise ValueError(
                    "cannot split the server's tokens of "
                    f"{full[:60]!r} into context and continuation"
                )
        if first >= len(echoed.tokens):
            raise ValueError(f"empty continuation after tokenisation: {continuation!r}")
        lps = echoed.logprobs[first:]
        if any(v is None for v in lps):
            raise ValueError(
                f"the server gives no log-probability for the first token of {full[:60]!r}: the "
                "context is empty and its tokenizer adds no BOS token; give a non-empty context"
            )
        greedy = True
        for tok_lp, top in zip(lps, echoed.top[first:]):
            if not top:
                greedy = False
                break
            greedy = greedy and tok_lp >= max(top.values()) - 1e-6
        values = [float(v) for v in lps]  # type: ignore[arg-type]
        return LogLikelihood(
            logprob=float(math.fsum(values)),
            n_tokens=len(values),
            is_greedy=greedy,
            token_logprobs=values,
        )

    # ------------------------------------------------------------------ hidden states
    def hidden_states(self, texts: Sequence[str], **kwargs: Any) -> Any:
        raise CapabilityError(
            f"hidden states: an OpenAI-compatible HTTP server ({_redact_url(self.base_url)}) does "
            "not expose them; load the checkpoint with backend 'transformers' for probing"
        )

    # ------------------------------------------------------------------ provenance
    def served_models(self, refresh: bool = False) -> dict[str, Any]:
        """``{id: entry}`` from ``GET /v1/models`` (empty when the server does not answer).

        Only stable fields are kept (``id``, ``owned_by``, ``root``, ``parent``, ``max_model_len``;
        not ``created``), so provenance hashes do not change from one run to the next.
        """
        if self._served is not None and not refresh:
            return self._served
        try:
            page = self.client.models.list()
            served = {}
            for m in page.data:
                entry = {"id": m.id, "owned_by": getattr(m, "owned_by", None)}
                for key in ("root", "parent", "max_model_len"):
                    value = (m.model_extra or {}).get(key)
                    if value is not None:
                        entry[key] = value
                served[m.id] = entry
            self._served = served
        except Exception as err:  # noqa: BLE001 - provenance must not fail a run
            # the same answer for the rest of this run: provenance stays consistent
            self._served = {}
            logger.warning(
                "Could not list the models served at %s: %s",
                _redact_url(self.base_url),
                type(err).__name__,
            )
            return {}
        return served

    def server_version(self) -> str | None:
        """``GET /version`` (vLLM answers ``{"version": ...}``), else None."""
        if self._server_version is None:
            root = self._root_url
            try:
                self.client  # noqa: B018 - builds self._http
                resp = self._http.get(
                    root + "/version", timeout=min(5.0, self.spec.request_timeout_s)
                )
                self._server_version = (
                    str(resp.json().get("version")) if resp.status_code == 200 else ""
                )
            except Exception:  # noqa: BLE001
                self._server_version = ""
        return self._server_version or None

    def provenance(self) -> dict[str, Any]:
        import openai

        served = self.served_models().get(self.spec.source)
        return {
            "backend": "openai",
            "versions": {"openai": openai.__version__, "server": self.server_version()},
            "source": self.spec.source,
            "revision": self.spec.revision,
            "source_kind": "endpoint",
            "base_url": _redact_url(self.base_url),
            "endpoint": self.endpoint,
            "served_model": served,
            "dtype": None,  # chosen by the server
            "quantization": self.spec.quantization,  # as declared in the spec; the server decides
            "quantization_config": None,
            "chat_template_hash": self.chat_template_hash,  # applied server-side
            "n_parameters": None,
        }


def _first_continuation_token(tokens: Sequence[str], text: str, boundary: int) -> int | None:
    """Index of the echoed token holding character ``boundary`` of ``text``, or None when unaligned.

    The token strings are laid end to end; a prefix that is not part of ``text`` (a BOS token
    such as ``<s>``, which vLLM echoes and counts in its text offsets) is skipped. Empty token
    strings (pieces of a multi-byte character) right at the boundary go to the continuation.
    """
    joined = "".join(tokens)
    if not joined.endswith(text):
        return None
    shift = len(joined) - len(text)
    bounds, pos = {0}, 0
    for tok in tokens:
        pos += len(tok)
        bounds.add(pos)
    if shift not in bounds:  # the extra prefix must be whole tokens (e.g. "<s>"), not part of one
        return None
    start = -shift
    for k, tok in enumerate(tokens):
        end = start + len(tok)
        if end > boundary:
            if start < boundary and start >= 0:
                logger.debug(
                    "token %r straddles the context/continuation "
                    "boundary: counted for the continuation",
                    tok,
                )
            first = k
            while first > 0 and tokens[first - 1] == "" and start == boundary:
                first -= 1
            return first
        start = end
    return len(tokens)
