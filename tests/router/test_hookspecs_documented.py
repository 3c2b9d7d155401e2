"""Every hook, with every argument, is in the plugin author's guide (datasette's rule), under a
heading that is its exact signature, with a runnable example."""

from __future__ import annotations

import inspect
import re
import types
from pathlib import Path

import pytest

from eventinvoke.core.arn import Partition
from eventinvoke.router import hookspecs
from eventinvoke.router.plugin import RouterContext
from eventinvoke.router.registry import Destinations

GUIDE = Path(__file__).parents[2] / "docs" / "plugins.md"
CONTEXT = RouterContext(Partition(), invoker=None)  # type: ignore[arg-type]


def hooks() -> dict[str, list[str]]:
    """Each hook's name and its arguments, from the hookspecs."""
    return {
        name: list(inspect.signature(function).parameters)
        for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(function, "eventinvoke_spec")
    }


def hook_signatures() -> list[str]:
    return [f"{name}({', '.join(args)})" for name, args in hooks().items()]


def sections() -> dict[str, str]:
    """The guide's headings (outside code blocks) and the text under each, up to the next."""
    found: dict[str, list[str]] = {}
    current: list[str] = []
    fenced = False
    for line in GUIDE.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("#"):
            current = found.setdefault(line.lstrip("#").strip(), [])
        else:
            current.append(line)
    return {heading: "\n".join(lines) for heading, lines in found.items()}


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL)


def test_there_are_hooks() -> None:
    assert {"register_destinations(register, context)", "claim_destination(target, kind)"} <= set(
        hook_signatures()
    )


def test_every_hook_is_a_heading_in_the_guide() -> None:
    missing = [s for s in hook_signatures() if s not in sections()]
    assert not missing, f"hooks missing from docs/plugins.md: {missing}"


def test_every_hook_heading_in_the_guide_is_a_hook() -> None:
    documented = [h for h in sections() if re.fullmatch(r"\w+\((\w+(, \w+)*)?\)", h)]
    stale = [h for h in documented if h not in hook_signatures()]
    assert not stale, f"docs/plugins.md documents hooks that do not exist: {stale}"


@pytest.mark.parametrize("signature", hook_signatures())
def test_every_argument_is_explained_under_its_hook(signature: str) -> None:
    name = signature.split("(")[0]
    text = sections().get(signature, "")
    missing = [arg for arg in hooks()[name] if f"`{arg}`" not in text]
    assert not missing, f"{signature}: arguments not explained in docs/plugins.md: {missing}"


@pytest.mark.parametrize("signature", hook_signatures())
def test_every_hook_has_a_runnable_example(signature: str) -> None:
    """The example under the heading is a plugin module that implements the hook and loads."""
    name = signature.split("(")[0]
    [example] = python_blocks(sections().get(signature, "")) or [""]
    module = types.ModuleType(f"example_{name}")
    exec(compile(example, f"docs/plugins.md: {signature}", "exec"), module.__dict__)
    assert callable(getattr(module, name, None)), f"the example does not implement {name}"
    destinations = Destinations.load(CONTEXT, extra_plugins=[module])
    assert destinations.manager.is_registered(module)
    assert destinations.adapters
