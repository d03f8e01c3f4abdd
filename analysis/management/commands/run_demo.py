"""`manage.py run_demo`: serve the demo and score its waiting photos at the same time (`make run`).

One process owns the terminal: it starts `runserver` as a child and shows its output above a
progress line for the scoring, which runs here (analysis/demo_scoring.py) on every core but one.
Ctrl-C stops both; the next run resumes the scoring where this one stopped.
"""

import _thread
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, cast

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from analysis import demo_scoring
from measurements.models import Photo
from patients.demo import DEMO_STUDY_CODE
from patients.models import Study

# runserver's exit status when Ctrl-C (SIGINT) stops it.
STOPPED_BY_CTRL_C = (0, -signal.SIGINT, 128 + signal.SIGINT)


class Command(BaseCommand):
    help = (
        "Serve the demo (runserver) while its waiting photos are scored in the background, on every core "
        "but one; resumes an interrupted scoring. `make run` runs it after seed_demo --score-later."
    )

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000", help="Where runserver listens.")
        parser.add_argument(
            "--jobs", type=int, default=None, help="Scoring processes (default: every core but one, at least one)."
        )
        parser.add_argument("--score-only", action="store_true", help="Score the waiting photos, serve nothing.")

    def handle(self, *args, **options):
        if not settings.CELERY_TASK_ALWAYS_EAGER:
            raise CommandError(
                "A broker is configured: its workers score the photos. run_demo is for in-process tasks."
            )
        study = Study.objects.filter(code=DEMO_STUDY_CODE).first()
        if study is None:
            raise CommandError("There is no demo yet: run `manage.py seed_demo` first (make run does).")
        jobs = options["jobs"] or demo_scoring.default_jobs()
        if jobs < 1:
            raise CommandError("--jobs must be at least 1.")

        from rich.console import Console

        # Through the command's own stdout (the tests read it); rich needs only write, flush and isatty.
        console = Console(file=cast(IO[str], self.stdout), highlight=False, soft_wrap=True)
        self.stopping = threading.Event()
        self.server_failed: int | None = None  # the server's exit status, when it stopped on its own
        # A closed terminal or a plain `kill` stops the demo as Ctrl-C does: the photos being scored go back.
        for stop in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(stop, _interrupt)
        server = None if options["score_only"] else self._start_server(options["addrport"], console)
        try:
            self._score(study, jobs, console)
            if server is not None:
                server.wait()  # serving until Ctrl-C
        except KeyboardInterrupt:
            self.stopping.set()
            done, total = demo_scoring.scoring_counts(study)
            if done < total:
                console.print(
                    f"Stopped: {done:,} of {total:,} demo photos scored. `make run` resumes where this stopped."
                )
        finally:
            self.stopping.set()
            if server is not None:
                _stop(server)
        if self.server_failed is not None:
            raise CommandError(f"The web server stopped with exit status {self.server_failed}.")

    def _start_server(self, addrport: str, console) -> subprocess.Popen:
        manage = Path(settings.BASE_DIR) / "manage.py"
        server = subprocess.Popen(
            [sys.executable, "-u", str(manage), "runserver", "--noreload", addrport],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )

        def forward() -> None:
            # Printed through rich's console, so each line lands above the progress line, not through it.
            assert server.stdout is not None
            for line in server.stdout:
                console.print(line.rstrip("\n"), markup=False)
            # The server could not start (a port in use) or died: stop the scoring too. Not when Ctrl-C
            # stopped it, which the main thread is already handling.
            code = server.wait()
            if code not in STOPPED_BY_CTRL_C and not self.stopping.is_set():
                self.server_failed = code
                _thread.interrupt_main()

        threading.Thread(target=forward, daemon=True).start()
        console.print(
            f"Serving the demo at http://{addrport}/ while its photos are scored; Ctrl-C stops both "
            "(the scoring resumes on the next run)."
        )
        return server

    def _score(self, study, jobs: int, console) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        started = time.monotonic()
        columns = (
            TextColumn("Scoring the demo's photos"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("· about"),
            TimeRemainingColumn(),
            TextColumn("left"),
        )
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task("scoring", total=None)

            def progress(run: demo_scoring.ScoringRun) -> None:
                bar.update(task, total=run.total, completed=run.done)

            try:
                run = demo_scoring.score_waiting(study=study, jobs=jobs, progress=progress)
            except demo_scoring.ScoringAlreadyRunning as exc:
                console.print(f"{exc} Serving only.")
                return
        if run.scored + run.failed == 0 and run.done == run.total:
            console.print(f"All {run.total:,} demo photos are scored.")  # a later make run: nothing waited
            return
        console.print(finished_line(study, run, seconds=time.monotonic() - started))


def finished_line(study, run: demo_scoring.ScoringRun, *, seconds: float) -> str:
    """The one line left when the scoring ends: what was scored, how, and how long it took."""
    statuses = Photo.objects.filter(patient__study=study).values_list("status", flat=True)
    scored = sum(1 for s in statuses if s == Photo.Status.SCORED)
    failed = sum(1 for s in statuses if s == Photo.Status.FAILED)
    this_run = run.scored + run.failed
    minutes, secs = divmod(round(seconds), 60)
    took = f"{minutes} min {secs} s" if minutes else f"{secs} s"
    resumed = f", {run.released} resumed after an interruption" if run.released else ""
    return (
        f"Demo photos scored: {scored + failed:,} of {run.total:,} ({scored:,} scored, {failed:,} failed a quality "
        f"check); {this_run:,} in this run in {took} with {run.jobs} process{'es' if run.jobs != 1 else ''}{resumed}."
    )


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _stop(server: subprocess.Popen) -> None:
    """The server had the same Ctrl-C and is exiting: give it a moment, then make sure."""
    for stop in (None, server.terminate, server.kill):
        if stop is not None:
            stop()
        try:
            server.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue
