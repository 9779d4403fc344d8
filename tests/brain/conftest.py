"""The brain is pure: its tests need neither the database nor Redis."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _public_schema_and_clean_redis():
    """Overrides the suite's per-test reset of the schema and the login throttling: nothing here touches either."""
    yield
