"""The one identifier rule on every serializer of a record: what the caller may see, as on the pages.

A field that `patients/identifiers.py` lists goes through `Access.shown`, the function the pages'
`{% shown %}` tag calls: the caller's own patients' values as they are, "recorded (hidden from your
role)" to anyone else (an investigator), and secrets to no one. Every serializer of a patient's
records derives from `ShownModelSerializer`; tests/api/test_identifier_walk.py walks every GET
path of the schema as every role with a canary in each listed field, and
tests/api/test_serializers_use_the_rule.py fails on a serializer of such a model that does not.
"""

from django.core.exceptions import ImproperlyConfigured
from rest_framework import serializers

from . import identifiers
from .api_plumbing import request_access


class ShownModelSerializer(serializers.ModelSerializer):
    """A ModelSerializer whose identifying fields are shown by the pages' rule, never by default.

    Sources through relations (`source="session.injector"`) are checked on the record they end in.
    Needs the request in its context: without it there is no knowing who reads, so it refuses
    (fail closed) rather than showing everything.
    """

    def to_representation(self, instance):
        data = super().to_representation(instance)
        request = self.context.get("request")
        if request is None:
            raise ImproperlyConfigured(
                f"{type(self).__name__} needs the request in its context: it decides what the caller may see."
            )
        access = request_access(request)
        for name, field in self.fields.items():
            if field.write_only or name not in data or field.source == "*":
                continue
            *path, attribute = field.source_attrs
            record = instance
            for step in path:
                record = getattr(record, step, None)
            meta = getattr(record, "_meta", None)
            if meta is None or not identifiers.is_identifying(meta.app_label, meta.model_name, attribute):
                continue
            shown = access.shown(record, attribute)
            if shown == identifiers.HIDDEN:
                data[name] = shown
            # Otherwise the serializer's own rendering stands (a date as ISO text, a decimal as a number).
        return data
