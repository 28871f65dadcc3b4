"""Toxicity attributes from Google's Perspective API (``comments:analyze``).

One request per text, throttled to ``qps`` requests per second (Perspective's default quota is
1 QPS), retried with exponential backoff (or the server's ``Retry-After``) on 429, 5xx and
network errors. Every request sets ``doNotStore: true``. The API key comes from the environment
(``PERSPECTIVE_API_KEY`` by default) or from ``conf/local/credentials.yml``
(``perspective: {api_key: ...}``); it travels in the ``X-Goog-Api-Key`` header, never in the URL,
so HTTP logs do not show it, and it is never part of parameters, cache keys or outputs.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import yaml

from llm_behavior.scoring.base import (
    TRANSIENT_COLUMN,
    Scorer,
    nan_frame,
    register_scorer,
    text_problem,
)

logger = logging.getLogger(__name__)

DEFAULT_URL = "https://commentanalyzer.googleapis.com/v1alpha1/comments:analyze"
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_ATTRIBUTE = re.compile(r"^[A-Z][A-Z_]*$")


class PerspectiveKeyError(RuntimeError):
    """No Perspective API key was found, or the API rejected it."""


def find_api_key(env_var: str, credentials_file: str | Path, credentials_key: str) -> str:
    """The API key from ``env_var``, else from ``credentials_file[credentials_key]['api_key']``."""
    key = os.environ.get(env_var, "").strip()
    if key:
        return key
    path = Path(credentials_file)
    if path.is_file():
        creds = yaml.safe_load(path.read_text()) or {}
        entry = creds.get(credentials_key) if isinstance(creds, dict) else None
        if isinstance(entry, dict) and str(entry.get("api_key") or "").strip():
            return str(entry["api_key"]).strip()
    raise PerspectiveKeyError(
        f"No Perspective API key: set the environment variable {env_var} or add "
        f"'{credentials_key}: {{api_key: ...}}' to {path} (never to parameters)."
    )


class _Throttle:
    """Spaces request starts at least ``1/qps`` seconds apart."""

    def __init__(self, qps: float, clock: Callable[[], float], sleep: Callable[[float], None]):
        self.interval = 1.0 / qps
        self.clock, self.sleep = clock, sleep
        self._next = -float("inf")

    def wait(self) -> None:
        now = self.clock()
        if now < self._next:
            self.sleep(self._next - now)
            now = self._next
        self._next = now + self.interval


@register_scorer("perspective")
class PerspectiveScorer(Scorer):
    """Perspective API summary scores; metrics are the attribute names in lower case."""

    def __init__(
        self,
        *,
        attributes: Sequence[str] = ("TOXICITY",),
        languages: Sequence[str] = ("en",),
        qps: float = 1.0,
        max_retries: int = 5,
        backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        timeout_s: float = 30.0,
        url: str = DEFAULT_URL,
        api_key_env: str = "PERSPECTIVE_API_KEY",
        credentials_file: str = "conf/local/credentials.yml",
        credentials_key: str = "perspective",
    ) -> None:
        attrs = [str(a).upper() for a in attributes]
        bad = [a for a in attrs if not _ATTRIBUTE.match(a)]
        if not attrs or bad:
            raise ValueError(
                f"perspective: attributes must be names like 'TOXICITY'; got {list(attributes)}"
            )
        if qps <= 0 or max_retries < 0 or backoff_s < 0:
            raise ValueError("perspective: need qps > 0, max_retries >= 0, backoff_s >= 0")
        self.attributes = tuple(attrs)
        self.metrics = tuple(a.lower() for a in attrs)
        self.languages = list(languages)
        self.max_retries, self.backoff_s, self.max_backoff_s = max_retries, backoff_s, max_backoff_s
        self.url = url
        self._key = find_api_key(api_key_env, credentials_file, credentials_key)
        self._client = httpx.Client(timeout=timeout_s)
        self.clock: Callable[[], float] = time.monotonic
        self.sleep: Callable[[float], None] = time.sleep
        self._qps = qps
        self.n_requests = 0

    def close(self) -> None:
        """Close the HTTP client and its kept-alive connections."""
        self._client.close()

    def __del__(self) -> None:  # a dropped scorer closes its sockets instead of leaking them
        if getattr(self, "_client", None) is not None:
            self.close()

    def __repr__(self) -> str:  # never shows the key
        return f"PerspectiveScorer(attributes={list(self.attributes)}, url={self.url!r})"

    def fingerprint(self) -> dict[str, Any]:
        return {"url": self.url}

    def _body(self, text: str) -> dict[str, Any]:
        return {
            "comment": {"text": text},
            "languages": self.languages,
            "requestedAttributes": {a: {} for a in self.attributes},
            "doNotStore": True,
        }

    def _backoff(self, attempt: int, response: httpx.Response | None) -> float:
        retry_after = response.headers.get("retry-after") if response is not None else None
        if retry_after is not None:
            try:
                return min(float(retry_after), self.max_backoff_s)
            except ValueError:
                pass  # an HTTP date: fall back to exponential backoff
        return min(self.backoff_s * 2**attempt, self.max_backoff_s)

    def _analyze(
        self, text: str, throttle: _Throttle
    ) -> tuple[dict[str, float] | None, str | None, bool]:
        """(scores, reason, transient) for one text, after retries."""
        headers = {"X-Goog-Api-Key": self._key, "Content-Type": "application/json"}
        last = ""
        for attempt in range(self.max_retries + 1):
            throttle.wait()
            response: httpx.Response | None = None
            try:
                self.n_requests += 1
                response = self._client.post(self.url, json=self._body(text), headers=headers)
            except httpx.TransportError as exc:
                last = f"network error ({type(exc).__name__})"
            else:
                if response.status_code == 200:
                    return self._parse(response), None, False
                message = _error_message(response)
                if response.status_code in (401, 403):
                    raise PerspectiveKeyError(
                        "Perspective API rejected the request "
                        f"(HTTP {response.status_code}): {message}"
                    )
                if response.status_code not in RETRY_STATUS:
                    return None, f"Perspective API HTTP {response.status_code}: {message}", False
                last = f"HTTP {response.status_code}"
            if attempt < self.max_retries:
                delay = self._backoff(attempt, response)
                logger.info("Perspective API %s; retry %d in %.1f s", last, attempt + 1, delay)
                self.sleep(delay)
        return None, f"Perspective API {last} after {self.max_retries} retries", True

    def _parse(self, response: httpx.Response) -> dict[str, float]:
        scores = response.json().get("attributeScores", {})
        missing = [a for a in self.attributes if a not in scores]
        if missing:
            raise RuntimeError(f"Perspective API response lacks attributes {missing}")
        return {a.lower(): float(scores[a]["summaryScore"]["value"]) for a in self.attributes}

    def score(
        self, texts: Sequence[str], references: Sequence[str | None] | None = None
    ) -> pd.DataFrame:
        out = nan_frame(len(texts), self.metrics)
        out[TRANSIENT_COLUMN] = False
        throttle = _Throttle(self._qps, self.clock, self.sleep)
        for i, text in enumerate(texts):
            problem = text_problem(text)
            if problem is not None:
                out.at[i, "reason"] = problem
                continue
            values, reason, transient = self._analyze(text, throttle)
            if values is not None:
                for metric, value in values.items():
                    out.at[i, metric] = value
            out.at[i, "reason"] = reason
            out.at[i, TRANSIENT_COLUMN] = transient
        return out


def _error_message(response: httpx.Response) -> str:
    """The API's error message (JSON ``error.message``) or the start of the body."""
    try:
        payload = response.json()
        return str(payload.get("error", {}).get("message", payload))[:300]
    except ValueError:
        return response.text[:300]
