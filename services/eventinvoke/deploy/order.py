"""The order resources are applied in: dependencies first, template order within a level.

A resource depends on what it names by ``Ref``, ``Fn::GetAtt``, ``Fn::Sub`` or ``DependsOn``,
and on a function, alias or Lambda destination of the template that it names by its plain name
or ARN. ``graphlib`` sorts: each round takes every resource whose dependencies are all applied,
in template order.
"""

from __future__ import annotations

import graphlib
from typing import TYPE_CHECKING

from eventinvoke.deploy.properties import named_function
from eventinvoke.deploy.specs import AliasSpec, EventInvokeConfigSpec, FunctionSpec, Step
from eventinvoke.deploy.template import references

if TYPE_CHECKING:
    from eventinvoke.deploy.plan import Plan


def dependencies(
    plan: Plan, depends: dict[str, set[str]], errors: list[str]
) -> dict[str, set[str]]:
    """Each step's logical id -> the logical ids of the steps it needs applied first."""
    ids = {step.logical_id for step in plan.steps}
    names = plan.function_names()
    aliases = {
        (s.spec.function_name, s.spec.name): s.logical_id
        for s in plan.steps
        if isinstance(s.spec, AliasSpec)
    }
    edges: dict[str, set[str]] = {}
    for step in plan.steps:
        needs = set(depends.get(step.logical_id, set())) | references(step.properties)
        missing = sorted(n for n in depends.get(step.logical_id, set()) if n not in ids)
        if missing:
            errors.append(
                f"Template format error: Unresolved resource dependencies [{', '.join(missing)}]"
                " in the Resources block of the template"
            )
        spec = step.spec
        # A function or a destination named by its plain name or ARN, not by Ref.
        if not isinstance(spec, FunctionSpec) and spec.function_name in names:
            needs.add(names[spec.function_name])
        if isinstance(spec, EventInvokeConfigSpec):
            if (spec.function_name, spec.qualifier) in aliases:
                needs.add(aliases[(spec.function_name, spec.qualifier)])
            for arn in (spec.on_success, spec.on_failure):
                if arn and arn.split(":")[2:3] == ["lambda"] and plan.ours(arn):
                    target = named_function(arn)
                    if target in names:
                        needs.add(names[target])
        edges[step.logical_id] = {n for n in needs if n in ids and n != step.logical_id}
    return edges


def in_order(steps: list[Step], edges: dict[str, set[str]], errors: list[str]) -> list[Step]:
    """The steps sorted by ``edges``; a cycle is reported in ``errors`` (nothing returned)."""
    by_id = {step.logical_id: step for step in steps}
    position = {logical_id: index for index, logical_id in enumerate(by_id)}
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for logical_id in by_id:
        sorter.add(logical_id, *edges.get(logical_id, ()))
    try:
        sorter.prepare()
    except graphlib.CycleError as cycle:
        errors.append(
            "Template format error: Circular dependency between resources:"
            f" [{', '.join(sorted(set(cycle.args[1])))}]"
        )
        return []
    ordered: list[Step] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=position.__getitem__)
        ordered.extend(by_id[logical_id] for logical_id in ready)
        sorter.done(*ready)
    return ordered
