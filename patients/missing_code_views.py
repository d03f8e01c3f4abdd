"""The coordinator's pages for missing-data codes: mark an item of a visit missing, withdraw a mark.

Reached from the patient page's visit timeline ("Mark missing" beside a missing grade, and per
visit for its photos and study outcomes). Writes go through patients.services.missing_codes.
"""

from django import forms as django_forms
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404

from . import forms, services
from .missing_codes import MissingCode, MissingItem, visit_missing_items
from .models import RecordStatus, Visit
from .services.missing_codes import item_has_value
from .views import _data, _editable_patient, _form_page, _void_page


class MissingItemForm(forms.TrialForm):
    item = django_forms.ChoiceField(label="Item")
    code = django_forms.ChoiceField(label="Missing-data code", choices=MissingCode.choices)
    reason = django_forms.CharField(
        label="Reason",
        required=False,
        widget=django_forms.Textarea(attrs={"rows": 2}),
        help_text="Required for “other”. Kept in the audit trail; hidden from investigators and the API.",
    )

    def __init__(self, data=None, *, items, initial_item=""):
        super().__init__(data, initial={"item": initial_item})
        self.fields["item"].choices = [(f"{kind}:{code}", label) for kind, code, label in items]


def _open_items(visit: Visit) -> list[tuple[str, str, str]]:
    """The visit's expected items that have neither a value nor a code: the ones that can be marked."""
    coded = visit_missing_items([visit]).get(visit.pk, {})
    return [
        (kind, code, label)
        for kind, code, label in services.visit_expected_items(visit)
        if (kind, code) not in coded and not item_has_value(visit, kind, code)
    ]


@login_required
def missing_item_create(request, pk, visit_pk):
    patient = _editable_patient(request, pk)
    visit = get_object_or_404(
        Visit.objects.select_related("scheduled_visit", "patient"),
        pk=visit_pk,
        patient=patient,
        status=RecordStatus.RECORDED,
    )
    form = MissingItemForm(_data(request), items=_open_items(visit), initial_item=request.GET.get("item", ""))

    def save(data):
        kind, _, code = data["item"].partition(":")
        services.missing_item_record(
            visit=visit, item_kind=kind, item_code=code, code=data["code"], reason=data["reason"], by=request.user
        )

    return _form_page(
        request,
        patient,
        form,
        save=save,
        title=f"Mark an item of {visit.scheduled_visit.name} ({visit.date_performed:%Y-%m-%d}) missing",
        warning="A missing-data code says why the value will never come. Recording the value later voids the code.",
        done="Marked missing.",
    )


@login_required
def missing_item_void(request, pk, item_pk):
    patient = _editable_patient(request, pk)
    item = get_object_or_404(MissingItem, pk=item_pk, visit__patient=patient, status=RecordStatus.RECORDED)
    return _void_page(
        request,
        patient,
        void=lambda **kw: services.missing_item_void(item=item, **kw),
        title=f"Withdraw the missing-data code of {item.item_label}",
        warning="The code stays in the audit trail, voided; the item is a gap again until its value is recorded.",
        done="Missing-data code withdrawn.",
    )
