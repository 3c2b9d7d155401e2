"""The run's picture, ``bench/results/<date>.svg``: throughput per system (bars) and the latency
distribution at the offered rate (a CDF, one line per system), from the reported runs.

The CDF is drawn from every latency of the reported runs (kept in memory, not in the JSON);
given none, it falls back on the JSON's ``latency_cdf_ms`` percentiles, so a document can be
drawn again later. Matplotlib runs on its Agg backend (no display) and writes text as text,
so the SVG stays searchable and small.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from matplotlib import ticker

from eventinvoke.bench.report import SYSTEMS
from eventinvoke.bench.report_table import label

COLOURS = {
    "eventinvoke": "#1f77b4",
    "eventinvoke_postgres": "#17becf",
    "celery": "#2ca02c",
    "dramatiq": "#d62728",
}


def draw(doc: dict[str, Any], latencies: dict[str, list[float]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "eventinvoke-bench"})
    names = [name for name in SYSTEMS if name in doc]
    figure, (bars, lines) = plt.subplots(1, 2, figsize=(12, 4.8), layout="constrained")
    _throughput(bars, doc, names)
    _cdf(lines, doc, names, latencies)
    m = doc["machine"]
    figure.suptitle(
        f"eventinvoke bench {doc['date'][:10]}: N={doc['n']:,}, C={doc['concurrency']}, "
        f"{m['cores']} cores, Python {m['python']}"
        + (f"; round {doc['reported']['round']} of {doc['repeat']}" if doc["repeat"] > 1 else ""),
        fontsize=11,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    # No date in the metadata: the same document draws the same file.
    figure.savefig(path, format="svg", metadata={"Date": None})
    plt.close(figure)
    return path


def _throughput(axes: Any, doc: dict[str, Any], names: list[str]) -> None:
    width = 0.38
    for offset, key, title, hatch in (
        (-width / 2, "accept_per_s", "accepted", "//"),
        (width / 2, "e2e_per_s", "end to end", ""),
    ):
        xs = [i + offset for i in range(len(names))]
        values = [doc[name][key] for name in names]
        drawn = axes.bar(
            xs,
            values,
            width,
            color=[COLOURS.get(n, "grey") for n in names],
            hatch=hatch,
            edgecolor="white" if hatch else None,
            label=title,
        )
        axes.bar_label(drawn, labels=[f"{v:,.0f}" for v in values], fontsize=8, padding=2)
    axes.set_xticks(range(len(names)), [label(n) for n in names], fontsize=9)
    axes.set_ylabel("events/s")
    axes.set_title("Throughput (hatched: accepted; solid: end to end)", fontsize=10)
    axes.margins(y=0.12)
    axes.grid(axis="y", alpha=0.3)


def _minor_label(value: float, _: int) -> str:
    # Label 2 and 5 of each decade; the others only carry the grid.
    leading = value / 10 ** math.floor(math.log10(value)) if value > 0 else 0
    return f"{value:g}" if round(leading) in (2, 5) else ""


def _cdf(
    axes: Any, doc: dict[str, Any], names: list[str], latencies: dict[str, list[float]]
) -> None:
    for name in names:
        values = sorted(latencies.get(name) or [])
        if values:
            xs = values
            ys = [(i + 1) / len(values) * 100 for i in range(len(values))]
        else:  # from the JSON's percentile series
            series = doc[name].get("latency_cdf_ms") or []
            xs = [ms for _, ms in series]
            ys = [p for p, _ in series]
        p99 = doc[name]["latency_ms"]["p99"]
        axes.step(
            xs,
            ys,
            where="post",
            color=COLOURS.get(name, "grey"),
            label=f"{label(name)} (p50 {doc[name]['latency_ms']['p50']:.1f}, p99 {p99:.1f} ms)",
        )
    axes.set_xscale("log")
    # Plain numbers (2, 5, 10, 50 ms), not powers of ten.
    axes.xaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    axes.xaxis.set_minor_formatter(ticker.FuncFormatter(_minor_label))
    axes.set_xlabel("latency, send → collector ran (ms, log scale)")
    axes.set_ylabel("% of events")
    axes.set_ylim(0, 100.5)
    axes.set_title(
        f"Latency at {doc['rate']:g}/s offered ({doc['latency_events']} events)", fontsize=10
    )
    axes.grid(alpha=0.3, which="both")
    axes.legend(fontsize=8, loc="lower right")
