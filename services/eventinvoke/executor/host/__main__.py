"""``python -m eventinvoke.executor.host FD SETTINGS_JSON LOG_FORMAT LOG_LEVEL``: the sandbox
host, started by an executor (HostedPool), never by hand."""

from __future__ import annotations

import sys

from eventinvoke.executor.host.frames import settings_from_json
from eventinvoke.executor.host.server import serve
from eventinvoke.server.logs import configure_logging
from eventinvoke.server.loop import run_event_loop


def main(argv: list[str]) -> None:
    fd, settings, log_format, log_level = argv
    configure_logging(log_format, log_level)
    run_event_loop(serve(int(fd), settings_from_json(settings)))


if __name__ == "__main__":
    main(sys.argv[1:])
