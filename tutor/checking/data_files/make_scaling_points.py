"""Write scaling_points.csv: the loss-versus-size points of the scaling-llms lesson.

    python tutor/checking/data_files/make_scaling_points.py        # rewrites the file

Not measured on real models: 13 sizes from 10^5.5 to 10^9.5 parameters with losses drawn from a
known law, L = TRUE_A·N^(-TRUE_ALPHA) + TRUE_C, times log-normal noise of 1 % (NOISE), seed SEED.
The check reads the true parameters from this file (the lesson does not print them) and asks
for alpha within 0.05. The numbers are in the range Hoffmann et al. (2022) fitted for the
parameter term (their alpha 0.34, E 1.69), but they are this project's own choice.
"""

from __future__ import annotations

import sys
from pathlib import Path

TRUE_A, TRUE_ALPHA, TRUE_C = 260.0, 0.31, 1.85
NOISE, SEED = 0.01, 2024


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
    from tutor.checking.scalinglaw import DATA_FILE, power_law_points, write_points

    N, L = power_law_points(TRUE_A, TRUE_ALPHA, TRUE_C, NOISE, SEED)
    write_points(DATA_FILE, N, L)
    print(f"{DATA_FILE}: {len(N)} points")
    return 0


if __name__ == "__main__":
    sys.exit(main())
