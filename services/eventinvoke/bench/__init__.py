"""``eventinvoke bench``: the same asynchronous work on eventinvoke and on Celery, measured alike.

The work is N invocations of an echo function whose OnSuccess destination is a collector
function (Celery: ``echo.apply_async(args, link=collect.s())``). An event is done when the
collector has run for it; the collector appends ``<request id> <time.time()>`` to a file, and
both sides read that file, so "done" and latency mean the same thing for both systems.

Modules: ``harness`` (timing, percentiles, process-tree RSS sampling, the collector file),
``eventinvoke_side`` and ``celery_side`` (start, drive, stop one system), ``celery_app`` (the
app the Celery worker imports), ``report`` (table + JSON), ``functions`` (the two handlers).
"""
