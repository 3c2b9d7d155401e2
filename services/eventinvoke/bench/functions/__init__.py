"""The bench's two Lambda-style handlers, deployed to eventinvoke and wrapped by the Celery tasks.

Each module is zipped on its own into a function's code (handler ``echo.handler`` or
``collector.handler``), so they import nothing but the standard library.
"""
