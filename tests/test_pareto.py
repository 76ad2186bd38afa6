"""bench.pareto against a brute-force O(n^2) definition, plus hand-worked cases."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from bench.pareto import dominates, pareto_front


def brute_force(points: list[tuple[float, float]], maximize_y: bool = True) -> set[int]:
    """Independent definition: i is kept unless some j is <= in x, >= in y (better-y) and differs."""

    def better_or_equal_y(a: float, b: float) -> bool:
        return a >= b if maximize_y else a <= b

    kept = set()
    for i, (xi, yi) in enumerate(points):
        dominated = any(
            xj <= xi and better_or_equal_y(yj, yi) and (xj, yj) != (xi, yi)
            for j, (xj, yj) in enumerate(points)
            if j != i
        )
        if not dominated:
            kept.add(i)
    return kept


def test_hand_cases() -> None:
    assert pareto_front([]) == []
    assert pareto_front([(3.0, 30.0)]) == [0]
    # faster and better dominates; a trade-off keeps both
    assert pareto_front([(1.0, 30.0), (2.0, 29.0)]) == [0]
    assert pareto_front([(1.0, 29.0), (2.0, 30.0)]) == [0, 1]
    # equal x: the better y wins; equal y: the faster wins
    assert pareto_front([(1.0, 29.0), (1.0, 30.0)]) == [1]
    assert pareto_front([(2.0, 30.0), (1.0, 30.0)]) == [1]
    # exact duplicates are both kept
    assert pareto_front([(1.0, 30.0), (1.0, 30.0), (2.0, 31.0)]) == [0, 1, 2]
    # result is in ascending x
    assert pareto_front([(5.0, 33.0), (1.0, 28.0), (3.0, 31.0), (4.0, 30.0)]) == [1, 2, 0]


def test_minimise_y() -> None:
    # LPIPS: lower is better
    points = [(1.0, 0.30), (2.0, 0.20), (3.0, 0.25), (0.5, 0.40)]
    assert pareto_front(points, maximize_y=False) == [3, 0, 1]
    assert pareto_front(points, maximize_y=True) == [3]


def test_infinities_and_nan() -> None:
    assert pareto_front([(0.0, -math.inf)]) == [0]
    assert pareto_front([(0.0, -math.inf), (1.0, 20.0)]) == [0, 1]
    assert pareto_front([(math.inf, 40.0), (1.0, 20.0)]) == [1, 0]
    with pytest.raises(ValueError, match="NaN"):
        pareto_front([(1.0, math.nan)])


def test_dominates() -> None:
    assert dominates((1.0, 30.0), (2.0, 30.0))
    assert not dominates((1.0, 30.0), (1.0, 30.0))
    assert not dominates((1.0, 29.0), (2.0, 30.0))
    assert dominates((1.0, 0.1), (1.0, 0.2), maximize_y=False)


@pytest.mark.parametrize("maximize_y", [True, False])
@pytest.mark.parametrize("seed", range(40))
def test_matches_brute_force(seed: int, maximize_y: bool) -> None:
    rng = random.Random(seed)
    n = rng.randint(0, 60)
    # a small value grid forces ties in x, in y and exact duplicates
    grid = rng.choice([3, 6, 1000])
    points = [(float(rng.randint(0, grid)), float(rng.randint(0, grid))) for _ in range(n)]
    if points and rng.random() < 0.5:
        points += rng.sample(points, k=min(5, len(points)))  # explicit duplicates
    front = pareto_front(points, maximize_y=maximize_y)
    assert len(front) == len(set(front))
    assert set(front) == brute_force(points, maximize_y=maximize_y)
    xs = [points[i][0] for i in front]
    assert xs == sorted(xs)


def test_large_input_is_fast() -> None:
    rng = random.Random(0)
    points = [(rng.random(), rng.random()) for _ in range(200_000)]
    front = pareto_front(points)
    # along the front x rises and y rises strictly
    ys = [points[i][1] for i in front]
    assert all(a < b for a, b in itertools.pairwise(ys))
