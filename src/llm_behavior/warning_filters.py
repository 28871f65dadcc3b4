"""Known third-party notices that say nothing to a user of this project, filtered in one place
(installed when the package is imported, so for `kedro` commands, tests and the CLI alike).

Each entry is a message (regular expression matched at its start) and a category; nothing else is
filtered. mlflow's "Add type hints to the `predict` method" note cannot be filtered this way: mlflow
raises it inside its own ``catch_warnings`` with a "once" filter, when kedro-mlflow's CLI is loaded,
before any project code runs (docs/reporting.md).
"""

from __future__ import annotations

import warnings

KNOWN_NOTICES: tuple[tuple[str, type[Warning], str], ...] = (
    (r"register_new_resolver\(\) is deprecated", UserWarning,
     "omegaconf 2.4 renamed it; Kedro's config loader and kedro-mlflow still call the old name"),
    (r"One or more dataset names contain '\.' characters", UserWarning,
     "Kedro 1.x; the nodes that compare the sides read the sides' namespaced datasets "
     "(reference.generations, candidate.generations), which is what namespaces are for"),
)


def filter_known_warnings() -> None:
    """Ignore the :data:`KNOWN_NOTICES` (idempotent: warnings.filterwarnings moves a repeated entry)."""
    for message, category, _why in KNOWN_NOTICES:
        warnings.filterwarnings("ignore", message=message, category=category)
