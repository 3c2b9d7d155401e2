"""Every hook, with every argument, is in the plugin author's guide (datasette's rule)."""

from __future__ import annotations

import inspect
from pathlib import Path

from eventinvoke.router import hookspecs

GUIDE = Path(__file__).parents[2] / "docs" / "plugins.md"


def hook_signatures() -> list[str]:
    signatures = []
    for name, function in inspect.getmembers(hookspecs, inspect.isfunction):
        if hasattr(function, "eventinvoke_spec"):
            args = ", ".join(inspect.signature(function).parameters)
            signatures.append(f"{name}({args})")
    return signatures


def test_there_are_hooks() -> None:
    assert "register_destinations(register, context)" in hook_signatures()


def test_every_hook_is_a_heading_in_the_guide() -> None:
    headings = {
        line.lstrip("#").strip() for line in GUIDE.read_text().splitlines() if line.startswith("#")
    }
    missing = [s for s in hook_signatures() if s not in headings]
    assert not missing, f"hooks missing from docs/plugins.md: {missing}"
