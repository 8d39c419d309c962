"""The benchmarks' plots: DET curves (FNMR against FMR, normal-deviate axes as ISO/IEC 19795-1
draws them), CMC curves of 1:N searches and score scatters. Figures are drawn on their own Agg
canvas: importing this never changes matplotlib's global backend for the caller."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

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

    fig, ax = _figure((6.5, 6))
    styles = ["-", "--", ":", "-."]
    colours = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
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
    return _save(fig, path)


def plot_cmc(ranks: Mapping[str, Sequence[int | None]], path: str | Path, title: str = "CMC",
             max_rank: int = 10) -> Path:
    """Cumulative match characteristic: the share of probes whose mate is within rank r, one
    curve per label -> the mates' 1-based ranks (None = not among the candidates)."""
    if not ranks:
        raise ValueError("no rank lists to plot")
    fig, ax = _figure((6, 4.5))
    r = np.arange(1, max_rank + 1)
    for label, values in ranks.items():
        found = np.array([v if v is not None else max_rank + 1 for v in values])
        rate = [(found <= k).mean() if found.size else 0.0 for k in r]
        ax.plot(r, 100 * np.asarray(rate), marker="o", ms=3, label=f"{label} (rank-1 {100 * rate[0]:.1f}%)")
    ax.set_xlabel("rank")
    ax.set_ylabel("identification rate (%)")
    ax.set_xticks(r)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return _save(fig, path)


def plot_scatter(x, y, path: str | Path, *, xlabel: str, ylabel: str, title: str) -> Path:
    """One point per item (e.g. biocap's quality score against the reference's)."""
    fig, ax = _figure((5.5, 5))
    ax.scatter(np.asarray(x, float), np.asarray(y, float), s=6, alpha=0.5)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    return _save(fig, path)


def plot_histograms(values: Mapping[str, Sequence[float]], path: str | Path, *, xlabel: str,
                    title: str, bins: int = 60) -> Path:
    """Overlaid normalised histograms, one per label (e.g. impostor scores of two sources)."""
    fig, ax = _figure((6, 4.5))
    for label, v in values.items():
        v = np.asarray(v, float)
        if v.size:
            ax.hist(v, bins=bins, density=True, histtype="step", lw=1.4, label=f"{label} (n={v.size:,})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_bars(values: Mapping[str, float | None], path: str | Path, *, xlabel: str, title: str,
              target: float | None = None) -> Path:
    """One horizontal bar per label (e.g. each quality component's response share), with an
    optional target line."""
    labels = [k for k, v in values.items() if v is not None]
    fig, ax = _figure((6.5, 0.28 * len(labels) + 1.2))
    ax.barh(range(len(labels)), [values[k] for k in labels])
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.invert_yaxis()
    if target is not None:
        ax.axvline(target, color="red", lw=1, ls="--", label=f"target {target:g}")
        ax.legend(fontsize=7, loc="lower left")
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(True, axis="x", alpha=0.3)
    return _save(fig, path)


def _figure(size: tuple[float, float]):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path
