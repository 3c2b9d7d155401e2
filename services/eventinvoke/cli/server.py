"""Server commands (``up``, ``serve``): a placeholder until the server side adds them here."""

from __future__ import annotations

import click


def register(group: click.Group) -> None:
    """Add the server commands to ``group``."""
