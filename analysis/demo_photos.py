"""Drawing the demo's photos on every core (`manage.py seed_demo`): image work only, no Django.

The demo spends most of its build on pixels (a warp, a tilt, a JPEG per photo). The generator
draws every random number itself, in the order it always has (same seed, same study), and hands
each visit's photo set here as a plain description; processes draw the images while the main
process records the next visits and stores the photos drawn so far.

Its own module, importing nothing from Django: the processes are spawned, and a spawned process
imports this module to find its functions.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from measurements import synthetic


@dataclass(frozen=True)
class PhotoDrawing:
    smile: bool  # the smile warp, else the rest warp
    eyes_closed: bool
    degrees: float
    scale: float
    brightness: float
    quality: int


@dataclass(frozen=True)
class VisitDrawing:
    mirrored: bool
    side: str
    smile_pull_mm: float  # what the face needs on top of its own asymmetry to show the target
    rest_pull_mm: float
    photos: tuple[PhotoDrawing, ...]


# The unwarped faces and their references, keyed by `mirrored`: set once per process.
_faces: dict[bool, tuple] = {}


def _process_start(faces: dict[bool, tuple]) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _faces.update(faces)


def draw_visit(drawing: VisitDrawing) -> list[bytes]:
    """The JPEG bytes of one visit's photos, in the order of `drawing.photos`."""
    face, reference = _faces[drawing.mirrored]
    warped: dict[bool, np.ndarray] = {}
    files = []
    for photo in drawing.photos:
        if photo.smile not in warped:
            pull = drawing.smile_pull_mm if photo.smile else drawing.rest_pull_mm
            warped[photo.smile] = synthetic.pull_commissure_down(face, drawing.side, pull, reference=reference)
        image = warped[photo.smile]
        if photo.eyes_closed:
            # The warp moves only the mouth, so the unwarped face's eyes are where this image's are.
            image = synthetic.close_eyes(image, reference=reference)
        image = synthetic.vary(image, degrees=photo.degrees, scale=photo.scale, brightness=photo.brightness)
        files.append(synthetic.to_jpeg_bytes(image, quality=photo.quality))
    return files


class Drawer:
    """Draws visits in `jobs` processes, or here and at once with one job (the tests' small demos)."""

    def __init__(self, faces: dict[bool, tuple], *, jobs: int):
        self.pool: ProcessPoolExecutor | None = None
        if jobs > 1:
            self.pool = ProcessPoolExecutor(
                max_workers=jobs,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_process_start,
                initargs=(faces,),
            )
        else:
            _faces.update(faces)

    def submit(self, drawing: VisitDrawing) -> Future:
        if self.pool is not None:
            return self.pool.submit(draw_visit, drawing)
        done: Future = Future()
        done.set_result(draw_visit(drawing))
        return done

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)
