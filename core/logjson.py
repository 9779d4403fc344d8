"""LOG_FORMAT=json: one JSON object per line — time (UTC, ISO 8601), level, logger, message, and the tenant whose
schema the thread's database connection is on when it is one (a log collector can then filter by tenant)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from django.db import connection


def current_tenant() -> str | None:
    """The schema of this thread's connection, or None in the public schema or outside Django."""
    try:
        schema = getattr(connection, "schema_name", None)
    except Exception:  # before Django is set up
        return None
    return schema if schema and schema != "public" else None


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        tenant = getattr(record, "tenant", None) or current_tenant()
        if tenant:
            entry["tenant"] = tenant
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)
