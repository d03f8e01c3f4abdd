from django.core.management.base import BaseCommand

from measurements import services


class Command(BaseCommand):
    help = "Re-queue photos left pending or processing by a dead worker or a missing broker (what beat runs)."

    def handle(self, *args, **options):
        result = services.photos_sweep()
        self.stdout.write(f"Reset {result['reset']}, queued {result['queued']}, gave up on {result['gave_up']}.")
