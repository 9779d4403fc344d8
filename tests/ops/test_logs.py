"""LOG_FORMAT=json: one JSON object per line with time, level, logger, message and the tenant when known."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django_tenants.utils import tenant_context

from core.logjson import JsonFormatter

ROOT = Path(__file__).resolve().parents[2]


def test_settings_switch_the_console_to_json_lines():
    code = (
        "import django, logging; django.setup(); "
        "log = logging.getLogger('buildcrm.test'); log.info('lead=%s stage new→won', 7); "
        "log.warning('two\\nlines \"quoted\"')\n"
        "try:\n    1 / 0\nexcept ZeroDivisionError:\n    log.exception('boom')\n"
    )
    env = {**os.environ, "LOG_FORMAT": "json", "DJANGO_SETTINGS_MODULE": "buildcrm.settings"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is one object
    assert [e["message"] for e in entries] == ["lead=7 stage new→won", 'two\nlines "quoted"', "boom"]
    assert entries[0]["level"] == "INFO" and entries[0]["logger"] == "buildcrm.test"
    assert entries[0]["time"].endswith("+00:00") and "tenant" not in entries[0]
    assert "ZeroDivisionError" in entries[2]["exc"]


def test_plain_lines_by_default():
    code = "import django, logging; django.setup(); logging.getLogger('buildcrm.test').info('hello')"
    env = {k: v for k, v in os.environ.items() if k != "LOG_FORMAT"}
    env["DJANGO_SETTINGS_MODULE"] = "buildcrm.settings"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    assert "INFO buildcrm.test hello" in result.stderr and not result.stderr.lstrip().startswith("{")


@pytest.mark.django_db
def test_the_tenant_of_the_connection(tenant_a):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("buildcrm.test.json")
    log.addHandler(handler)
    try:
        with tenant_context(tenant_a):
            log.warning("inside")
        log.warning("outside")
    finally:
        log.removeHandler(handler)
    inside, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert inside["tenant"] == tenant_a.schema_name and "tenant" not in outside
