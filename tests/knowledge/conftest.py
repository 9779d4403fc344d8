"""The AI manager's live fixtures (a tenant with a short debounce, a sandbox client talking to the real worker) for
the knowledge wiring tests."""

from tests.aiagent.conftest import ai_tenant, chat  # noqa: F401
