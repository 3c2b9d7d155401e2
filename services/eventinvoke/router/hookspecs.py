"""The hooks a destination plugin may implement. These docstrings are the contract.

Every hook here is documented in docs/plugins.md under a heading that is its exact signature; a
test fails when one is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from eventinvoke.router.plugin import DestinationAdapter, RouterContext

hookspec = pluggy.HookspecMarker("eventinvoke")


# -------------------------------------------------------------------------
# Registration hooks: called once, when the Router loads its adapters.
# -------------------------------------------------------------------------


@hookspec
def register_destinations(
    register: Callable[[DestinationAdapter], None], context: RouterContext
) -> None:
    """Register destination adapters.

    :param register: Call it once per adapter instance, e.g. ``register(SqsDestination())``.
        Adapters are asked in registration order which targets they ``claims``; the first
        that claims a target delivers to it.
    :param context: The Router's partition (region, account), its Invoker client, and the
        adapter settings from configuration (``context.settings_for(name)``).
    :returns: Nothing; adapters are registered through ``register``.

    Called once at Router start-up, for every plugin not disabled by
    ``EVENTINVOKE_DISABLED_DESTINATIONS``. Must not do I/O: create clients lazily in ``deliver``.
    """
