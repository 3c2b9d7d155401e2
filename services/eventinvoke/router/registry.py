"""Loading destination adapters: in one place, once, visibly."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pluggy
import structlog

from eventinvoke.router import hookspecs
from eventinvoke.router.plugin import (
    ENTRY_POINT_GROUP,
    NAME,
    ON_SUCCESS,
    DestinationAdapter,
    RouterContext,
    hookimpl,
)

log = structlog.get_logger("eventinvoke.router")

# The name the built-in claim_destination implementation is registered under.
ADAPTER_CLAIMS = "eventinvoke.adapter-claims"


class AdapterClaims:
    """The built-in ``claim_destination``: the first adapter, in registration order, whose
    ``claims(target)`` is true. Plugins' own implementations are asked before it."""

    def __init__(self, adapters: Sequence[DestinationAdapter]) -> None:
        self.adapters = adapters

    @hookimpl(trylast=True)
    def claim_destination(self, target: str) -> str | None:
        for adapter in self.adapters:
            if adapter.claims(target):
                return adapter.name
        return None


def _check_tables(context: RouterContext, names: set[str]) -> None:
    """A ``[destinations.<name>]`` table for no adapter is a mistake: say so at start."""
    for table in context.settings:
        if table not in names:
            raise ValueError(
                f"[destinations.{table}] names no destination adapter "
                f"(loaded: {', '.join(sorted(names))}); adapters load from installed plugins "
                "when the server starts"
            )


class Destinations:
    """The loaded adapters and the question they answer: who delivers to this target?

    Loading is hook calls only, no I/O: the Router loads them to deliver, the Invoker to check
    at configuration time which destinations an adapter claims.
    """

    def __init__(
        self, manager: pluggy.PluginManager, adapters: Sequence[DestinationAdapter]
    ) -> None:
        self.manager = manager
        self.adapters = list(adapters)
        self.by_name: dict[str, DestinationAdapter] = {}
        for adapter in self.adapters:
            if adapter.name in self.by_name:
                raise ValueError(f"two destination adapters are named {adapter.name!r}")
            self.by_name[adapter.name] = adapter

    @classmethod
    def load(
        cls,
        context: RouterContext,
        disabled: Iterable[str] = (),
        extra_plugins: Iterable[object] = (),
    ) -> Destinations:
        """Block disabled names, load entry points (built-ins too), check, register.

        ``extra_plugins`` are registered directly (tests, embedding applications).
        """
        disabled = list(disabled)
        manager = pluggy.PluginManager(NAME)
        manager.add_hookspecs(hookspecs)
        for name in disabled:
            manager.set_blocked(name)
        manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        for plugin in extra_plugins:
            manager.register(plugin)
        adapters: list[DestinationAdapter] = []
        manager.register(AdapterClaims(adapters), name=ADAPTER_CLAIMS)
        manager.check_pending()
        manager.hook.register_destinations(register=adapters.append, context=context)
        _check_tables(context, {a.name for a in adapters} | set(disabled))
        distributions = {
            manager.get_name(plugin): dist.project_name
            for plugin, dist in manager.list_plugin_distinfo()
        }
        log.info(
            "destinations_loaded",
            adapters=[a.name for a in adapters],
            plugins=distributions,
            disabled=sorted(disabled),
        )
        return cls(manager, adapters)

    @property
    def names(self) -> list[str]:
        """The loaded adapters' names, in registration order."""
        return [adapter.name for adapter in self.adapters]

    def claimant(self, target: str, kind: str) -> str | None:
        """The name of the adapter that delivers to ``target`` for ``kind``, or None."""
        name: str | None = self.manager.hook.claim_destination(target=target, kind=kind)
        if name is not None and name not in self.by_name:
            log.warning("destination_claimed_by_unknown_adapter", target=target, adapter=name)
            return None
        return name

    def adapter_for(self, target: str, kind: str = ON_SUCCESS) -> DestinationAdapter | None:
        """The adapter that delivers to ``target`` for ``kind`` (records by default), or None."""
        name = self.claimant(target, kind)
        return None if name is None else self.by_name[name]

    async def close(self) -> None:
        for adapter in self.adapters:
            close = getattr(adapter, "close", None)
            if close is not None:
                await close()
