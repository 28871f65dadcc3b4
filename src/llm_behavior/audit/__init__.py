"""Anytime-valid auditing of behavioural shift between two models (see docs/auditing.md).

Plain numpy/scipy/torch: e-processes (witnesses + bets, one bet per prompt), their combination,
the reference neural test, fixed-sample baselines, fold runs by prompt, distance estimates / eps
calibration, input checks; the job on a scores table in ``runner`` (pandas) with typed
``settings``.
"""

from llm_behavior.audit.calibration import (
    calibrate_eps,
    calibrated_power_sweep,
    estimate_distance,
    noise_floor,
    power_sweep,
)
from llm_behavior.audit.folds import fold_run, make_folds, run_folds
from llm_behavior.audit.multi import audit_behaviours
from llm_behavior.audit.sequential import (
    DEFAULT_TEST,
    TESTS,
    SequentialResult,
    available_tests,
    get_test,
    run_test,
)
from llm_behavior.audit.transforms import ScoreTransform
from llm_behavior.audit.validation import AuditInputError, CleanPairs, check_alpha_eps, clean_pairs

__all__ = [
    "DEFAULT_TEST",
    "TESTS",
    "AuditInputError",
    "CleanPairs",
    "ScoreTransform",
    "SequentialResult",
    "audit_behaviours",
    "available_tests",
    "calibrate_eps",
    "calibrated_power_sweep",
    "check_alpha_eps",
    "clean_pairs",
    "estimate_distance",
    "fold_run",
    "get_test",
    "make_folds",
    "noise_floor",
    "power_sweep",
    "run_folds",
    "run_test",
]
