"""The composition root: services assembled from Settings, in one process or one per role."""

from eventinvoke.app.suite import ROLES, Suite

__all__ = ["ROLES", "Suite"]
