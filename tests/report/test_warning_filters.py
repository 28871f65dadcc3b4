"""The known third-party notices are dropped, and nothing else is."""

from __future__ import annotations

import logging
import warnings

import llm_behavior  # noqa: F401  (installs the filters)
from llm_behavior.warning_filters import KnownNoticeFilter, filter_known_warnings


def _record(name: str, message: str) -> logging.LogRecord:
    return logging.LogRecord(name, logging.WARNING, __file__, 1, message, None, None)


def test_mlflow_type_hint_notice_is_dropped_from_py_warnings_only() -> None:
    notice = (
            "/x/mlflow/pyfunc/utils/data_validation.py:187: UserWarning: Add type hints to the "
            "`predict` method to enable"
        )
    f = KnownNoticeFilter()
    assert f.filter(_record("py.warnings", notice)) is False
    assert f.filter(_record("py.warnings", "UserWarning: something else")) is True
    # our own loggers are never filtered
    assert f.filter(_record("llm_behavior.audit", notice)) is True
    assert any(isinstance(x, KnownNoticeFilter) for x in logging.getLogger("py.warnings").filters)


def test_py_warnings_records_reach_handlers_except_the_known_notice() -> None:
    """What logging.captureWarnings sends (a "%s" record of the formatted warning on py.warnings),
    logged directly: other tests leave captureWarnings' global state either way."""
    filter_known_warnings()  # idempotent; what importing the package does
    logger = logging.getLogger("py.warnings")
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    handler, was_disabled = Collect(level=logging.WARNING), logger.disabled
    logger.addHandler(handler)
    logger.disabled = False
    try:
        for message in (
            "Add type hints to the `predict` method to enable data validation",
            "a warning a user must see",
        ):
            logger.warning("%s", warnings.formatwarning(message, UserWarning, "/x/mod.py", 187))
    finally:
        logger.removeHandler(handler)
        logger.disabled = was_disabled
    assert len(seen) == 1 and "a warning a user must see" in seen[0]
