"""Fixtures for the voice call tests: the local stand-in server (Retell's API)."""

from tests.integrations.standin import standin  # noqa: F401  (fixture)
