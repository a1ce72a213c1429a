"""How much to trust a sweep's verdict: the noise floor, ties with the best, rank agreement, regret.

Pure statistics on arrays of objective values (lower is better), no TensorFlow: the sweep's
confirmation step (:mod:`fashiongan.search.confirm`) and the fidelity benchmarks use them.

- :func:`noise_floor`: a nested decomposition of one configuration's scores ``[training seed,
  sampling seed]``: the std of the per-training-seed means (training part) and the mean of the
  within-generator stds (sampling part).
- :func:`versus_best`: each configuration against the one with the best mean, Welch's t-test
  (``scipy.stats.ttest_ind(equal_var=False)``, two-sided, alpha 0.05); fewer than 2 scores on
  either side: "unknown".
- :func:`rank_agreement`: Spearman's rho and Kendall's tau between two budgets' scores, each with a
  Fisher-z interval (Fieller's variances 1.06/(n-3) and 0.437/(n-4)).
- :func:`regret`: the final-budget score of the sweep's pick minus the best final-budget score.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import stats

ALPHA = 0.05
Verdict = Literal["best", "indistinguishable", "worse", "unknown"]


@dataclass(frozen=True)
class NoiseFloor:
    """One configuration's seed-to-seed spread (population of seeds, ``ddof=1``)."""

    mean: float
    training_std: float  # std over training seeds of each generator's mean score (nan with 1 training seed)
    sampling_std: float  # mean over generators of the std over sampling seeds (nan with 1 sampling seed)
    total_std: float  # std of all scores pooled (nan with 1 score)
    n_training: int
    n_sampling: int


def _std(values: np.ndarray) -> float:
    """Sample std (ddof=1) of a 1-d array; nan for fewer than 2 values, without numpy's warning."""
    return float(np.std(values, ddof=1)) if values.size > 1 else math.nan


def noise_floor(scores: Sequence[Sequence[float]] | np.ndarray) -> NoiseFloor:
    """The spread of ``scores[i][j]`` (training seed i, sampling seed j), split into its two parts.

    Nested design: each generator (training seed) is scored with the same sampling seeds. The
    training part is the std of the generators' means, the sampling part the mean within-generator
    std; the first still holds 1/m of the sampling variance (m sampling seeds).
    """
    a = np.asarray(scores, dtype=np.float64)
    if a.ndim != 2 or a.size == 0:
        raise ValueError(f"scores must be a non-empty [training seeds, sampling seeds] table, got shape {a.shape}")
    return NoiseFloor(
        mean=float(a.mean()),
        training_std=_std(a.mean(axis=1)),
        sampling_std=float(np.mean([_std(row) for row in a])),
        total_std=_std(a.ravel()),
        n_training=a.shape[0],
        n_sampling=a.shape[1],
    )


@dataclass(frozen=True)
class Comparison:
    """One configuration's scores against the best configuration's."""

    key: Any
    mean: float
    std: float
    n: int
    p_value: float | None  # Welch's t-test against the best; None for the best itself or too few scores
    verdict: Verdict

    def as_dict(self) -> dict[str, Any]:
        """For best.json: mean, std, n, p-value and verdict."""
        return {"mean": self.mean, "std": self.std, "n": self.n, "p_value": self.p_value, "verdict": self.verdict}


def versus_best(scores: Mapping[Any, Sequence[float]], alpha: float = ALPHA) -> list[Comparison]:
    """Each configuration against the lowest mean, best first: Welch's t-test, "indistinguishable" if p >= alpha.

    A configuration or a best with fewer than 2 scores cannot be tested: "unknown".
    """
    if not scores:
        raise ValueError("no configurations to compare")
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in scores.items()}
    if any(a.size == 0 for a in arrays.values()):
        raise ValueError("every configuration needs at least one score")
    order = sorted(arrays, key=lambda k: float(arrays[k].mean()))
    best = arrays[order[0]]
    out = []
    for k in order:
        a = arrays[k]
        p: float | None = None
        if k == order[0]:
            verdict: Verdict = "best"
        elif a.size < 2 or best.size < 2:
            verdict = "unknown"
        else:
            p = float(stats.ttest_ind(a, best, equal_var=False).pvalue)
            p = 1.0 if math.isnan(p) else p  # identical constant samples: no evidence of a difference
            verdict = "indistinguishable" if p >= alpha else "worse"
        out.append(Comparison(k, float(a.mean()), _std(a), int(a.size), p, verdict))
    return out


@dataclass(frozen=True)
class Correlation:
    """A rank correlation with its confidence interval (nan bounds when there are too few configurations)."""

    value: float
    low: float
    high: float


# Fieller, Hartley & Pearson (1957): var(atanh r) ~ c / (n - d) for rank correlations.
_FIELLER = {"spearman": (1.06, 3), "kendall": (0.437, 4)}


def _fisher_interval(name: str, value: float, n: int, level: float) -> Correlation:
    """Fisher's z interval, ``tanh(atanh(r) +- z * sqrt(c / (n - d)))`` with Fieller's c and d."""
    c, d = _FIELLER[name]
    if n <= d or math.isnan(value):
        return Correlation(value, math.nan, math.nan)
    z = math.atanh(float(np.clip(value, -0.999999, 0.999999)))
    half = float(stats.norm.ppf(0.5 + level / 2)) * math.sqrt(c / (n - d))
    return Correlation(value, math.tanh(z - half), math.tanh(z + half))


def rank_agreement(sweep: Sequence[float], final: Sequence[float], level: float = 0.95) -> dict[str, Correlation]:
    """Spearman's rho and Kendall's tau between two budgets' scores of the same configurations.

    Intervals: Fisher's z transform with Fieller's variances (Spearman needs >= 4 configurations,
    Kendall >= 5). A bootstrap over so few configurations breaks on resamples of tied ranks.
    """
    x, y = np.asarray(sweep, dtype=np.float64), np.asarray(final, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1 or len(x) < 2:
        raise ValueError(f"need two equal-length lists of >= 2 scores, got {x.shape} and {y.shape}")
    values = {"spearman": float(stats.spearmanr(x, y).statistic), "kendall": float(stats.kendalltau(x, y).statistic)}
    return {name: _fisher_interval(name, v, len(x), level) for name, v in values.items()}


def regret(sweep: Sequence[float], final: Sequence[float]) -> dict[str, Any]:
    """The sweep's pick (lowest sweep score) judged at the final budget against the best final score."""
    x, y = np.asarray(sweep, dtype=np.float64), np.asarray(final, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1 or len(x) == 0:
        raise ValueError(f"need two equal-length non-empty lists of scores, got {x.shape} and {y.shape}")
    pick, best = int(np.argmin(x)), int(np.argmin(y))
    absolute = float(y[pick] - y[best])
    return {"pick": pick, "best": best, "absolute": absolute, "percent": 100.0 * absolute / float(y[best])}
