"""``python manage.py score_image PATH [--affected-side left|right]
[--expression NAME] [--json] [--reference REST_PHOTO]``: score one photo, touching no database.

Exit status 0 when scored, 3 when a quality gate failed, 2 when the file
cannot be read. The logic lives in ``measurements.engine.cli.run`` so that it
can be tested and run without Django.
"""

import sys

from django.core.management.base import BaseCommand

from measurements.engine.cli import build_parser, run

__all__ = ["Command", "run"]


class Command(BaseCommand):
    help = "Score one facial photo with the symmetry engine (no database access)."
    requires_migrations_checks = False
    requires_system_checks = []

    def add_arguments(self, parser):
        build_parser(parser)

    def handle(self, *args, **options):
        code = run(
            options["path"],
            expression=options["expression"],
            affected_side=options["affected_side"],
            as_json=options["as_json"],
            stdout=self.stdout,
            reference=options["reference"],
        )
        if code:
            sys.exit(code)
