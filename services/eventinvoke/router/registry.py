"""Loading destination adapters: in one place, once, visibly."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pluggy
import structlog

from eventinvoke.router import hookspecs
from eventinvoke.router.plugin import ENTRY_POINT_GROUP, NAME, DestinationAdapter, RouterContext

log = structlog.get_logger("eventinvoke.router")


class Destinations:
    """The loaded adapters and the question they answer: who delivers to this target?"""

    def __init__(
        self, manager: pluggy.PluginManager, adapters: Sequence[DestinationAdapter]
    ) -> None:
        self.manager = manager
        self.adapters = list(adapters)

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
        manager = pluggy.PluginManager(NAME)
        manager.add_hookspecs(hookspecs)
        for name in disabled:
            manager.set_blocked(name)
        manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        for plugin in extra_plugins:
            manager.register(plugin)
        manager.check_pending()
        adapters: list[DestinationAdapter] = []
        manager.hook.register_destinations(register=adapters.append, context=context)
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

    def adapter_for(self, target: str) -> DestinationAdapter | None:
        for adapter in self.adapters:
            if adapter.claims(target):
                return adapter
        return None

    async def close(self) -> None:
        for adapter in self.adapters:
            close = getattr(adapter, "close", None)
            if close is not None:
                await close()
