"""Small, pure-Python statistics shared by the fidelity lab and calibration.

Agreement between two sets of pass/fail decisions (Cohen's kappa), rank correlation
(Spearman), monotone regression (pool-adjacent-violators) and a percentile bootstrap. Written
out here because they are short and a numeric dependency would be heavier than the code.
"""

from __future__ import annotations

import math
import random
from typing import Callable, List, Sequence, Tuple

__all__ = [
    "agreement",
    "bootstrap_interval",
    "cohen_kappa",
    "isotonic_fit",
    "isotonic_predict",
    "jaccard",
    "precision_recall",
    "spearman",
]


def agreement(a: Sequence[bool], b: Sequence[bool]) -> float:
    """Share of positions where ``a`` and ``b`` decide the same (1.0 for empty input)."""
    if not a:
        return 1.0
    return sum(x == y for x, y in zip(a, b)) / len(a)


def cohen_kappa(a: Sequence[bool], b: Sequence[bool]) -> float:
    """Cohen's kappa of two binary raters: agreement corrected for chance.

    1 = identical, 0 = what independent raters with these pass rates would reach. When both
    raters are constant and equal the agreement is perfect and kappa is 1; when chance
    agreement is 1 but they differ (impossible for equal lengths) it is 0.
    """
    n = len(a)
    if n == 0:
        return 1.0
    po = agreement(a, b)
    pa = sum(a) / n
    pb = sum(b) / n
    pe = pa * pb + (1 - pa) * (1 - pb)
    if pe >= 1.0:
        return 1.0 if po >= 1.0 else 0.0
    return (po - pe) / (1 - pe)


def jaccard(a: Sequence[bool], b: Sequence[bool]) -> float:
    """Jaccard index of the two pass sets (1.0 when both are empty)."""
    both = sum(x and y for x, y in zip(a, b))
    either = sum(x or y for x, y in zip(a, b))
    return 1.0 if either == 0 else both / either


def precision_recall(predicted: Sequence[bool], reference: Sequence[bool]) -> Tuple[float, float]:
    """(precision, recall) of ``predicted`` against ``reference``; 1.0 where undefined (0/0)."""
    tp = sum(p and r for p, r in zip(predicted, reference))
    pp = sum(predicted)
    rp = sum(reference)
    return (tp / pp if pp else 1.0, tp / rp if rp else 1.0)


def _ranks(values: Sequence[float]) -> List[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        mid = (i + j) / 2.0 + 1.0
        for k in range(i, j + 1):
            ranks[order[k]] = mid
        i = j + 1
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman rank correlation (ties get mid-ranks); NaN with fewer than 3 pairs or no spread."""
    if len(x) < 3 or len(x) != len(y):
        return math.nan
    rx, ry = _ranks(x), _ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    if sxx == 0 or syy == 0:
        return math.nan
    return sxy / math.sqrt(sxx * syy)


def isotonic_fit(
    xs: Sequence[float], ys: Sequence[float], weights: Sequence[float] = ()
) -> List[Tuple[float, float]]:
    """Non-decreasing least-squares fit of ``ys`` on ``xs`` (pool-adjacent-violators).

    Returns the knots ``[(x, fitted y), ...]`` sorted by x, one per distinct x; use
    :func:`isotonic_predict` to evaluate between them (linear interpolation, flat outside).
    """
    w = list(weights) if weights else [1.0] * len(xs)
    pts = sorted(zip(xs, ys, w))
    # Merge equal x first: one knot per distinct x.
    merged: List[List[float]] = []  # [x, weighted mean y, weight]
    for x, y, wt in pts:
        if merged and merged[-1][0] == x:
            m = merged[-1]
            total = m[2] + wt
            m[1] = (m[1] * m[2] + y * wt) / total if total else m[1]
            m[2] = total
        else:
            merged.append([x, y, wt])
    blocks: List[List[float]] = []  # [mean y, weight, first index, last index]
    for i, (_, y, wt) in enumerate(merged):
        blocks.append([y, wt, float(i), float(i)])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            b = blocks.pop()
            a = blocks[-1]
            total = a[1] + b[1]
            a[0] = (a[0] * a[1] + b[0] * b[1]) / total if total else a[0]
            a[1] = total
            a[3] = b[3]
    out: List[Tuple[float, float]] = []
    for mean, _, first, last in blocks:
        for i in range(int(first), int(last) + 1):
            out.append((merged[i][0], mean))
    return out


def isotonic_predict(knots: Sequence[Tuple[float, float]], x: float) -> float:
    """Value of a fitted monotone map at ``x``: linear between knots, constant beyond them."""
    if not knots:
        return x
    if x <= knots[0][0]:
        return knots[0][1]
    if x >= knots[-1][0]:
        return knots[-1][1]
    lo, hi = 0, len(knots) - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if knots[mid][0] <= x:
            lo = mid
        else:
            hi = mid
    (x0, y0), (x1, y1) = knots[lo], knots[hi]
    if x1 == x0:
        return y1
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


def bootstrap_interval(
    n: int,
    statistic: Callable[[Sequence[int]], float],
    *,
    rounds: int = 200,
    level: float = 0.9,
    seed: int = 0,
) -> Tuple[float, float]:
    """Percentile bootstrap interval of ``statistic(indices)`` over ``n`` resampled items."""
    if n == 0:
        return (math.nan, math.nan)
    rng = random.Random(seed)
    values = []
    for _ in range(rounds):
        idx = [rng.randrange(n) for _ in range(n)]
        v = statistic(idx)
        if not math.isnan(v):
            values.append(v)
    if not values:
        return (math.nan, math.nan)
    values.sort()
    lo = values[int((1 - level) / 2 * (len(values) - 1))]
    hi = values[int((1 + level) / 2 * (len(values) - 1))]
    return (lo, hi)
