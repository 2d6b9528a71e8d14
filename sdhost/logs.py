"""Log lines (D42): one line per event; SDHOST_LOG_FORMAT=json makes each a JSON object."""

import json
import logging
import os
import socket
from datetime import datetime, timezone


class JsonFormatter(logging.Formatter):
    """{"time", "level", "logger", "message", "process", "host"} and "exception" when there is one."""

    def format(self, record):
        line = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": os.getpid(),
            "host": socket.gethostname(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class OneLineFormatter(logging.Formatter):
    """The plain format with tracebacks folded into the same line."""

    def format(self, record):
        return super().format(record).replace("\n", "\\n")
