"""The hooks a destination plugin may implement. These docstrings are the contract.

Every hook here is documented in docs/plugins.md under a heading that is its exact signature; a
test fails when a hook or one of its arguments is missing there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from eventinvoke.router.plugin import DestinationAdapter, RouterContext

hookspec = pluggy.HookspecMarker("eventinvoke")


# -------------------------------------------------------------------------
# Registration hooks: called once, when the adapters are loaded.
# -------------------------------------------------------------------------


@hookspec
def register_destinations(
    register: Callable[[DestinationAdapter], None], context: RouterContext
) -> None:
    """Register destination adapters.

    :param register: Call it once per adapter instance, e.g. ``register(SqsDestination())``.
        Adapter names must be unique.
    :param context: The Router's partition (region, account), its Invoker client, and the
        adapter settings from configuration (``context.settings_for(name)``).
    :returns: Nothing; adapters are registered through ``register``.

    Called once at start-up of every process that loads the adapters (the Router, and the Invoker,
    which asks them which destinations they claim), for every plugin not disabled by
    ``EVENTINVOKE_DISABLED_DESTINATIONS``. Must not do I/O: create clients lazily in ``deliver``.
    """


# -------------------------------------------------------------------------
# Routing hooks: called for each destination, at configuration and at delivery.
# -------------------------------------------------------------------------


@hookspec(firstresult=True)
def claim_destination(target: str, kind: str) -> str | None:
    """Name the adapter that delivers to ``target``, or decline with ``None``.

    :param target: The destination as configured: an ARN (``arn:aws:sqs:...``) or a URI
        (``https://...``).
    :param kind: What goes there: ``ON_SUCCESS`` or ``ON_FAILURE`` (an execution record), or
        ``DEAD_LETTER`` (the original event).
    :returns: The ``name`` of a registered adapter, or ``None`` when this plugin does not
        deliver to ``target`` for ``kind``.

    Stops at first non-None result. Implementations run before the built-in one, which asks each
    adapter's ``claims(target)`` in registration order; most plugins need only ``claims``.
    Implement this hook to claim by ``kind`` or to route targets to an adapter of another plugin.

    Called when a destination is configured (the Invoker accepts a target that fails AWS's
    ARN pattern, or names a service AWS does not offer, only when an adapter claims it), when a
    record settles in ``eventinvoke up`` (a target the built-in ``lambda`` adapter claims for a
    function of the suite is queued directly), and before each delivery. Must be cheap and must
    not do I/O or raise.
    """
