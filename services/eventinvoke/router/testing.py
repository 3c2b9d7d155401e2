"""Deprecated: the pytest plugin for adapter tests is :mod:`eventinvoke.testing` now.

It starts the whole suite, so it moved beside the composition root (``eventinvoke.app``) and out
of ``router/``, which no longer imports ``app``. This module re-exports it so that suites loading
``-p eventinvoke.router.testing`` or ``pytest_plugins = ["eventinvoke.router.testing"]`` keep
working, and warns; it is the one module under a service package allowed to reach ``app``
(tests/test_layout.py), and goes in a later release.
"""

from __future__ import annotations

import warnings

from eventinvoke.testing import (
    ECHO,
    FAIL,
    TIME_SCALE,
    RunningSuite,
    eventinvoke_plugins,
    eventinvoke_settings,
    eventinvoke_suite,
    running_suite,
    suite_settings,
    wait_for,
)

__all__ = [
    "ECHO",
    "FAIL",
    "TIME_SCALE",
    "RunningSuite",
    "eventinvoke_plugins",
    "eventinvoke_settings",
    "eventinvoke_suite",
    "running_suite",
    "suite_settings",
    "wait_for",
]

warnings.warn(
    "eventinvoke.router.testing is deprecated: use eventinvoke.testing"
    ' (pytest_plugins = ["eventinvoke.testing"])',
    DeprecationWarning,
    stacklevel=2,
)
