"""Queue and store backends. One exists: SQLite (``sqlite/``), embedded, nothing to install.

``base.py`` is the protocol a backend implements (function store, event queue, outbox, and an
atomic ``settle``); another backend is one more implementation of it.
"""
