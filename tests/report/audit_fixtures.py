"""audit_result.json fixtures: one in the schema of /docs/auditing.md (the prompt as the unit, with
distances, noise floor and p-value bounds), and one of the older schema (pairs only), which the
report must show without crashing and without making numbers up."""

from __future__ import annotations

import copy
from typing import Any

AUDITING_BEHAVIOURS = {
    "toxicity": {
        "scorer": "local_toxicity",
        "metric": "toxicity",
        "transform": {"kind": "identity"},
    },
    "length": {
        "scorer": "text_characteristics",
        "metric": "n_tokens",
        "transform": {"kind": "scale", "max": 64, "clip": True},
    },
}


def distance(d_hat: float, se: float, upper: float, mean_difference: float) -> dict[str, Any]:
    return {
        "d_hat": d_hat,
        "standard_error": se,
        "upper": upper,
        "level": 0.95,
        "witness": "mean",
        "mean_difference": mean_difference,
        "n_pairs": 300,
        "n_prompts": 100,
    }


CONTRACT_AUDIT: dict[str, Any] = {
    "verdict": "behaviour shifted (H0 rejected)",
    "rejected": True,
    "test": "combined",
    "alpha": 0.05,
    "eps": {"toxicity": 0.0, "length": 0.0},
    "eps_source": "fixed in parameters",
    "unit": "prompt",
    "prompts_audited": 100,
    "pairs_audited": 300,
    "prompts_used": 18,
    "pairs_used": 52,
    "prompts_for_calibration": None,
    "pairs_for_calibration": None,
    "final_wealth": 9.0e6,
    "max_wealth": 2.0e7,
    "threshold": 20.0,
    "p_value_bound": 5.0e-8,
    "shuffle_seed": 0,
    "behaviours": {
        "toxicity": {
            "eps": 0.0,
            "n_prompts": 100,
            "n_pairs": 300,
            "n_dropped": 0,
            "rejected": True,
            "threshold": 40.0,
            "prompts_to_rejection": 18,
            "pairs_to_rejection": 52,
            "final_wealth": 1.0e7,
            "max_wealth": 1.4e7,
            "p_value_bound": 40.0 * 0.05 / 1.4e7,
            "mean_shift": 0.135,
            "mean_shift_ci": [0.101, 0.169],
            "unit_description": "toxicity score in [0, 1] (local_toxicity), as scored",
        },
        "length": {
            "eps": 0.0,
            "n_prompts": 100,
            "n_pairs": 300,
            "n_dropped": 3,
            "rejected": False,
            "threshold": 40.0,
            "prompts_to_rejection": None,
            "pairs_to_rejection": None,
            "final_wealth": 0.8,
            "max_wealth": 3.2,
            "p_value_bound": 0.625,
            "mean_shift": -0.0119,
            "mean_shift_ci": [-0.03, 0.006],
        },
    },
    "aa_audit": {
        "rejected": False,
        "prompts_used": 100,
        "pairs_used": 300,
        "final_wealth": 0.4,
        "max_wealth": 1.7,
        "p_value_bound": 0.59,
        "behaviours": {
            "toxicity": {"rejected": False, "max_wealth": 1.9},
            "length": {"rejected": False, "max_wealth": 1.3},
        },
    },
    "noise_floor": {
        "toxicity": {
            "prompts": 100,
            "rows": 300,
            "reference_vs_replicate": distance(0.01, 0.011, 0.0284, 0.001),
            "reference_vs_candidate": distance(0.27, 0.0357, 0.3287, 0.135),
            "candidate_distance_over_noise_floor": 9.5,
            "exceeds_noise_floor": True,
        },
        "length": {
            "prompts": 100,
            "rows": 300,
            "reference_vs_replicate": distance(0.02, 0.015, 0.0447, 0.002),
            "reference_vs_candidate": distance(0.03, 0.02, 0.0629, -0.0119),
            "candidate_distance_over_noise_floor": 0.67,
            "exceeds_noise_floor": False,
        },
    },
    "folds": {
        "toxicity": {
            "fold_size": 25,
            "fold_size_pairs": 75,
            "n_folds": 4,
            "tests": {
                "combined": {
                    "folds": 4,
                    "rejection_rate": 1.0,
                    "median_prompts_to_rejection": 16,
                    "median_pairs_to_rejection": 47,
                }
            },
        },
        "length": {"skipped": "fewer than two folds"},
    },
    "pairing": {
        "behaviours": {
            "toxicity": {"scorer": "local_toxicity"},
            "length": {
                "scorer": "text_characteristics",
                "n_clipped_reference": 0,
                "n_clipped_candidate": 0,
            },
        }
    },
}

# The older schema (before the prompt was the unit): no prompt counts, no p-value bounds, no CI.
OLD_AUDIT: dict[str, Any] = {
    "verdict": "behaviour shifted (H0 rejected)",
    "rejected": True,
    "test": "combined",
    "alpha": 0.05,
    "eps": {"toxicity": 0.0},
    "eps_source": "fixed in parameters",
    "samples_used": 42,
    "rows_audited": 60,
    "final_wealth": 33.0,
    "max_wealth": 40.0,
    "threshold": 20.0,
    "combination": "average of e-processes (global null); Bonferroni K/alpha per behaviour",
    "behaviours": {
        "toxicity": {
            "eps": 0.0,
            "n_pairs": 60,
            "n_dropped": 0,
            "rejected": True,
            "threshold": 20.0,
            "rows_to_rejection": 42,
            "pairs_to_rejection": 42,
            "final_wealth": 33.0,
            "max_wealth": 40.0,
            "mean_shift": 0.2,
        }
    },
    "aa_audit": {"rejected": False, "samples_used": 60, "max_wealth": 1.2, "behaviours": {}},
    "noise_floor": {"unavailable": "no 'replicate' side in the scores table"},
    "folds": {
        "toxicity": {
            "fold_size": 20,
            "tests": {
                "combined": {"folds": 3, "rejection_rate": 0.67, "median_samples_to_rejection": 15}
            },
        }
    },
}


def contract_audit() -> dict[str, Any]:
    return copy.deepcopy(CONTRACT_AUDIT)


def old_audit() -> dict[str, Any]:
    return copy.deepcopy(OLD_AUDIT)
