"""Loss-versus-model-size points for the scaling-llms lesson: a known power law plus noise.

    from tutor.checking.scalinglaw import load_scaling_points, power_law_points
    N, L = load_scaling_points()          # the shipped points (data_files/scaling_points.csv)
    N, L = power_law_points(a=300, alpha=0.3, c=1.8, noise=0.01, seed=0)   # a fresh set

Every set follows L(N) = a·N^(-alpha) + c, times log-normal noise exp(noise·z) with z ~ N(0, 1),
at `points` model sizes spaced evenly in log N between 10^LOG10_MIN and 10^LOG10_MAX. The shipped
CSV was made by data_files/make_scaling_points.py, which also records its true parameters
(the lesson does not state them: finding them is the exercise).
`python -m tutor.checking.scalinglaw` prints the CSV's path.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

DATA_FILE = Path(__file__).resolve().parent / "data_files" / "scaling_points.csv"
LOG10_MIN, LOG10_MAX, POINTS = 5.5, 9.5, 13


def power_law_points(a: float, alpha: float, c: float, noise: float, seed: int,
                     points: int = POINTS) -> tuple[np.ndarray, np.ndarray]:
    """(N, L) float64 arrays: L = (a·N^-alpha + c)·exp(noise·z), N log-spaced over 10^5.5..10^9.5."""
    rng = np.random.default_rng(seed)
    N = np.logspace(LOG10_MIN, LOG10_MAX, points)
    return N, (a * N ** -alpha + c) * np.exp(noise * rng.standard_normal(points))


def write_points(path: Path, N: np.ndarray, L: np.ndarray) -> None:
    with open(path, "w", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(["params", "loss"])
        for n, loss in zip(N, L):
            out.writerow([f"{n:.6g}", f"{loss:.6f}"])


def load_scaling_points(path: Path = DATA_FILE) -> tuple[np.ndarray, np.ndarray]:
    """The shipped (N, L) points as float64 arrays (13 model sizes, their final losses in nats)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return (np.array([float(r["params"]) for r in rows]), np.array([float(r["loss"]) for r in rows]))


if __name__ == "__main__":
    print(DATA_FILE)
