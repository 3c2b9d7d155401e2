"""Refresh ``lambda-2015-03-31.json`` from the installed botocore: run
``python -m eventinvoke.api.vendor``.

The served operations of AWS Lambda's service model, with the shapes they reach, each
documentation cut to its first sentence (the CLI's help). A copy of our own, not botocore's at
run time: the messages eventinvoke answers with must not change when a dependency updates
botocore, and the server need not import botocore to validate a request. A refresh is a
reviewed diff.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

from eventinvoke.api.operations import OPERATIONS

MODEL_FILE = Path(__file__).with_name("lambda-2015-03-31.json")


def first_sentence(documentation: str) -> str:
    """Plain text of an HTML documentation string, up to its first full stop."""
    text = html.unescape(re.sub(r"<[^>]+>", "", documentation))
    text = " ".join(text.split())
    match = re.match(r"(.+?\.)(\s|$)", text)
    return match.group(1) if match else text


def trimmed(raw: dict[str, Any], names: list[str]) -> dict[str, Any]:
    shapes: dict[str, Any] = {}

    def reach(name: str) -> None:
        if name in shapes:
            return
        shape = dict(raw["shapes"][name])
        shapes[name] = shape
        shape.pop("documentation", None)
        members = shape.get("members", {})
        shape["members"] = {} if "members" in shape else None
        if shape["members"] is None:
            del shape["members"]
        for member_name, member in members.items():
            member = dict(member)
            if "documentation" in member:
                member["documentation"] = first_sentence(member["documentation"])
            shape["members"][member_name] = member
            reach(member["shape"])
        for part in ("member", "key", "value"):
            if part in shape:
                reach(shape[part]["shape"])

    operations = {}
    for name in names:
        operation = dict(raw["operations"][name])
        operation["documentation"] = first_sentence(operation.get("documentation", ""))
        operation.pop("authtype", None)
        operations[name] = operation
        for part in ("input", "output"):
            if part in operation:
                reach(operation[part]["shape"])
        for error in operation.get("errors", []):
            reach(error["shape"])
    return {
        "metadata": {
            key: raw["metadata"][key] for key in ("apiVersion", "protocol", "serviceId", "uid")
        },
        "operations": operations,
        "shapes": dict(sorted(shapes.items())),
    }


def main() -> None:
    import botocore
    import botocore.session

    loader = botocore.session.get_session().get_component("data_loader")
    raw = loader.load_service_model("lambda", "service-2")
    names = [op.name for op in OPERATIONS if op.aws]
    model = trimmed(raw, names)
    model["metadata"]["botocore"] = botocore.__version__
    MODEL_FILE.write_text(json.dumps(model, indent=1, sort_keys=False) + "\n")
    print(f"wrote {MODEL_FILE} ({len(names)} operations, {len(model['shapes'])} shapes)")


if __name__ == "__main__":
    main()
