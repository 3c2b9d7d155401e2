"""The sample Grafana dashboard (kubernetes/grafana/eventinvoke-dashboard.json) shows every
metric eventinvoke declares (server/metrics.py), names no other, and aggregates each as its
kind and its source require: counters through rate or increase, histograms through
histogram_quantile, and the backend's figures (the same from every invoker replica) with max."""

from __future__ import annotations

import json
import re
from typing import Any

from deployment.harness import ROOT

from eventinvoke.server.metrics import BACKEND_FIGURES, METRICS

DASHBOARD = ROOT / "kubernetes" / "grafana" / "eventinvoke-dashboard.json"
NAME = re.compile(r"\b(eventinvoke_[a-z_]+)")


def _dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())  # type: ignore[no-any-return]


def _panels() -> list[dict[str, Any]]:
    return [p for p in _dashboard()["panels"] if p["type"] != "row"]


def _expressions() -> list[str]:
    return [target["expr"] for panel in _panels() for target in panel["targets"]]


def _declared(name: str) -> str | None:
    """The declared metric a series name belongs to (a histogram's _bucket, _sum, _count)."""
    for spec in METRICS:
        series = (spec.name,)
        if spec.kind == "histogram":
            series = tuple(f"{spec.name}_{part}" for part in ("bucket", "sum", "count"))
        if name in series:
            return spec.name
    return None


def test_every_declared_metric_is_shown_and_no_other_is_named() -> None:
    named = {n for e in _expressions() for n in NAME.findall(e)}
    assert {n for n in named if _declared(n) is None} == set()
    assert {_declared(n) for n in named} == {spec.name for spec in METRICS}


def test_each_metric_is_aggregated_as_its_kind_requires() -> None:
    kinds = {spec.name: spec.kind for spec in METRICS}
    for expression in _expressions():
        assert expression.count("(") == expression.count(")"), expression
        for name in NAME.findall(expression):
            declared = _declared(name)
            assert declared is not None
            if kinds[declared] == "counter":
                assert re.search(rf"\b(rate|increase)\({name}\b", expression), expression
            if name.endswith("_bucket"):
                assert "histogram_quantile(" in expression and f"rate({name}" in expression
    for spec in BACKEND_FIGURES:
        for expression in _expressions():
            if spec.name in expression:
                # Every invoker replica reports the same figure: a sum would multiply it.
                assert expression.startswith("max") and "sum" not in expression, expression


def test_every_panel_reads_the_chosen_prometheus_and_the_function_filter_applies() -> None:
    dashboard = _dashboard()
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["query"] == "prometheus"
    assert "function_name" in variables["function"]["definition"]
    for panel in _panels():
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel
        for target in panel["targets"]:
            if "function_name" in target.get("legendFormat", ""):
                assert 'function_name=~"$function"' in target["expr"], target["expr"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    # The grid: 24 columns, no two panels overlapping.
    cells: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24
        area = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not area & cells, panel["title"]
        cells |= area
