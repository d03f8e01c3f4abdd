from django.core.management.base import BaseCommand

from patients.demo import seed_demo


class Command(BaseCommand):
    help = "Create the demo trial (idempotent) and print one login per role."

    def handle(self, *args, **options):
        study, logins = seed_demo()
        self.stdout.write(self.style.SUCCESS(f"Demo study {study.code}: {study.patients.count()} patients."))
        self.stdout.write("Demo logins (username / password / role):")
        for username, password, role in logins:
            self.stdout.write(f"  {username:<18} {password:<18} {role}")
