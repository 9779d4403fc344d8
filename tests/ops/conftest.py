"""The AI tests' fixtures (a tenant with a short debounce, a sandbox client talking to the real worker), reused."""

from tests.aiagent.conftest import ai_tenant, chat  # noqa: F401
