"""Known third-party notices that say nothing to a user of this project, filtered in one place
(installed when the package is imported, so for `kedro` commands, tests and the CLI alike).

Each entry is a message (regular expression matched at its start) and a category; nothing else is
filtered. mlflow's "Add type hints to the `predict` method" note cannot be filtered this way: mlflow
raises it inside its own ``catch_warnings`` with a "once" filter, when kedro-mlflow's CLI is loaded,
before any project code runs; Kedro routes it to logging (``py.warnings``), where
:class:`KnownNoticeFilter` on that logger drops it (installed at import too; Kedro's logging config
refuses custom filter classes).
"""

from __future__ import annotations

import logging
import re
import warnings

KNOWN_NOTICES: tuple[tuple[str, type[Warning], str], ...] = (
    (
        r"register_new_resolver\(\) is deprecated",
        UserWarning,
        "omegaconf 2.4 renamed it; Kedro's config loader and kedro-mlflow still call the old name",
    ),
    (
        r"One or more dataset names contain '\.' characters",
        UserWarning,
        "Kedro 1.x; the nodes that compare the sides read the sides' namespaced datasets "
        "(reference.generations, candidate.generations), which is what namespaces are for",
    ),
)


def filter_known_warnings() -> None:
    """Ignore the :data:`KNOWN_NOTICES` (idempotent:
    warnings.filterwarnings moves a repeated entry)."""
    for message, category, _why in KNOWN_NOTICES:
        warnings.filterwarnings("ignore", message=message, category=category)
    notices = logging.getLogger("py.warnings")
    if not any(isinstance(f, KnownNoticeFilter) for f in notices.filters):
        notices.addFilter(KnownNoticeFilter())


LOGGED_NOTICES: tuple[tuple[str, str], ...] = (
    (
        r"Add type hints to the `predict` method",
        "mlflow's pyfunc note, raised when kedro-mlflow's "
        "CLI loads; this project logs no pyfunc model",
    ),
)


class KnownNoticeFilter(logging.Filter):
    """Drops the warnings of :data:`LOGGED_NOTICES` that reach logging through ``py.warnings``."""

    _pattern = re.compile("|".join(message for message, _why in LOGGED_NOTICES))

    def filter(self, record: logging.LogRecord) -> bool:
        """False (drop) for a ``py.warnings`` record whose message holds a known notice."""
        return not (record.name == "py.warnings" and self._pattern.search(record.getMessage()))
