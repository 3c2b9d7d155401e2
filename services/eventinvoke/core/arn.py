"""Function names, qualifiers and ARNs, as AWS parses them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from eventinvoke.core.errors import InvalidParameterValueException, Validation, ValidationException

LATEST = "$LATEST"
MAX_FUNCTION_NAME = 256  # NamespacedFunctionName

# botocore's lambda model, shape NamespacedFunctionName.
FUNCTION_NAME_PATTERN = (
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?"
    r"(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?"
)
_FUNCTION_NAME = re.compile(
    r"(?:arn:(?:aws[a-zA-Z-]*)?:lambda:)?(?P<region>[a-z]{2}(?:(?:-gov)|(?:-iso(?:[a-z]?)))?-[a-z]+-\d{1}:)?"
    r"(?P<account>\d{12}:)?(?:function:)?(?P<name>[a-zA-Z0-9-_\.]+)"
    r"(?::(?P<qualifier>\$LATEST(?:\.PUBLISHED)?|[a-zA-Z0-9-_]+))?"
)
_BARE_NAME = re.compile(r"[a-zA-Z0-9-_]{1,64}")
QUALIFIER_PATTERN = re.compile(r"\$LATEST|[a-zA-Z0-9-_$]{1,128}")


@dataclass(frozen=True)
class Partition:
    """Where ARNs point: the region and account of this installation."""

    region: str = "us-east-1"
    account: str = "000000000000"

    def function_arn(self, name: str, qualifier: str | None = None) -> str:
        arn = f"arn:aws:lambda:{self.region}:{self.account}:function:{name}"
        return f"{arn}:{qualifier}" if qualifier else arn


@dataclass(frozen=True)
class FunctionRef:
    """A function name as a caller gave it, split into name and (optional) qualifier."""

    name: str
    qualifier: str | None = None

    @property
    def resolved_qualifier(self) -> str:
        return self.qualifier or LATEST


def parse_function_name(
    value: str,
    qualifier: str | None = None,
    field: str = "functionName",
    max_length: int = MAX_FUNCTION_NAME,
) -> FunctionRef:
    """Split a name, ``name:qualifier``, full ARN or partial ARN.

    ``max_length`` is the model's limit for the operation: 256 for Invoke and the function
    operations (NamespacedFunctionName), 140 for the EventInvokeConfig ones.
    A qualifier given both in the name and separately must match.
    """
    match = _FUNCTION_NAME.fullmatch(value or "")
    check = Validation()
    if match is None:
        check.fail(
            value, field, f"Member must satisfy regular expression pattern: {FUNCTION_NAME_PATTERN}"
        )
    if len(value or "") > max_length:
        check.fail(value, field, f"Member must have length less than or equal to {max_length}")
    check.raise_if_any()
    assert match is not None
    name = match["name"]
    derived = match["qualifier"]
    if qualifier:
        if not QUALIFIER_PATTERN.fullmatch(qualifier):
            raise ValidationException(
                f"1 validation error detected: Value '{qualifier}' at 'qualifier' failed to "
                "satisfy constraint: Member must satisfy regular expression pattern: "
                "(|[a-zA-Z0-9$_-]+)"
            )
        if derived and derived != qualifier:
            raise InvalidParameterValueException(
                "The derived qualifier from the function name does not match the specified "
                "qualifier."
            )
    return FunctionRef(name=name, qualifier=qualifier or derived)


def validate_new_function_name(name: str) -> None:
    if not _BARE_NAME.fullmatch(name or ""):
        raise ValidationException(
            f"1 validation error detected: Value '{name}' at 'functionName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: "
            "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?"
            "(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
        )
