"""Function names as AWS parses them; names are remembered once parsed, failures never."""

from __future__ import annotations

import pytest

from eventinvoke.core.arn import Partition, parse_function_name
from eventinvoke.core.errors import (
    InvalidParameterValueException,
    ResourceNotFoundException,
    ValidationException,
)


@pytest.mark.parametrize(
    ("value", "qualifier", "name", "resolved"),
    [
        ("fn", None, "fn", "$LATEST"),
        ("fn:live", None, "fn", "live"),
        ("fn", "7", "fn", "7"),
        ("arn:aws:lambda:us-east-1:000000000000:function:fn:live", None, "fn", "live"),
        ("000000000000:fn", None, "fn", "$LATEST"),
    ],
)
def test_names_qualifiers_and_arns_parse_alike_each_time(
    value: str, qualifier: str | None, name: str, resolved: str
) -> None:
    for _ in range(2):  # the second answer is the remembered one
        ref = Partition().parse(value, qualifier)
        assert (ref.name, ref.resolved_qualifier) == (name, resolved)


def test_a_value_that_fails_fails_every_time() -> None:
    for _ in range(2):
        with pytest.raises(ValidationException, match="at 'functionName'"):
            parse_function_name("not a name")
        with pytest.raises(InvalidParameterValueException, match="derived qualifier"):
            parse_function_name("fn:live", "other")
    # The same name with the matching qualifier still parses.
    assert parse_function_name("fn:live", "live").qualifier == "live"


def test_another_region_or_account_is_refused_however_often_it_is_asked() -> None:
    partition = Partition()
    for _ in range(2):
        with pytest.raises(ResourceNotFoundException, match="not reachable in this region"):
            partition.parse("arn:aws:lambda:eu-west-1:000000000000:function:fn")
        with pytest.raises(ResourceNotFoundException, match="Function not found"):
            partition.parse("111111111111:fn")
