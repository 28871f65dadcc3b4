"""The known third-party notices are dropped, and nothing else is."""

from __future__ import annotations

import logging
import warnings

import pytest

import llm_behavior  # noqa: F401  (installs the filters)
from llm_behavior.warning_filters import KnownNoticeFilter


def _record(name: str, message: str) -> logging.LogRecord:
    return logging.LogRecord(name, logging.WARNING, __file__, 1, message, None, None)


def test_mlflow_type_hint_notice_is_dropped_from_py_warnings_only() -> None:
    notice = "/x/mlflow/pyfunc/utils/data_validation.py:187: UserWarning: Add type hints to the `predict` method to enable"
    f = KnownNoticeFilter()
    assert f.filter(_record("py.warnings", notice)) is False
    assert f.filter(_record("py.warnings", "UserWarning: something else")) is True
    assert f.filter(_record("llm_behavior.audit", notice)) is True  # our own loggers are never filtered
    assert any(isinstance(x, KnownNoticeFilter) for x in logging.getLogger("py.warnings").filters)


def test_captured_warnings_reach_logging_except_the_known_notice(caplog: pytest.LogCaptureFixture) -> None:
    logging.captureWarnings(True)
    try:
        with caplog.at_level(logging.WARNING, logger="py.warnings"), warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.warn("Add type hints to the `predict` method to enable data validation", UserWarning, stacklevel=1)
            warnings.warn("a warning a user must see", UserWarning, stacklevel=1)
    finally:
        logging.captureWarnings(False)
    assert "a warning a user must see" in caplog.text
    assert "Add type hints" not in caplog.text
