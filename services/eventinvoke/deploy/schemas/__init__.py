"""CloudFormation's resource schemas for the types ``eventinvoke deploy`` reads, vendored.

The JSON files beside this module are byte-for-byte copies of the resource provider schemas
cfn-lint bundles (``cfnlint/data/schemas``: CloudFormation's registry schemas for
``AWS::Lambda::*``, and the SAM specification's for ``AWS::Serverless::Function``);
``source.json`` names the cfn-lint release they come from. ``python -m
eventinvoke.deploy.schemas`` (``make cfn-schemas``) copies them again from the cfn-lint
installed in the environment, so a refresh is a reviewed diff.

Vendored rather than read from cfn-lint at run time: importing cfn-lint costs ~0.4 s and
~65 MiB (sympy, networkx, 1,100 modules), and depending on it only for its data files would
still install ~150 MB (cfn-lint 41 MB with 1,900 schemas, sympy 80 MB) into every deployment
for five files. No run-time dependency of eventinvoke brings it in (``moto[server]``, a test
dependency, does).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

# Resource type -> the vendored file holding its schema.
FILES = {
    "AWS::Lambda::Function": "aws-lambda-function.json",
    "AWS::Lambda::Version": "aws-lambda-version.json",
    "AWS::Lambda::Alias": "aws-lambda-alias.json",
    "AWS::Lambda::EventInvokeConfig": "aws-lambda-eventinvokeconfig.json",
    "AWS::Serverless::Function": "aws-serverless-function.json",
}


@functools.cache
def schema(type_name: str) -> dict[str, Any]:
    """The resource schema of ``type_name`` (one of ``FILES``)."""
    loaded: dict[str, Any] = json.loads((HERE / FILES[type_name]).read_text())
    return loaded


@functools.cache
def writable_properties(type_name: str) -> frozenset[str]:
    """The top-level properties a template may set: the schema's, less its read-only ones
    (``Arn``, ``Version``... which CloudFormation reports and never takes)."""
    document = schema(type_name)
    read_only = {
        pointer.removeprefix("/properties/")
        for pointer in document.get("readOnlyProperties", ())
        if pointer.count("/") == 2
    }
    return frozenset(document["properties"]) - read_only
