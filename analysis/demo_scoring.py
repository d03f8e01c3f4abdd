"""Scoring the demo's photos on every core (`manage.py seed_demo`, tasks in-process).

Its own module, importing nothing from Django at the top: the scoring processes are spawned, and a
spawned process imports this module to find its functions before Django is set up in it.
"""

import multiprocessing
from concurrent.futures import ProcessPoolExecutor


def _scoring_process_start() -> None:
    import django

    django.setup()
    from measurements import engine

    engine.load_models()  # once per process, as a worker does


def _score_one(photo_id: int) -> str:
    from measurements.tasks import score_photo

    # The task's own body, run here: score, then the preview, thumbnail and overlay.
    return str(score_photo.apply(args=(photo_id,)).result)


def score_in_parallel(photo_ids: list[int], *, jobs: int) -> list[str]:
    """Score photos with `jobs` fresh processes (each sets Django up and loads the models once).
    A photo one of them cannot score stays pending, and the sweep or a rescore takes it."""
    from django.db import connections

    connections.close_all()  # the children open their own
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_scoring_process_start) as pool:
        return list(pool.map(_score_one, photo_ids, chunksize=8))
