"""Quality-latency Pareto fronts.

Each point is ``(x, y)`` with ``x`` a cost to minimise (latency in ms) and ``y`` a quality to
maximise (PSNR) or, with ``maximize_y=False``, to minimise (LPIPS).

Point ``a`` *dominates* point ``b`` when ``a`` is no worse than ``b`` in both coordinates and
strictly better in at least one. The *Pareto front* is the set of points that no other point
dominates. Two exactly equal points do not dominate each other, so duplicates on the front are
all kept.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["dominates", "pareto_front"]


def dominates(a: tuple[float, float], b: tuple[float, float], maximize_y: bool = True) -> bool:
    """Whether ``a`` dominates ``b`` (x minimised; y maximised unless ``maximize_y`` is False)."""
    ax, ay = a
    bx, by = b
    if not maximize_y:
        ay, by = -ay, -by
    return ax <= bx and ay >= by and (ax < bx or ay > by)


def pareto_front(points: Sequence[tuple[float, float]], maximize_y: bool = True) -> list[int]:
    """Indices of the non-dominated ``points``, in ascending x (ties: ascending index).

    ``x`` is minimised; ``y`` is maximised, or minimised when ``maximize_y`` is False. A point
    dominates another if it is no worse in both coordinates and strictly better in one; exact
    duplicates are both kept. O(n log n): sort by x, then sweep keeping the best y seen at
    strictly smaller x. NaN coordinates raise :class:`ValueError`.
    """
    sign = 1.0 if maximize_y else -1.0
    keyed: list[tuple[float, float, int]] = []
    for index, (x, y) in enumerate(points):
        fx, fy = float(x), float(y)
        if math.isnan(fx) or math.isnan(fy):
            raise ValueError(f"point {index} has a NaN coordinate: {(x, y)!r}")
        keyed.append((fx, sign * fy, index))
    # x ascending, then (sign-adjusted) y descending, then index ascending.
    keyed.sort(key=lambda item: (item[0], -item[1], item[2]))

    front: list[int] = []
    best_y: float | None = None  # best y among points with strictly smaller x
    start = 0
    while start < len(keyed):
        x = keyed[start][0]
        end = start
        while end < len(keyed) and keyed[end][0] == x:
            end += 1
        group_best = keyed[start][1]
        # The group's best y survives iff nothing at smaller x reaches it; worse y at the same x
        # is dominated by the group's best.
        if best_y is None or group_best > best_y:
            front.extend(index for _, gy, index in keyed[start:end] if gy == group_best)
            best_y = group_best
        start = end
    return front
