"""Fixtures for the conversation tests: the local stand-in provider server."""
from tests.integrations.standin import standin  # noqa: F401  (fixture)
