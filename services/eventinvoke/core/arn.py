"""Function names, qualifiers and ARNs, as AWS parses them."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from eventinvoke.api.model import lambda_model
from eventinvoke.core.errors import (
    InvalidParameterValueException,
    ResourceNotFoundException,
    ValidationException,
)

LATEST = "$LATEST"

# AWS's pattern for a function name, name:qualifier, full or partial ARN (the model's
# NamespacedFunctionName), and the same with its parts named, to read a name that passed it.
FUNCTION_NAME_PATTERN: str = lambda_model().shape("NamespacedFunctionName")["pattern"]
_FUNCTION_NAME = re.compile(
    r"(?:arn:(?:aws[a-zA-Z-]*)?:lambda:)?"
    r"(?P<region>(?:eusc-)?[a-z]{2}(?:(?:-gov)|(?:-iso(?:[a-z]?)))?-[a-z]+-\d{1}:)?"
    r"(?P<account>\d{12}:)?(?:function:)?(?P<name>[a-zA-Z0-9-_\.]+)"
    r"(?::(?P<qualifier>\$LATEST(?:\.PUBLISHED)?|[a-zA-Z0-9-_]+))?"
)


@dataclass(frozen=True)
class Partition:
    """Where ARNs point: the region and account of this installation."""

    region: str = "us-east-1"
    account: str = "000000000000"

    def function_arn(
        self, name: str, qualifier: str | None = None, account: str | None = None
    ) -> str:
        arn = f"arn:aws:lambda:{self.region}:{account or self.account}:function:{name}"
        return f"{arn}:{qualifier}" if qualifier else arn

    def parse(
        self, value: str, qualifier: str | None = None, *, invoke: bool = False
    ) -> FunctionRef:
        """``parse_function_name``, for a function of this installation: an ARN of another
        region is AWS's "not reachable" error, one of another account names a function that
        does not exist here (``invoke``: its ARN carries ``$LATEST``, as Invoke's does)."""
        ref = parse_function_name(value, qualifier)
        if ref.region is not None and ref.region != self.region:
            raise ResourceNotFoundException(
                f"Functions from '{ref.region}' are not reachable in this region ('{self.region}')"
            )
        if ref.account is not None and ref.account != self.account:
            shown = ref.resolved_qualifier if invoke else ref.qualifier
            arn = self.function_arn(ref.name, shown, account=ref.account)
            raise ResourceNotFoundException(f"Function not found: {arn}")
        return ref


@dataclass(frozen=True)
class FunctionRef:
    """A function name as a caller gave it, split into name and (optional) qualifier."""

    name: str
    qualifier: str | None = None
    # Where an ARN (full or partial) placed the function; None when the name did not say.
    region: str | None = field(default=None, compare=False)
    account: str | None = field(default=None, compare=False)

    @property
    def resolved_qualifier(self) -> str:
        return self.qualifier or LATEST


# Every invocation parses its function's name, and names repeat: the last few thousand are
# remembered (bounded, since a name is a caller's input; a value that fails is never kept).
@functools.lru_cache(maxsize=4096)
def parse_function_name(value: str, qualifier: str | None = None) -> FunctionRef:
    """Split a name, ``name:qualifier``, full or partial ARN.

    Requests reach this checked against the model; a value that still does not parse gets the
    model's pattern error. A qualifier given both in the name and separately must match.
    """
    match = _FUNCTION_NAME.fullmatch(value or "")
    if match is None:
        raise ValidationException(
            f"1 validation error detected: Value '{value}' at 'functionName' failed to satisfy "
            f"constraint: Member must satisfy regular expression pattern: {FUNCTION_NAME_PATTERN}"
        )
    name = match["name"]
    derived = match["qualifier"]
    if qualifier and derived and derived != qualifier:
        raise InvalidParameterValueException(
            "The derived qualifier from the function name does not match the specified qualifier."
        )
    return FunctionRef(
        name=name,
        qualifier=qualifier or derived,
        region=(match["region"] or "").rstrip(":") or None,
        account=(match["account"] or "").rstrip(":") or None,
    )
