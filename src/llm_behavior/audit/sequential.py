"""The library of sequential (anytime-valid) tests and the result of running one.

Every test maps paired scores x, y of shape (S, n_rows) (S independent sequences; a 1-D pair of
arrays is one sequence), the samples per prompt ``sizes`` (n_prompts,) (rows of a prompt are
contiguous; None = one sample per prompt) and a tolerance eps to the log-wealth (S, n_prompts) of
an e-process for H0: D(P, Q) <= eps, D(P, Q) = sup_{phi: [0,1] -> [-1/2, 1/2]} |E phi(X) - E phi(Y)|
(the total variation distance between the marginal score laws).

The PROMPT is the unit: before a prompt's first sample the test fixes its witness phi_t and bet
lambda_t from earlier prompts only, and it bets once on the mean payoff of the prompt's samples,
Z_t = mean_j phi_t(x_tj) - phi_t(y_tj). Samples of one prompt may be dependent (and k may differ
between prompts): E[Z_t | earlier prompts] = E_P phi_t - E_Q phi_t still holds because prompts are
independent and every sample has the marginal law. Rejecting the first time the wealth reaches
1/alpha has type-I error <= alpha whenever one stops (Ville's inequality). See docs/auditing.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from llm_behavior.audit.betting import bet
from llm_behavior.audit.combine import average_log_wealth
from llm_behavior.audit.logopt import LogOptimalWitness, log_optimal_log_wealth
from llm_behavior.audit.witnesses import (
    KernelWitness,
    KSWitness,
    RankBinWitness,
    RatioWitness,
    SmoothWitness,
    ThresholdWitness,
    check_paired_scores,
    check_sizes,
    mean_increments,
    prompt_means,
    rank_witness_increments,
)

LogWealthFn = Callable[..., np.ndarray]


@dataclass(frozen=True)
class SequentialTest:
    """A named e-process: ``log_wealth(x, y, eps, sizes)`` -> (S, n_prompts)."""

    name: str
    description: str
    log_wealth: LogWealthFn
    cost: str = "fast"  # "fast": vectorised numpy; "slow": trains networks


def _witness_test(witness: RankBinWitness, bettor: str) -> LogWealthFn:
    def run(
        x: np.ndarray, y: np.ndarray, eps: float = 0.0, sizes: np.ndarray | None = None
    ) -> np.ndarray:
        k = check_sizes(sizes, np.shape(x)[-1])
        return bet(
            prompt_means(rank_witness_increments(x, y, witness, sizes=k), k), bettor, eps=eps
        )

    return run


def _mean_test(bettor: str) -> LogWealthFn:
    def run(
        x: np.ndarray, y: np.ndarray, eps: float = 0.0, sizes: np.ndarray | None = None
    ) -> np.ndarray:
        k = check_sizes(sizes, np.shape(x)[-1])
        return bet(
            prompt_means(mean_increments(np.atleast_2d(x), np.atleast_2d(y)), k), bettor, eps=eps
        )

    return run


def _neural(monitor: str) -> LogWealthFn:
    def run(
        x: np.ndarray,
        y: np.ndarray,
        eps: float = 0.0,
        sizes: np.ndarray | None = None,
        *,
        config: object | None = None,
        stop_log_wealth: float | None = None,
    ) -> np.ndarray:
        from llm_behavior.audit.neural import neural_test  # torch is imported only when needed

        if not np.all(check_sizes(sizes, np.shape(x)[-1]) == 1):
            raise ValueError(
                "the neural test bets per pair in batches of 100 and needs one sample per prompt; "
                "use a fast test (e.g. 'logopt') with several samples per prompt"
            )
        return neural_test(
            x, y, eps=eps, config=config, stop_log_wealth=stop_log_wealth
        ).log_wealth(monitor)

    return run


def _logopt_test(witness: LogOptimalWitness) -> LogWealthFn:
    def run(
        x: np.ndarray, y: np.ndarray, eps: float = 0.0, sizes: np.ndarray | None = None
    ) -> np.ndarray:
        return log_optimal_log_wealth(x, y, witness, eps=eps, sizes=sizes)

    return run


LOGOPT_RAW = LogOptimalWitness((("raw_bumps", 10),))
LOGOPT_RANK_SQRT = LogOptimalWitness((("rank_legendre", 4), ("sqrt_bumps", 8)))
RATIO_RAW = RatioWitness(n_bins=20, bandwidth=0.1, prior=1.0, space="raw")
RATIO_RANK = RatioWitness(n_bins=32, bandwidth=0.05, prior=1.0, space="rank")


def combined_test(parts: dict[str, float]) -> LogWealthFn:
    """Weighted average of the named tests' e-processes (weights normalised to sum 1)."""
    total = float(sum(parts.values()))
    if total <= 0 or any(w < 0 for w in parts.values()):
        raise ValueError(f"combination weights must be >= 0 and not all 0: {parts}")

    def run(
        x: np.ndarray, y: np.ndarray, eps: float = 0.0, sizes: np.ndarray | None = None
    ) -> np.ndarray:
        names = list(parts)
        logs = [TESTS[name].log_wealth(x, y, eps=eps, sizes=sizes) for name in names]
        return average_log_wealth(logs, np.array([parts[n] / total for n in names]))

    return run


DEFAULT_COMBINATION: dict[str, float] = {
    "mean": 0.35,
    "kernel": 0.15,
    "ratio": 0.25,
    "smooth": 0.25,
}
SMOOTH = SmoothWitness(n_bins=32)


def _portfolio_mean_smooth(
    x: np.ndarray, y: np.ndarray, eps: float = 0.0, sizes: np.ndarray | None = None
) -> np.ndarray:
    """Joint plug-in Kelly bet on the (mean, smooth) increment vector, per prompt, max bet 0.9."""
    from llm_behavior.audit.betting import portfolio_log_wealth

    k = check_sizes(sizes, np.shape(x)[-1])
    x2, y2 = np.atleast_2d(x), np.atleast_2d(y)
    z = np.stack(
        [
            prompt_means(mean_increments(x2, y2), k),
            prompt_means(rank_witness_increments(x2, y2, SMOOTH, sizes=k), k),
        ],
        axis=-1,
    )
    return portfolio_log_wealth(z, eps=eps, lambda_max=0.9)


PORTFOLIO_COMBINATION: dict[str, float] = {
    "mean": 0.25,
    "ratio": 0.25,
    "smooth": 0.25,
    "portfolio_mean_smooth": 0.25,
}

LOGOPT_COMBINATION: dict[str, float] = {"logopt_raw": 0.5, "logopt_rank_sqrt": 0.5}

TESTS: dict[str, SequentialTest] = {}


def register(test: SequentialTest) -> SequentialTest:
    if test.name in TESTS:
        raise ValueError(f"test {test.name!r} registered twice")
    TESTS[test.name] = test
    return test


for _bettor in ("agrapa", "ons", "mixture"):
    register(
        SequentialTest(
            "mean" if _bettor == "agrapa" else f"mean_{_bettor}",
            f"mean difference witness phi(v) = v, {_bettor} bets",
            _mean_test(_bettor),
        )
    )
register(
    SequentialTest(
        "ratio",
        "density-ratio witness (p-q)/(p+q), kernel-smoothed on 20 raw-score bins, ONS bets",
        _witness_test(RATIO_RAW, "ons"),
    )
)
register(
    SequentialTest(
        "ratio_rank",
        "density-ratio witness on 32 bins of the pooled-past rank, plug-in Kelly bets",
        _witness_test(RATIO_RANK, "agrapa"),
    )
)
register(
    SequentialTest(
        "threshold",
        "Kelly-best indicator 1{v > c} (20 raw bins) fitted on the past, plug-in Kelly bets",
        _witness_test(ThresholdWitness(n_bins=20, prior=1.0, space="raw"), "agrapa"),
    )
)
register(
    SequentialTest(
        "kernel",
        "MMD witness (Gaussian kernel, bandwidth 0.1 on the score) from past pairs, "
        "plug-in Kelly bets",
        _witness_test(KernelWitness(n_bins=20, bandwidth=0.1, space="raw"), "agrapa"),
    )
)
register(
    SequentialTest(
        "ks",
        "CDF-indicator witness at the past Kolmogorov-Smirnov cut (rank space), plug-in Kelly bets",
        _witness_test(KSWitness(n_bins=32), "agrapa"),
    )
)
register(
    SequentialTest(
        "smooth",
        "Neyman smooth witness (Legendre degree 4 of the pooled-past rank), ONS bets",
        _witness_test(SmoothWitness(n_bins=32), "ons"),
    )
)
register(
    SequentialTest(
        "logopt_raw",
        "log-optimal witness: 10 Gaussian bumps on the score, witness and bet fitted together "
        "to the earlier prompts' log wealth",
        _logopt_test(LOGOPT_RAW),
    )
)
register(
    SequentialTest(
        "logopt_rank_sqrt",
        "log-optimal witness: Legendre degree 4 of the pooled-past rank and 8 bumps on the "
        "square root of the score, fitted to the earlier prompts' log wealth",
        _logopt_test(LOGOPT_RANK_SQRT),
    )
)
register(
    SequentialTest(
        "portfolio_mean_smooth",
        "joint plug-in Kelly portfolio bet on the mean and smooth witnesses (max bet 0.9)",
        _portfolio_mean_smooth,
    )
)
register(
    SequentialTest(
        "combined_portfolio",
        "average of e-processes: "
        + ", ".join(f"{w:g} {n}" for n, w in PORTFOLIO_COMBINATION.items()),
        combined_test(PORTFOLIO_COMBINATION),
    )
)
register(
    SequentialTest(
        "logopt",
        "average of e-processes: " + ", ".join(f"{w:g} {n}" for n, w in LOGOPT_COMBINATION.items()),
        combined_test(LOGOPT_COMBINATION),
    )
)
register(
    SequentialTest(
        "combined",
        "average of e-processes: "
        + ", ".join(f"{w:g} {n}" for n, w in DEFAULT_COMBINATION.items()),
        combined_test(DEFAULT_COMBINATION),
    )
)
register(
    SequentialTest(
        "neural",
        "reference MLP witness of the paper (batches of 100, wealth checked per batch), first-bet "
        "and early-stopping fixes",
        _neural("batch"),
        cost="slow",
    )
)
register(
    SequentialTest(
        "neural_per_pair",
        "the reference neural test with its wealth monitored at every pair",
        _neural("pair"),
        cost="slow",
    )
)

DEFAULT_TEST = "logopt"


def available_tests() -> list[str]:
    return sorted(TESTS)


def get_test(name: str) -> SequentialTest:
    if name not in TESTS:
        raise ValueError(f"unknown test {name!r}; available: {available_tests()}")
    return TESTS[name]


def wealth_from_log(log_wealth: float) -> float:
    """exp(log wealth) as a finite float (capped at ~1e307 so that JSON stays valid)."""
    return float(np.exp(min(float(log_wealth), 707.0)))


def _median_or_none(values: np.ndarray) -> float | None:
    return float(np.median(values)) if values.size else None


@dataclass
class SequentialResult:
    """Outcome of one test on S sequences (S = 1 for a single audit); time is counted in prompts."""

    test: str
    alpha: float
    eps: float
    log_wealth: np.ndarray  # (S, n_prompts)
    sizes: np.ndarray | None = None  # samples per prompt (n_prompts,); None = one each
    rejected: np.ndarray = field(init=False)  # (S,) bool
    prompts_to_rejection: np.ndarray = field(init=False)  # (S,) float, NaN if not rejected
    pairs_to_rejection: np.ndarray = field(init=False)  # (S,) float: pairs in those prompts

    def __post_init__(self) -> None:
        self.log_wealth = np.atleast_2d(self.log_wealth)
        n = self.log_wealth.shape[1]
        self.sizes = (
            check_sizes(self.sizes, n) if self.sizes is None else np.asarray(self.sizes, dtype=int)
        )
        if self.sizes.shape != (n,):
            raise ValueError(f"sizes has {self.sizes.size} prompts, the wealth {n}")
        hit = self.log_wealth >= np.log(1.0 / self.alpha) - 1e-12
        self.rejected = hit.any(axis=1)
        first = hit.argmax(axis=1)
        pairs_seen = np.cumsum(self.sizes).astype(float)
        self.prompts_to_rejection = np.where(self.rejected, first + 1.0, np.nan)
        self.pairs_to_rejection = np.where(
            self.rejected, pairs_seen[first] if n else np.nan, np.nan
        )

    @property
    def samples_to_rejection(self) -> np.ndarray:
        """Pairs to rejection (the name of earlier versions)."""
        return self.pairs_to_rejection

    @property
    def n_prompts(self) -> int:
        return int(self.log_wealth.shape[1])

    @property
    def n_pairs(self) -> int:
        return int(np.sum(self.sizes))

    @property
    def final_log_wealth(self) -> np.ndarray:
        return self.log_wealth[:, -1] if self.n_prompts else np.zeros(self.log_wealth.shape[0])

    def summary(self) -> dict[str, object]:
        """Fold-style summary: sequences, rejection rate, median prompts and pairs to rejection."""
        return summarise([self])


def summarise(results: list[SequentialResult]) -> dict[str, object]:
    """One summary over the sequences of several results (e.g. folds of different layouts)."""
    rejected = np.concatenate([r.rejected for r in results]) if results else np.zeros(0, bool)
    prompts = np.concatenate([r.prompts_to_rejection for r in results]) if results else np.zeros(0)
    pairs = np.concatenate([r.pairs_to_rejection for r in results]) if results else np.zeros(0)
    final = np.concatenate([r.final_log_wealth for r in results]) if results else np.zeros(0)
    median_pairs = _median_or_none(pairs[rejected])
    return {
        "folds": int(rejected.size),
        "rejection_rate": float(rejected.mean()) if rejected.size else 0.0,
        "median_prompts_to_rejection": _median_or_none(prompts[rejected]),
        "median_pairs_to_rejection": median_pairs,
        "median_samples_to_rejection": median_pairs,  # = pairs (name of earlier versions)
        "mean_final_log_wealth": float(np.mean(final)) if final.size else 0.0,
    }


def run_test(
    x: np.ndarray,
    y: np.ndarray,
    test: str = DEFAULT_TEST,
    eps: float = 0.0,
    alpha: float = 0.05,
    *,
    sizes: np.ndarray | None = None,
    **options: object,
) -> SequentialResult:
    """Run the named test on paired scores (1-D: one sequence; 2-D: sequences x pairs).

    ``sizes``: samples per prompt, shared by all sequences, rows of a prompt contiguous (None:
    every pair its own prompt). The wealth is indexed by prompt.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if eps < 0:
        raise ValueError(f"eps must be >= 0, got {eps}")
    x2, y2 = check_paired_scores(x, y)
    k = check_sizes(sizes, x2.shape[1])
    log_wealth = get_test(test).log_wealth(x2, y2, eps=eps, sizes=k, **options)
    return SequentialResult(test=test, alpha=alpha, eps=eps, log_wealth=log_wealth, sizes=k)
