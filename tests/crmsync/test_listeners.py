"""crmsync's listeners: an event of our lead becomes the amoCRM write-back once the emitter commits (here the AI's
qualification summary and a booked meeting as notes; stage and takeover through leads.services in the flow tests)."""
from __future__ import annotations

import pytest
from django.db import transaction
from django_tenants.utils import tenant_context

from core.events import emit
from tests.crmsync.test_amocrm_flow import alpha, amo, eager, linked  # noqa: F401  (the flow tests' fixtures)


@pytest.mark.parametrize("event, payload", [
    ("lead.qualified", {"text": "Квалифицирован AI: Айгуль, Алматы. Оценка 80 (hot)."}),
    ("meeting.booked", {"event_id": "ev1", "start": "2026-12-01T11:00:00+05:00",
                        "text": "Назначена встреча 01.12.2026 11:00 (Asia/Almaty)."}),
])
def test_a_note_goes_to_amocrm_after_the_commit(alpha, amo, linked, event, payload,  # noqa: F811
                                                django_capture_on_commit_callbacks):
    with tenant_context(alpha), django_capture_on_commit_callbacks(execute=True) as callbacks:
        emit(event, lead_id=linked.pk, **payload)
        assert amo.requests == []  # nothing before the commit
    assert callbacks
    (note,) = amo.requests
    assert (note.method, note.raw_path) == ("POST", "/api/v4/leads/4101/notes")
    assert note.json() == [{"note_type": "common", "params": {"text": payload["text"]}}]


def test_nothing_goes_to_amocrm_when_the_emitter_rolls_back(alpha, amo, linked,  # noqa: F811
                                                            django_capture_on_commit_callbacks):
    with tenant_context(alpha), django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            emit("lead.qualified", lead_id=linked.pk, text="горячий")
            raise RuntimeError("the turn failed after qualifying")
    assert amo.requests == []


def test_a_lead_not_from_amocrm_is_not_mirrored(alpha, amo, django_capture_on_commit_callbacks):  # noqa: F811
    from leads.services import lead_for_inbound

    with tenant_context(alpha), django_capture_on_commit_callbacks(execute=True):
        lead, _ = lead_for_inbound(provider="sandbox", identity="77015550001", phone="77015550001", name="Иван")
        emit("lead.qualified", lead_id=lead.pk, text="горячий")
    assert amo.requests == []
