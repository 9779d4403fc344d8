"""Automatic assignment of leads to managers: off, round-robin among the active managers, or rules (channel, source,
city → a person) with round-robin as the fallback; applied to new leads or at the first call request (the tenant's
`when`). An unassigned hot lead always gets a manager, even with the mode off (round-robin then): a hot lead is never
left alone. The apps' events reach this through leads.listeners; settings are edited by owners and heads."""
from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import Role, User
from leads.models import AssignmentMode, AssignmentSettings, AssignmentWhen, Channel, Lead
from leads.services import SYSTEM, lead_assign

log = logging.getLogger("buildcrm.leads")

MAX_RULES = 50
SETTINGS_PK = 1  # one row per tenant schema
RULE_KEYS = ("channel", "source", "city")


def assignment_settings_get() -> AssignmentSettings:
    """The tenant's settings row (created with the defaults the first time: mode off)."""
    return AssignmentSettings.objects.get_or_create(pk=SETTINGS_PK)[0]  # two first callers: one row (the pk)


def _locked_settings() -> AssignmentSettings:
    assignment_settings_get()  # the row exists before we lock it
    return AssignmentSettings.objects.select_for_update().get(pk=SETTINGS_PK)


def active_managers() -> list[User]:
    return list(User.objects.filter(role=Role.MANAGER, is_active=True).order_by("id"))


def rules_validate(rules: Any) -> list[dict]:
    """Cleans the rules a person sent: each names at least one condition and an active member of the team.
    Raises ValidationError naming the bad rule."""
    if not isinstance(rules, list):
        raise ValidationError({"rules": ["Нужен список правил / A list of rules is expected."]})
    if len(rules) > MAX_RULES:
        raise ValidationError({"rules": [f"Не больше {MAX_RULES} правил / At most {MAX_RULES} rules."]})
    users = set(User.objects.filter(is_active=True).exclude(role="").values_list("pk", flat=True))
    clean = []
    for n, rule in enumerate(rules, start=1):
        if not isinstance(rule, dict):
            raise ValidationError({"rules": [f"Правило {n}: нужен объект / Rule {n}: an object is expected."]})
        out = {}
        for key in RULE_KEYS:
            value = rule.get(key) or ""
            if not isinstance(value, str) or len(value) > 100:
                raise ValidationError({"rules": [f"Правило {n}: {key} — строка до 100 символов / "
                                                 f"Rule {n}: {key} must be text up to 100 characters."]})
            out[key] = value.strip()
        if out["channel"] and out["channel"] not in Channel.values:
            raise ValidationError({"rules": [f"Правило {n}: неизвестный канал / Rule {n}: unknown channel."]})
        if not any(out.values()):
            raise ValidationError({"rules": [f"Правило {n}: укажите канал, источник или город / "
                                             f"Rule {n}: name a channel, source or city."]})
        user_id = rule.get("user_id")
        if isinstance(user_id, bool) or not isinstance(user_id, int) or user_id not in users:
            raise ValidationError({"rules": [f"Правило {n}: нет такого активного сотрудника / "
                                             f"Rule {n}: no such active team member."]})
        out["user_id"] = user_id
        clean.append(out)
    return clean


def assignment_settings_update(*, user, mode: str | None = None, when: str | None = None,
                               rules: list | None = None) -> AssignmentSettings:
    """An owner's or head's change of the settings (the view checks the role)."""
    with transaction.atomic():
        found = _locked_settings()
        if mode is not None:
            found.mode = mode
        if when is not None:
            found.when = when
        if rules is not None:
            found.rules = rules_validate(rules)
        found.save()
    log.info("assignment mode=%s when=%s rules=%s by=%s", found.mode, found.when, len(found.rules), user.email)
    return found


def _matches(rule: dict, lead: Lead) -> bool:
    for key in RULE_KEYS:
        wanted = (rule.get(key) or "").strip().casefold()
        if wanted and wanted != (getattr(lead, key) or "").strip().casefold():
            return False
    return True


def _next_in_turn(found: AssignmentSettings, managers: list[User]) -> User | None:
    """The manager after the cursor (by id, wrapping round); moves the cursor. The caller holds the row lock."""
    if not managers:
        return None
    after = found.last_user_id or 0
    chosen = next((m for m in managers if m.pk > after), managers[0])
    AssignmentSettings.objects.filter(pk=found.pk).update(last_user_id=chosen.pk)
    found.last_user_id = chosen.pk
    return chosen


def pick_assignee(*, lead: Lead, found: AssignmentSettings, force_round_robin: bool = False) -> tuple[User | None, str]:
    """Who gets the lead, and why ("rule 2", "round-robin"). The caller holds the settings row lock."""
    if found.mode == AssignmentMode.RULES and not force_round_robin:
        active = {u.pk: u for u in User.objects.filter(is_active=True).exclude(role="")}
        for n, rule in enumerate(found.rules or [], start=1):
            if _matches(rule, lead) and rule.get("user_id") in active:
                return active[rule["user_id"]], f"rule {n}"
    return _next_in_turn(found, active_managers()), "round-robin"


def _applies(found: AssignmentSettings, trigger: str) -> bool:
    if trigger == "hot":
        return True
    # "at the first call request": a new lead waits; with "new lead", a request still assigns one missed.
    return found.mode != AssignmentMode.OFF and (trigger != "new_lead" or found.when == AssignmentWhen.NEW_LEAD)


def leads_auto_assign(*, lead_ids: list[int], trigger: str) -> None:
    """`lead_auto_assign` for a batch (the drain's new clients): with assignment off, one query for the batch."""
    if lead_ids and _applies(assignment_settings_get(), trigger):
        for lead_id in lead_ids:
            lead_auto_assign(lead_id=lead_id, trigger=trigger)


def lead_auto_assign(*, lead_id: int, trigger: str) -> User | None:
    """Assigns an unassigned lead as the tenant's settings say for `trigger` (`new_lead`, `call_request`, `hot`).
    Idempotent: a lead that has an assignee is left alone. Row locks on the settings (the cursor) and on the lead
    make concurrent triggers give different leads to different managers and one lead one manager."""
    hot = trigger == "hot"
    if not _applies(assignment_settings_get(), trigger):  # the common case with assignment off: no lock taken
        return None
    with transaction.atomic():
        found = _locked_settings()
        lead = Lead.objects.select_for_update(of=("self",)).filter(pk=lead_id).first()
        if lead is None or lead.assignee_id is not None or not _applies(found, trigger):
            return None
        assignee, why = pick_assignee(lead=lead, found=found,
                                      force_round_robin=hot and found.mode == AssignmentMode.OFF)
        if assignee is None:
            log.info("lead=%s not assigned: no active manager (trigger=%s)", lead.pk, trigger)
            return None
        lead_assign(lead=lead, assignee=assignee, actor=SYSTEM)
        log.info("lead=%s auto-assigned to=%s by=%s trigger=%s mode=%s", lead.pk, assignee.email, why, trigger,
                 found.mode)
        return assignee
