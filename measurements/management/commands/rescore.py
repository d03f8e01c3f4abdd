from django.core.management.base import BaseCommand

from measurements import engine, services


class Command(BaseCommand):
    help = "Queue every photo that has no score from the current engine version; old scores are kept alongside."

    def add_arguments(self, parser):
        parser.add_argument("--study", help="Only the photos of this study code.")

    def handle(self, *args, study=None, **options):
        count = services.photos_rescore(study_code=study)
        self.stdout.write(f"Queued {count} photo(s) for scoring with engine {engine.ENGINE_VERSION}.")
