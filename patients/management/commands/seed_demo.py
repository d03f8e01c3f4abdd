from django.core.management.base import BaseCommand

from measurements.demo import seed_demo_photos
from patients.demo import seed_demo


class Command(BaseCommand):
    help = "Create the demo trial (idempotent) and print one login per role."

    def handle(self, *args, **options):
        study, logins = seed_demo()
        photos = seed_demo_photos(study)
        self.stdout.write(self.style.SUCCESS(f"Demo study {study.code}: {study.patients.count()} patients."))
        if photos:
            self.stdout.write(f"Uploaded {photos} demo photos (synthetic faces with a known droop) and scored them.")
        self.stdout.write("Demo logins (username / password / role):")
        for username, password, role in logins:
            self.stdout.write(f"  {username:<18} {password:<18} {role}")
