from collections import Counter

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from measurements.demo import seed_demo_photos
from measurements.models import Photo
from patients.demo import seed_demo


class Command(BaseCommand):
    help = "Create the demo trial (idempotent) and print one login per role. Development only."

    def add_arguments(self, parser):
        parser.add_argument(
            "--i-know-this-is-not-production",
            action="store_true",
            help="Run with DEBUG off (e.g. a throwaway staging copy). Never on a server with real patients.",
        )

    def handle(self, *args, **options):
        if not settings.DEBUG and not options["i_know_this_is_not_production"]:
            # The demo creates a staff account (datamanager) whose password is published in the README.
            raise CommandError(
                "seed_demo creates a staff account with a published password; it runs only with DEBUG=1, "
                "or with --i-know-this-is-not-production on a copy that holds no real patients."
            )
        study, logins = seed_demo()
        uploaded = seed_demo_photos(study)
        self.stdout.write(self.style.SUCCESS(f"Demo study {study.code}: {study.patients.count()} patients."))
        if uploaded:
            self.stdout.write(_photos_report(study, uploaded))
        self.stdout.write("Demo logins (username / password / role):")
        for username, password, role in logins:
            self.stdout.write(f"  {username:<18} {password:<18} {role}")


def _photos_report(study, uploaded: int) -> str:
    """Say what happened to the photos: scored in-process, or only queued for a worker."""
    counts = Counter(Photo.objects.filter(patient__study=study).order_by().values_list("status", flat=True))
    done = counts[Photo.Status.SCORED] + counts[Photo.Status.FAILED]
    waiting = counts[Photo.Status.PENDING] + counts[Photo.Status.PROCESSING]
    parts = [f"Uploaded {uploaded} demo photos (synthetic faces with a known droop)"]
    if done:
        parts.append(f"{counts[Photo.Status.SCORED]} scored, {counts[Photo.Status.FAILED]} failed a quality check")
    if waiting:
        parts.append(f"{waiting} queued for the scoring worker (not scored yet: start a worker to score them)")
    return "; ".join(parts) + "."
