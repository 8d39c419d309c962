"""DET curves (FNMR against FMR, normal-deviate axes as ISO/IEC 19795-1 draws them)."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np
from scipy.stats import norm

from .metrics import det_curve, equal_error_rate

_TICKS = [1e-4, 1e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4]


def det_points(genuine, impostor, floor: float = 1e-5) -> tuple[np.ndarray, np.ndarray]:
    """(fmr, fnmr) clipped to [floor, 1 - floor] so that the probit axes stay finite."""
    _, fmr, fnmr = det_curve(genuine, impostor)
    return np.clip(fmr, floor, 1 - floor), np.clip(fnmr, floor, 1 - floor)


def plot_det(curves: Mapping[str, tuple], path: str | Path, title: str = "DET") -> Path:
    """Draw one DET curve per (label -> (genuine scores, impostor scores)) into a PNG."""
    if not curves:
        raise ValueError("no curves to plot")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 6))
    styles = ["-", "--", ":", "-."]
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    groups: dict[str, int] = {}
    for label, (g, i) in curves.items():
        fmr, fnmr = det_points(g, i)
        group = label.split(" ")[0]  # one line style per matcher, one colour per set
        style = styles[groups.setdefault(group, len(groups)) % len(styles)]
        colour = colours[len([k for k in list(curves)[:list(curves).index(label)]
                              if k.split(" ")[0] == group]) % len(colours)]
        eer = equal_error_rate(g, i)
        ax.plot(norm.ppf(fmr), norm.ppf(fnmr), style, color=colour, lw=1.4,
                label=f"{label} (EER {100 * eer:.2f}%)")
    ticks = norm.ppf(_TICKS)
    labels = [f"{100 * t:g}%" for t in _TICKS]
    ax.set_xticks(ticks, labels)
    ax.set_yticks(ticks, labels)
    ax.set_xlim(norm.ppf(5e-5), norm.ppf(0.5))
    ax.set_ylim(norm.ppf(5e-4), norm.ppf(0.5))
    ax.set_xlabel("false match rate")
    ax.set_ylabel("false non-match rate")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="upper right")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
