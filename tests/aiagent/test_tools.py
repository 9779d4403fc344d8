"""The tools' schemas and argument validation (pure, no database)."""
from __future__ import annotations

import pytest

from aiagent.tools import ToolError, field_value, tool_schemas
from tenants.presets import get_preset

CONSTRUCTION = get_preset("construction")
B2B = get_preset("generic_b2b")


def test_tool_schemas_are_the_contract_seven_plus_note_question_with_tenant_fields():
    tools = tool_schemas(CONSTRUCTION)
    names = [t["function"]["name"] for t in tools]
    assert names == ["update_lead", "request_call", "handoff_to_human", "mark_not_interested", "check_availability",
                     "book_meeting", "send_content", "note_question"]
    data = tools[0]["function"]["parameters"]["properties"]["data"]
    assert set(data["properties"]) == {f["key"] for f in CONSTRUCTION}
    assert data["properties"]["dimensions"]["required"] == ["length", "width"]
    assert data["properties"]["foundation_closed"]["type"] == "boolean"
    b2b = tool_schemas(B2B)[0]["function"]["parameters"]["properties"]["data"]["properties"]
    assert b2b["urgency"]["enum"] == ["now", "month", "quarter", "later"]
    for tool in tools:
        assert tool["type"] == "function" and tool["function"]["parameters"]["additionalProperties"] is False


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("windows", "6", 6), ("windows", 6.0, 6), ("foundation_closed", "да", True), ("foundation_closed", False, False),
    ("dimensions", "10x12x3", {"length": 10, "width": 12, "height": 3}),
    ("dimensions", {"length": "10,5", "width": 8}, {"length": 10.5, "width": 8}), ("city", " Алматы ", "Алматы"),
])
def test_field_values_are_coerced(key, value, expected):
    f = next(f for f in CONSTRUCTION if f["key"] == key)
    assert field_value(f, value) == expected


@pytest.mark.parametrize(("key", "value"), [
    ("windows", "много"), ("windows", -1), ("windows", True), ("foundation_closed", "может быть"),
    ("dimensions", {"length": 10, "depth": 3}), ("dimensions", {"length": 0, "width": 5}), ("dimensions", "большой"),
    ("dimensions", 5), ("city", ""), ("city", {"a": 1}),
])
def test_bad_field_values_are_tool_errors(key, value):
    f = next(f for f in CONSTRUCTION if f["key"] == key)
    with pytest.raises(ToolError):
        field_value(f, value)


def test_choice_values_by_value_or_label():
    f = {"key": "plan", "type": "choice", "choices": [{"value": "a", "label": "Базовый"}, "b"]}
    assert field_value(f, "a") == "a" and field_value(f, "базовый") == "a" and field_value(f, "b") == "b"
    with pytest.raises(ToolError):
        field_value(f, "c")
