"""llm_behavior: how two language models behave differently, with evidence."""

from llm_behavior.warning_filters import filter_known_warnings

__version__ = "0.1.0"

filter_known_warnings()
