"""The property universe ``deploy`` checks against: CloudFormation's resource schemas, vendored
from cfn-lint (``deploy/schemas``), and the order resources are applied in."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
from pathlib import Path

import pytest

from eventinvoke.deploy import order, properties, sam
from eventinvoke.deploy.schemas import FILES, HERE, writable_properties
from eventinvoke.deploy.specs import FUNCTION, SERVERLESS_FUNCTION, VersionSpec
from eventinvoke.deploy.specs import Step as DeployStep


def test_every_applied_or_refused_property_is_in_its_schema() -> None:
    for type_name, applied in properties.APPLIED.items():
        assert applied <= writable_properties(type_name), type_name
    assert writable_properties(SERVERLESS_FUNCTION) >= sam.APPLIED
    for type_name, refused in properties.REFUSED.items():
        assert refused <= writable_properties(type_name), type_name


def test_read_only_properties_are_not_writable() -> None:
    assert "Arn" not in writable_properties(FUNCTION)
    assert "SnapStart" in properties.not_applied(FUNCTION, properties.APPLIED[FUNCTION])
    assert "Events" in properties.not_applied(SERVERLESS_FUNCTION, sam.APPLIED)


def test_vendored_schemas_are_cfn_lints_own() -> None:
    """``make cfn-schemas`` copies them verbatim; checked when the installed cfn-lint is the
    release they were copied from (the dev extra pins it; with another, a refresh is due)."""
    source = json.loads((HERE / "source.json").read_text())
    spec = importlib.util.find_spec("cfnlint")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("cfn-lint is not installed")
    if importlib.metadata.version("cfn-lint") != source["cfn-lint"]:
        pytest.skip(f"cfn-lint is not {source['cfn-lint']}, the release the schemas come from")
    root = Path(next(iter(spec.submodule_search_locations))).parent
    for name in FILES.values():
        assert (HERE / name).read_bytes() == (root / source["files"][name]).read_bytes(), name


def _step(logical_id: str) -> DeployStep:
    return DeployStep(logical_id, "AWS::Lambda::Version", {}, VersionSpec("f"), logical_id)


def test_dependencies_first_then_template_order_within_a_level() -> None:
    steps = [_step(name) for name in ("A", "B", "C", "D")]
    edges = {"A": {"C"}, "B": set(), "C": set(), "D": {"A", "B"}}
    errors: list[str] = []

    ordered = order.in_order(steps, edges, errors)

    assert [s.logical_id for s in ordered] == ["B", "C", "A", "D"] and not errors


def test_a_cycle_is_named() -> None:
    steps = [_step(name) for name in ("A", "B", "C")]
    errors: list[str] = []

    assert order.in_order(steps, {"A": {"B"}, "B": {"A"}, "C": {"A"}}, errors) == []
    assert errors == [
        "Template format error: Circular dependency between resources: [A, B]",
    ]
