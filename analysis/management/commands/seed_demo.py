import os
from collections import Counter

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from analysis import demo_trial
from analysis.demo_scoring import scoring_counts
from measurements.models import Expression, Photo


class Command(BaseCommand):
    help = (
        "Create the demo trial (a whole study with a known treatment effect; left alone if it exists) "
        "and print one login per role."
    )

    def add_arguments(self, parser):
        parser.add_argument("--patients", type=int, default=demo_trial.DEFAULT_PATIENTS)
        parser.add_argument("--seed", type=int, default=demo_trial.DEFAULT_SEED, help="Same seed, same study.")
        parser.add_argument(
            "--effect-mm",
            type=float,
            default=demo_trial.DEFAULT_EFFECT_MM,
            help="True extra correction of the commissure droop with BoNT-A, in mm.",
        )
        parser.add_argument("--no-photos", action="store_true", help="Records only (fast).")
        parser.add_argument(
            "--jobs",
            type=int,
            default=None,
            help="Processes that draw the photos, and score them when tasks run in-process (default: one per core).",
        )
        parser.add_argument(
            "--score-later",
            action="store_true",
            help="Store the photos and leave them waiting (tasks in-process): `manage.py run_demo`, which "
            "`make run` starts next, scores them while the demo is served.",
        )
        parser.add_argument(
            "--expressions",
            default="",
            help=f"Comma-separated subset of the photo set (default: all of {', '.join(Expression.values)}).",
        )
        parser.add_argument(
            "--i-know-this-is-not-production",
            action="store_true",
            help="Allow running with DEBUG off (the demo creates accounts with a published password).",
        )

    def handle(self, *args, **options):
        if not settings.DEBUG and not options["i_know_this_is_not_production"]:
            # The demo creates a staff account (datamanager) whose password is published in the README.
            raise CommandError(
                "seed_demo creates a staff account with a published password; it runs only with DEBUG=1 "
                "(as `make run` sets it), or with --i-know-this-is-not-production on a copy that holds "
                "no real patients."
            )
        if options["patients"] < 1:
            raise CommandError("--patients must be at least 1.")
        expressions = tuple(e.strip() for e in options["expressions"].split(",") if e.strip())
        unknown = sorted(set(expressions) - set(Expression.values))
        if unknown:
            raise CommandError(
                f"Unknown expression(s) {', '.join(unknown)}; choose from {', '.join(Expression.values)}."
            )
        verbose = options["verbosity"] >= 1
        in_process = bool(settings.CELERY_TASK_ALWAYS_EAGER)
        jobs = options["jobs"] or (os.cpu_count() or 1)
        if options["jobs"] is not None and options["jobs"] < 1:
            raise CommandError("--jobs must be at least 1.")
        result = demo_trial.seed_demo_trial(
            patients=options["patients"],
            seed=options["seed"],
            effect_mm=options["effect_mm"],
            photos=not options["no_photos"],
            expressions=expressions or None,
            progress=(lambda message: self.stdout.write(f"  {message}")) if verbose else None,
            jobs=jobs,
            scoring=_when_scored(in_process=in_process, later=options["score_later"], jobs=jobs),
        )
        study = result.study
        state = "created" if result.created else "already there, left as it was"
        self.stdout.write(self.style.SUCCESS(f"Demo study {study.code}: {study.patients.count()} patients ({state})."))
        if result.created and result.photos_uploaded:
            self.stdout.write(photos_report(study, result.photos_uploaded, background=options["score_later"]))
            self.stdout.write(f"True values (never in the clinical tables): {result.ground_truth_path}")
        elif options["score_later"]:
            line = background_scoring_report(study)
            if line:
                self.stdout.write(line)
        self.stdout.write("Demo logins (username / password / role):")
        for username, password, role in result.logins:
            self.stdout.write(f"  {username:<18} {password:<18} {role}")


def _when_scored(*, in_process: bool, later: bool, jobs: int) -> str:
    """With a broker, the workers score each photo as it is uploaded; in-process, all at once on
    `jobs` processes once they are stored, or later (make run); one job scores each as it is stored."""
    if not in_process:
        return "each"
    if later:
        return "later"
    return "after" if jobs > 1 else "each"


def background_scoring_report(study) -> str:
    """How far the background scoring (`manage.py run_demo`) has got; empty when nothing waits."""
    done, total = scoring_counts(study)
    if done == total:
        return ""
    return (
        f"Demo photos are being scored in the background: {done:,} of {total:,} so far "
        "(the progress line below and the dashboard show how far along)."
    )


def photos_report(study, uploaded: int, *, background: bool = False) -> str:
    """Say what happened to the photos: scored in-process, left for the background scoring, or
    only queued for a worker."""
    counts = Counter(Photo.objects.filter(patient__study=study).order_by().values_list("status", flat=True))
    done = counts[Photo.Status.SCORED] + counts[Photo.Status.FAILED]
    waiting = counts[Photo.Status.PENDING] + counts[Photo.Status.PROCESSING]
    parts = [f"Uploaded {uploaded} demo photos (synthetic faces with a known droop)"]
    if done:
        parts.append(f"{counts[Photo.Status.SCORED]} scored, {counts[Photo.Status.FAILED]} failed a quality check")
    if waiting and background:
        return "; ".join(parts) + ". " + background_scoring_report(study)
    if waiting:
        parts.append(f"{waiting} queued for the scoring worker (not scored yet: start a worker to score them)")
    return "; ".join(parts) + "."
