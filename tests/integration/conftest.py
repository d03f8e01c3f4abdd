"""A real Celery worker process and a private Redis server, for the worker's own tests.

The broker is a redis-server of our own on a free port (the machine's Redis binary),
so a test can stop and restart it without disturbing anything else on the machine.
The worker is a real `celery worker` subprocess reading the test database and the
same storage directory as the test process.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, *, timeout: float, interval: float = 0.05, what="condition"):
    """Poll until predicate() is true; `what` may be a callable, evaluated only on time-out (e.g. a log)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what() if callable(what) else what}")


class RedisServer:
    def __init__(self, workdir: Path):
        self.port = _free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed (Debian package redis-server)"
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self.answers, timeout=10, what="private redis-server to answer")

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None


class Worker:
    def __init__(self, env: dict, log_path: Path):
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "trialsite",
                "worker",
                "--pool=prefork",
                "--concurrency=1",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so kill -9 takes the pool children too
        )

    def kill9(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def shared_media(settings, tmp_path):
    media = tmp_path / "media"
    media.mkdir()
    settings.MEDIA_ROOT = media
    return media


@pytest.fixture
def broker(redis_server, settings):
    """Point this process's Celery app at the private Redis, as a deployment would."""
    from trialsite.celery import app

    # The app reads Django settings under the CELERY_ namespace, so the keys carry the prefix.
    old = {k: app.conf[k] for k in ("CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER")}
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.update(CELERY_BROKER_URL=redis_server.url, CELERY_TASK_ALWAYS_EAGER=False)
    _reset_broker_connections(app)
    yield redis_server
    app.conf.update(**old)
    _reset_broker_connections(app)


def _reset_broker_connections(app) -> None:
    """Drop pooled broker connections so the next publish connects to the configured broker."""
    from kombu import pools

    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def worker_factory(broker, shared_media, tmp_path, settings):
    db = connection.settings_dict
    assert connection.vendor == "postgresql", "worker tests need the real PostgreSQL (make test sets DATABASE_URL)"
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "CELERY_BROKER_URL": broker.url,
        "MEDIA_ROOT": str(shared_media),
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "integration-test-secret-key-0123456789abcdef",
        "PHOTO_STALE_CLAIM_SECONDS": str(settings.PHOTO_STALE_CLAIM_SECONDS),
        # Redeliver an unacknowledged task (a killed worker's) quickly in these tests.
        "CELERY_VISIBILITY_TIMEOUT": "5",
        "PYTHONUNBUFFERED": "1",
    }
    workers = []

    def start(extra_env: dict | None = None) -> Worker:
        worker = Worker({**env, **(extra_env or {})}, tmp_path / f"worker-{len(workers)}.log")
        worker.start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()
