"""Each visit's free-text "adverse events" becomes an adverse event of term "other".

Nothing is lost: the full text goes into the event's description (its first line, shortened, names
the event), the onset is the visit's date (the free text had no date of its own), and the event is
marked `from_free_text` so that the coordinator reviews it and completes severity, relatedness,
action and outcome. The visit keeps its text too. A text that only says there was no event
("none", "nil", "n/a", ...) makes no event. An event from a voided visit is voided with it.
"""

from django.db import migrations
from django.utils import timezone

NO_EVENT = {"none", "nil", "no", "n/a", "na", "-", "--", "none reported", "no adverse events", "no ae", "nad"}
REASON = "Carried over from the visit's free-text adverse events"


def is_no_event(text: str) -> bool:
    return text.strip().strip(".").strip().lower() in NO_EVENT


def name_from(text: str, limit: int = 200) -> str:
    first = text.strip().splitlines()[0].strip()
    return first if len(first) <= limit else first[: limit - 1] + "…"


def forwards(apps, schema_editor):
    Visit = apps.get_model("patients", "Visit")
    AdverseEvent = apps.get_model("patients", "AdverseEvent")
    HistoricalAdverseEvent = apps.get_model("patients", "HistoricalAdverseEvent")
    now = timezone.now()
    visits = Visit.objects.exclude(adverse_events="").order_by("pk")
    for visit in visits.iterator():
        text = visit.adverse_events
        if not text.strip() or is_no_event(text):
            continue
        voided = visit.status == "voided"
        event = AdverseEvent.objects.create(
            patient_id=visit.patient_id,
            visit_id=visit.pk,
            term="other",
            term_other=name_from(text),
            description=text,
            onset_date=visit.date_performed,
            from_free_text=True,
            status="voided" if voided else "recorded",
            void_reason="The visit it was reported at had been voided." if voided else "",
            created_by_id=visit.created_by_id,
        )
        HistoricalAdverseEvent.objects.create(
            **{f.attname: getattr(event, f.attname) for f in AdverseEvent._meta.concrete_fields},
            history_date=now,
            history_type="+",
            history_change_reason=REASON,
            history_user_id=None,
        )


def backwards(apps, schema_editor):
    AdverseEvent = apps.get_model("patients", "AdverseEvent")
    HistoricalAdverseEvent = apps.get_model("patients", "HistoricalAdverseEvent")
    carried = AdverseEvent.objects.filter(from_free_text=True)
    HistoricalAdverseEvent.objects.filter(id__in=carried.values("id")).delete()
    carried.delete()


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0004_adverse_events"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
