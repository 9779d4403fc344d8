"""Serializer helpers shared by the apps."""
from __future__ import annotations

from rest_framework import serializers

_RAW_FIELDS = (serializers.CharField, serializers.IntegerField, serializers.BooleanField, serializers.JSONField)


class PlannedRepresentation:
    """For ModelSerializers on hot paths (the board's cards, live events): the same output as DRF's generic
    `to_representation` (tests compare them) from a per-class plan, where plain model values are copied as
    they are and only dates, choices and method fields are converted. The generic path spent most of a board
    request's time building and calling field objects for hundreds of rows."""

    def to_representation(self, instance) -> dict:
        plan = type(self).__dict__.get("_plan")
        if plan is None:
            plan = _representation_plan(self)
            type(self)._plan = plan
        data = {}
        for name, how, arg in plan:
            if how == "raw":
                data[name] = getattr(instance, arg)
            elif how == "choice":  # an enum member set in Python is sent as its plain value
                value = getattr(instance, arg)
                data[name] = None if value is None else str(value)
            elif how == "method":
                data[name] = getattr(self, arg)(instance)
            else:  # a field that converts (dates) or reads through a relation
                value = arg.get_attribute(instance)
                data[name] = None if value is None else arg.to_representation(value)
        return data


def _representation_plan(serializer: serializers.ModelSerializer) -> list[tuple]:
    plan = []
    for name, field in serializer.fields.items():
        if field.write_only:
            continue
        if isinstance(field, serializers.SerializerMethodField):
            plan.append((name, "method", field.method_name))
        elif isinstance(field, serializers.PrimaryKeyRelatedField) and len(field.source_attrs) == 1:
            plan.append((name, "raw", serializer.Meta.model._meta.get_field(field.source).attname))
        elif type(field) is serializers.ChoiceField and len(field.source_attrs) == 1:
            plan.append((name, "choice", field.source))
        elif isinstance(field, _RAW_FIELDS) and len(field.source_attrs) == 1:
            plan.append((name, "raw", field.source))
        else:
            plan.append((name, "field", field))
    return plan
