"""Copy the vendored resource schemas again from the installed cfn-lint (``make cfn-schemas``).

cfn-lint is located, not imported (its import pulls sympy and networkx): its schemas are data
files, ``data/schemas/providers/<region>.json`` mapping each type to
``data/schemas/resources/<hash>.json``, and ``providers/sam.json`` for SAM's types.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import shutil
import sys
from pathlib import Path

from eventinvoke.deploy.schemas import FILES, HERE

REGION = "us-east-1"  # the Lambda types' schemas are the same in every commercial region


def cfn_lint_schemas() -> Path:
    spec = importlib.util.find_spec("cfnlint")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("cfn-lint is not installed (pip install cfn-lint)")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "schemas"


def main() -> None:
    root = cfn_lint_schemas()
    providers = {
        **json.loads((root / "providers" / f"{REGION}.json").read_text()),
        **json.loads((root / "providers" / "sam.json").read_text()),
    }
    for type_name, file_name in FILES.items():
        shutil.copyfile(root / "resources" / f"{providers[type_name]}.json", HERE / file_name)
    source = {
        "cfn-lint": importlib.metadata.version("cfn-lint"),
        "region": REGION,
        "files": {FILES[t]: f"cfnlint/data/schemas/resources/{providers[t]}.json" for t in FILES},
    }
    (HERE / "source.json").write_text(json.dumps(source, indent=2) + "\n")
    print(f"copied {len(FILES)} schemas from cfn-lint {source['cfn-lint']} into {HERE}")


if __name__ == "__main__":
    main()
