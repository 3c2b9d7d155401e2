"""The vendored model, its patches and the names derived from it."""

from __future__ import annotations

import json

import botocore.session
import pytest
from botocore import xform_name

from eventinvoke.api.codec import snake
from eventinvoke.api.model import MODEL_FILE, OWN_MODEL_FILE, PATCHES, lambda_model
from eventinvoke.api.operations import BY_NAME, OPERATIONS


@pytest.fixture(scope="module")
def botocore_model() -> dict:
    loader = botocore.session.get_session().get_component("data_loader")
    return loader.load_service_model("lambda", "service-2")


def test_every_aws_operation_of_the_table_is_in_the_vendored_model() -> None:
    vendored = json.loads(MODEL_FILE.read_text())
    aws = [op.name for op in OPERATIONS if op.aws]
    assert sorted(aws) == sorted(vendored["operations"])


def test_our_own_operations_have_a_model_too_and_no_shape_collides() -> None:
    vendored = json.loads(MODEL_FILE.read_text())
    own = json.loads(OWN_MODEL_FILE.read_text())
    assert not set(vendored["shapes"]) & set(own["shapes"])
    served = [op.name for op in OPERATIONS if not op.aws and op.client]
    assert sorted(served) == sorted(own["operations"])


def test_the_vendored_routes_are_botocores(botocore_model: dict) -> None:
    """A refresh from a newer botocore changes constraints or members (a reviewed diff), but
    the routes of the operations served must stay where AWS serves them."""
    vendored = json.loads(MODEL_FILE.read_text())
    for name, operation in vendored["operations"].items():
        assert operation["http"]["method"] == botocore_model["operations"][name]["http"]["method"]
        assert (
            operation["http"]["requestUri"]
            == botocore_model["operations"][name]["http"]["requestUri"]
        )


def test_snake_case_names_are_botocores() -> None:
    """The codec pairs a proto field with an AWS member by botocore's own naming rule."""
    model = lambda_model()
    names = {member for shape in model.shapes.values() for member in shape.get("members", {})}
    assert names
    for name in names:
        assert snake(name) == xform_name(name), name


def test_every_patch_applies_to_a_member_that_exists() -> None:
    model = lambda_model()
    for patch in PATCHES:
        operations = model.operation_names if patch.operation == "*" else [patch.operation]
        applied = [
            name
            for name in operations
            if (input_shape := model.operation(name).input) is not None
            and _member_shape(model, input_shape, patch.member) is not None
        ]
        assert applied, patch
        for name in applied:
            shape = model.shape(_member_shape(model, model.operation(name).input, patch.member))
            for key, value in patch.changes.items():
                assert shape[key] == value, (patch, name)


def test_a_patch_does_not_leak_into_other_operations() -> None:
    model = lambda_model()
    put = _member_shape(model, "PutFunctionEventInvokeConfigRequest", "FunctionName")
    invoke = _member_shape(model, "InvocationRequest", "FunctionName")
    assert model.shape(put)["max"] == 140
    assert model.shape(invoke)["max"] == 256


def test_operations_are_named_once() -> None:
    assert len(BY_NAME) == len(OPERATIONS)


def _member_shape(model, structure: str, path: str) -> str | None:  # type: ignore[no-untyped-def]
    shape = structure
    for part in path.split("."):
        member = model.shape(shape).get("members", {}).get(part)
        if member is None:
            return None
        shape = member["shape"]
    return shape


def test_the_clients_methods_are_generated_from_the_table() -> None:
    from eventinvoke.api import generate

    stale = [path.name for path, text in generate.files().items() if path.read_text() != text]

    assert stale == [], "run: make install (python -m eventinvoke.api.generate)"
