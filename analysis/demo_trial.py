"""The demo trial: a whole study with a known answer, built through the project's own services.

Modelled on the published adult study (BoNT-A injected on the unaffected side
against no injection, oral commissure droop after facial nerve damage): two
sites, system randomization, visits at baseline, week 2, week 4 and week 12,
injection sessions for the BoNT-A arm, clinician grades, one withdrawal, one
protocol deviation, and a full standard photo set per visit, uploaded and
scored like any photo.

The answer is known because the photos are made for it. Each patient gets an
affected side and a baseline droop of the affected mouth corner drawn from 3 to
8 mm (the smile's commissure height, affected minus unaffected). At every
follow-up the droop shrinks by the control arm's natural recovery plus, for
BoNT-A, ``effect_mm`` (scaled by how far the injection has taken effect), plus a
patient-level and a photo-level noise. The synthetic face is warped to exactly
that droop (measurements/synthetic.py) and then tilted, moved, lit and
compressed differently for every photo. The true values are written to a
ground-truth JSON file beside the demo database, never to the clinical tables,
so the pipeline's estimate can be checked against them (docs/benchmarks.md).

Why this module lives in ``analysis``: it spans all three apps (records,
photos, outcomes), and ``patients`` must not import ``measurements``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from measurements import services as photo_services
from measurements.models import Expression, Photo
from patients import services
from patients.demo import DEMO_ELIGIBILITY_CRITERIA, DEMO_PASSWORD, DEMO_STUDY_CODE, DEMO_USERS, ensure_user
from patients.grading.sunnybrook import COMPOSITE_MAX, COMPOSITE_MIN
from patients.models import Aetiology, InjectionSide, Muscle, Patient, Product, Sex, Side, Study, StudyRole

from .demo_scales import scale_responses, scale_stream

logger = logging.getLogger(__name__)

DEFAULT_PATIENTS = 38
DEFAULT_SEED = 20261130
DEFAULT_EFFECT_MM = 2.0

DEMO_SITES = [("LON", "London Facial Nerve Clinic"), ("MAN", "Manchester Facial Palsy Service")]
DEMO_SCHEDULE = (
    {"code": "baseline", "name": "Baseline", "day_offset": 0, "window_before_days": 0, "window_after_days": 3},
    {"code": "week-2", "name": "Week 2", "day_offset": 14, "window_before_days": 3, "window_after_days": 3},
    {"code": "week-4", "name": "Week 4", "day_offset": 28, "window_before_days": 3, "window_after_days": 7},
    {"code": "week-12", "name": "Week 12", "day_offset": 84, "window_before_days": 7, "window_after_days": 7},
)

# The effect model (mm of commissure droop removed, by visit): a little natural recovery in
# both arms, and BoNT-A's effect, near full by week 2 and full from week 4 (the injection
# weakens the unaffected side's depressors within days; week 12 is before any re-injection).
NATURAL_RECOVERY_MM = {"baseline": 0.0, "week-2": 0.15, "week-4": 0.25, "week-12": 0.4}
BONT_A_EFFECT_FRACTION = {"baseline": 0.0, "week-2": 0.8, "week-4": 1.0, "week-12": 1.0}
PATIENT_RESPONSE_SD_MM = 0.5  # between-patient spread of the improvement, reached by week 12
# How much of a patient's own deviation from the average course has shown by each visit.
PATIENT_RESPONSE_FRACTION = {"baseline": 0.0, "week-2": 0.5, "week-4": 0.8, "week-12": 1.0}
PHOTO_NOISE_SD_MM = 0.15  # how far one photo's expression differs from the patient's true droop
BASELINE_DROOP_MM = (3.0, 8.0)
# At rest the corner droops about half as much as in a smile.
REST_FRACTION = 0.5
SMILES = (Expression.SMILE_CLOSED, Expression.SMILE_OPEN)
EYES_CLOSED = (Expression.GENTLE_EYE_CLOSURE, Expression.FULL_EYE_CLOSURE)
QOL_OUTCOME_CODE = "face-total"
# The iris is about 17 px across at this scale, comfortably above the engine's 12 px gate.
PHOTO_SCALE = 2.0

FIRST_NAMES = (
    "Amira", "Ben", "Chloe", "Daniel", "Elif", "Farah", "George", "Hannah", "Idris", "Jade",
    "Kofi", "Laura", "Mateo", "Nadia", "Oliver", "Priya", "Quentin", "Rosa", "Samir", "Tara",
)  # fmt: skip
LAST_NAMES = (
    "Adeyemi", "Brennan", "Chowdhury", "Dalton", "Evans", "Fischer", "Gallagher", "Hussain",
    "Iqbal", "Jones", "Kowalski", "Lindqvist", "Murphy", "Novak", "O'Neill", "Patel",
)  # fmt: skip
INJECTORS = ("Dr A. Shah", "Dr R. Okafor")


@dataclass
class DemoPhotoTruth:
    study_code: str
    visit: str
    expression: str
    affected_side: str
    true_commissure_height_signed_mm: float


@dataclass
class DemoResult:
    study: Study
    logins: list[tuple[str, str, str]]
    created: bool
    photos_uploaded: int = 0
    photos_scored: int = 0
    ground_truth_path: Path | None = None
    truth: list[DemoPhotoTruth] = field(default_factory=list)


def ground_truth_path(study_code: str = DEMO_STUDY_CODE) -> Path:
    """Beside the demo database (settings.VAR_DIR), never in the clinical tables."""
    return Path(settings.VAR_DIR) / "demo" / f"ground-truth-{study_code}.json"


def demo_logins(study: Study) -> list[tuple[str, str, str]]:
    logins = []
    for username, role, site_code, is_staff in DEMO_USERS:
        ensure_user(username, role=role, study=study, site_code=site_code, is_staff=is_staff, password=DEMO_PASSWORD)
        where = f" at {site_code}" if site_code else ""
        logins.append((username, DEMO_PASSWORD, f"{StudyRole.Role(role).label}{where}"))
    return logins


def seed_demo_trial(
    *,
    patients: int = DEFAULT_PATIENTS,
    seed: int = DEFAULT_SEED,
    effect_mm: float = DEFAULT_EFFECT_MM,
    photos: bool = True,
    expressions: tuple[str, ...] | None = None,
    today: date | None = None,
    progress: Callable[[str], None] | None = None,
    jobs: int = 1,
    scoring: str = "each",
) -> DemoResult:
    """Build the demo study (or leave an existing one alone). Same seed, same study.

    ``photos=False`` builds the records only; ``expressions`` limits the photo set
    (the CI's small known-answer test uses the smiles and rest). ``jobs`` processes draw the
    photos (analysis/demo_photos.py). ``scoring`` says when they are scored:
    - "each": queued as each is uploaded (scored at once where tasks run in-process; with a
      broker, by the workers);
    - "after": once all are stored, by ``jobs`` processes at once (analysis/demo_scoring.py);
    - "later": stored and left waiting, for `manage.py run_demo` to score while the demo is served.
    """
    if scoring not in ("each", "after", "later"):
        raise ValueError(f"scoring must be each, after or later, not {scoring!r}")
    study = Study.objects.filter(code=DEMO_STUDY_CODE).first()
    if study is not None:
        return DemoResult(study=study, logins=demo_logins(study), created=False)
    with transaction.atomic():
        study = services.study_set_up(
            code=DEMO_STUDY_CODE,
            title="BoNT-A for oral commissure droop after facial nerve injury (demo)",
            sites=DEMO_SITES,
            schedule=DEMO_SCHEDULE,
            # Derived from the demo's seed, so that the same seed allocates the same arms.
            randomization_seed=hashlib.sha256(f"demo-randomization:{seed}".encode()).hexdigest(),
        )
        # A study-defined outcome, as the published adult study had beside the photos: a
        # patient-reported quality-of-life score, higher is better, that moves with the droop.
        services.study_outcome_define(
            study=study,
            code=QOL_OUTCOME_CODE,
            name="FaCE scale, total",
            unit="points",
            min_value=Decimal("0"),
            max_value=Decimal("100"),
            by=None,
            description="Facial Clinimetric Evaluation scale (patient-reported), 0 worst to 100 best.",
        )
        for order, (kind, text) in enumerate(DEMO_ELIGIBILITY_CRITERIA):
            services.eligibility_criterion_define(study=study, kind=kind, text=text, order=order, by=None)
        logins = demo_logins(study)
    result = DemoResult(study=study, logins=logins, created=True)
    generator = _Generator(
        study=study,
        rng=np.random.default_rng(seed),
        seed=seed,
        effect_mm=effect_mm,
        today=today or timezone.localdate(),
        expressions=tuple(expressions or Expression.values) if photos else (),
        progress=progress or (lambda message: None),
        queue_photos=scoring == "each",
        jobs=jobs,
    )
    try:
        generator.build(patients)
    finally:
        generator.close()
    if generator.unqueued and scoring == "after":
        generator.progress(f"Scoring {len(generator.unqueued)} demo photos with {jobs} processes")
        from .demo_scoring import score_waiting

        score_waiting(study=study, jobs=jobs)
    result.truth = generator.truth
    result.photos_uploaded = generator.uploaded
    result.photos_scored = Photo.objects.filter(patient__study=study, status=Photo.Status.SCORED).count()
    if photos:
        result.ground_truth_path = _write_ground_truth(
            study,
            generator,
            parameters={"patients": patients, "seed": seed, "effect_mm": effect_mm},
        )
    return result


def _write_ground_truth(study: Study, generator: _Generator, *, parameters: dict) -> Path:
    path = ground_truth_path(study.code)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "study": study.code,
        "parameters": parameters,
        "effect_model": {
            "true_between_arm_effect_mm": {
                visit: -round(parameters["effect_mm"] * fraction, 6)
                for visit, fraction in BONT_A_EFFECT_FRACTION.items()
                if visit != "baseline"
            },
            "sign": "BoNT-A minus control, on the follow-up commissure height deviation in the smile photos",
            "natural_recovery_mm": NATURAL_RECOVERY_MM,
            "patient_response_sd_mm": PATIENT_RESPONSE_SD_MM,
            "patient_response_fraction": PATIENT_RESPONSE_FRACTION,
            "photo_noise_sd_mm": PHOTO_NOISE_SD_MM,
            "rest_fraction": REST_FRACTION,
        },
        "patients": generator.patient_truth,
        "photos": [vars(t) for t in generator.truth],
    }
    path.write_text(json.dumps(payload, indent=1))
    return path


class _Generator:
    def __init__(self, *, study, rng, seed, effect_mm, today, expressions, progress, queue_photos=True, jobs=1):
        self.study = study
        self.rng = rng
        self.seed = seed
        self.effect_mm = effect_mm
        self.today = today
        self.expressions = expressions
        self.progress = progress
        self.schedule = list(study.schedule.order_by("day_offset"))
        # The coordinators demo_logins() has just made: one per site, found by their role.
        self.coordinators = {
            role.site_id: role.user
            for role in StudyRole.objects.filter(study=study, role=StudyRole.Role.COORDINATOR).select_related("user")
        }
        self.sites = list(study.sites.order_by("code"))
        self.truth: list[DemoPhotoTruth] = []
        self.patient_truth: list[dict] = []
        self.uploaded = 0
        self.queue_photos = queue_photos
        self.unqueued: list[int] = []
        self._faces = None
        self.jobs = jobs
        self.drawer = None
        self._drawn: list = []  # (visit, expressions, future of the JPEG files), not stored yet

    # --- Records -------------------------------------------------------------------------

    def build(self, count: int) -> None:
        rng = self.rng
        # Enrolled 100 to 330 days ago, so that they are past week 12; the last two of a cohort of six
        # or more are recent, which gives the coordinators' lists visits that are due.
        recent = 2 if count >= 6 else 0
        # The one withdrawal and the one protocol deviation (at week 4), chosen up front among the
        # patients who get that far, so that the same seed gives the same study.
        withdrawn_index = int(rng.integers(count - recent)) if count >= 4 else -1
        deviation_index = int(rng.integers(count - recent))
        for index in range(count):
            site = self.sites[index % len(self.sites)]
            days_ago = int(rng.integers(100, 331)) if index < count - recent else int(rng.integers(16, 30))
            with transaction.atomic():
                patient = self._register(index, site, days_ago)
                self._answer_eligibility(patient, by=self.coordinators[site.pk])
                arm = services.patient_randomize(patient=patient, by=self.coordinators[site.pk])
                patient.refresh_from_db()
            self._follow(
                patient,
                arm_injects=arm.receives_injections,
                withdraw=index == withdrawn_index,
                deviation=index == deviation_index,
            )
            self._store_photos()
            self.progress(f"Demo patient {index + 1}/{count} ({patient.study_code}, {arm.name})")

    def _answer_eligibility(self, patient: Patient, *, by) -> None:
        """Every demo patient passes the checklist: built to (adult, palsy of grade II to V for 6 to
        60 months), so the inclusion criteria hold and the exclusion criteria do not."""
        answers = {c.pk: c.kind == "inclusion" for c in self.study.eligibility_criteria.filter(active=True)}
        services.patient_eligibility_record(patient=patient, by=by, answers=answers)

    def _register(self, index: int, site, days_ago: int) -> Patient:
        rng = self.rng
        enrolled = self.today - timedelta(days=days_ago)
        first = FIRST_NAMES[index % len(FIRST_NAMES)]
        last = LAST_NAMES[(index * 7) % len(LAST_NAMES)]
        return services.patient_register(
            site=site,
            by=self.coordinators[site.pk],
            sex=str(rng.choice([Sex.FEMALE, Sex.MALE])),
            affected_side=str(rng.choice(Side.values)),
            aetiology=str(
                rng.choice(
                    [Aetiology.BELLS_PALSY, Aetiology.TRAUMA, Aetiology.TUMOUR_RESECTION, Aetiology.IATROGENIC],
                    p=[0.5, 0.2, 0.2, 0.1],
                )
            ),
            months_since_onset=int(rng.integers(6, 61)),
            baseline_house_brackmann=int(rng.choice([2, 3, 4, 5], p=[0.15, 0.4, 0.3, 0.15])),
            full_name=f"{first} {last}",
            # Two weeks more than 18 x 365 days: every demo patient is an adult on the consent day
            # (up to a week before enrollment), as the checklist's first criterion asks.
            date_of_birth=enrolled - timedelta(days=int(rng.integers(18 * 365, 80 * 365)) + 14),
            medical_record_number=f"{site.code}{700000 + index * 37:07d}",
            phone=f"07700 9{index:05d}",
            consent_date=enrolled - timedelta(days=int(rng.integers(0, 8))),
            enrollment_date=enrolled,
        )

    def _follow(self, patient: Patient, *, arm_injects: bool, withdraw: bool, deviation: bool) -> None:
        rng = self.rng
        coordinator = self.coordinators[patient.site_id]
        baseline_droop = float(rng.uniform(*BASELINE_DROOP_MM))
        response = float(rng.normal(0.0, PATIENT_RESPONSE_SD_MM))
        natural = float(rng.normal(1.0, 0.5))
        sunnybrook = int(rng.integers(35, 71))
        quality_of_life = float(rng.uniform(35, 65))
        qol = self.study.outcomes.get(code=QOL_OUTCOME_CODE)
        mirrored = bool(rng.integers(2))
        assert patient.arm is not None, "randomized just before"
        true_droop: dict[str, float] = {}
        self.patient_truth.append(
            {
                "study_code": patient.study_code,
                "arm": patient.arm.code,
                "affected_side": patient.affected_side,
                "baseline_droop_mm": round(baseline_droop, 4),
                "visits": true_droop,
            }
        )
        deviation_visit = "week-4" if deviation else None
        for scheduled in self.schedule:
            code = scheduled.code
            earliest, target, latest = scheduled.window_for(patient.enrollment_date)
            # Most visits on the day; some inside the window but off target; one outside, with its reason.
            offset = int(rng.choice([0, 0, 0, -1, 1, 2])) if not scheduled.is_baseline else int(rng.choice([0, 0, 1]))
            performed = min(max(target + timedelta(days=offset), earliest), latest)
            deviation_reason = ""
            if code == deviation_visit:
                performed = latest + timedelta(days=5)
                deviation_reason = "Patient in hospital for an unrelated illness; seen as soon as discharged."
            if performed > self.today:
                break
            improvement = NATURAL_RECOVERY_MM[code] * natural + response * PATIENT_RESPONSE_FRACTION[code]
            if arm_injects:
                improvement += self.effect_mm * BONT_A_EFFECT_FRACTION[code]
            droop = baseline_droop - improvement
            true_droop[code] = round(droop, 4)
            grade = patient.baseline_house_brackmann
            if improvement > 1.5 and rng.random() < 0.7:
                grade = max(1, grade - 1)
            visit = services.visit_record(
                patient=patient,
                scheduled_visit=scheduled,
                by=coordinator,
                date_performed=performed,
                house_brackmann=grade,
                sunnybrook_composite=int(
                    min(COMPOSITE_MAX, max(COMPOSITE_MIN, sunnybrook + round(improvement * 6 + rng.normal(0, 3))))
                ),
                protocol_deviation_reason=deviation_reason,
            )
            # The patient-reported score rises about 4 points for each millimetre of droop removed.
            score = min(100.0, max(0.0, quality_of_life + 4 * improvement + float(rng.normal(0, 3))))
            services.visit_outcomes_record(visit=visit, by=coordinator, values={qol: round(score)})
            # The item-level grades draw from their own stream: the draws above keep their order.
            grades = scale_responses(droop, scale_stream(self.seed, patient.study_code, code))
            for scale, responses in grades.items():
                services.visit_scale_record(visit=visit, scale=scale, responses=responses, by=coordinator)
            if scheduled.is_baseline and arm_injects:
                self._inject(patient, visit, coordinator)
            self._photos(patient, visit, droop=droop, mirrored=mirrored)
            if withdraw and code == "week-4":
                self._store_photos()  # a withdrawn patient takes no new photos
                services.patient_withdraw(
                    patient=patient,
                    by=coordinator,
                    reason="Moved abroad; agreed that the data collected so far may be used.",
                    withdrawn_on=min(performed + timedelta(days=10), self.today),
                )
                return
        if len(true_droop) == len(self.schedule):
            self._store_photos()  # nor does a patient who has completed the study
            services.patient_complete(patient=patient, by=coordinator)

    def _inject(self, patient: Patient, visit, coordinator) -> None:
        rng = self.rng
        unaffected = Side.LEFT if patient.affected_side == Side.RIGHT else Side.RIGHT

        def units(low: float, high: float) -> str:
            return str(Decimal(str(round(float(rng.uniform(low, high)) * 2) / 2)))

        points = [
            {"muscle": Muscle.DEPRESSOR_ANGULI_ORIS, "side": unaffected, "units": units(2, 4)},
            {"muscle": Muscle.DEPRESSOR_LABII_INFERIORIS, "side": unaffected, "units": units(1, 3)},
        ]
        if rng.random() < 0.4:
            points.append({"muscle": Muscle.RISORIUS, "side": unaffected, "units": units(1, 2)})
        if rng.random() < 0.3:
            points.append({"muscle": Muscle.MENTALIS, "side": InjectionSide.MIDLINE, "units": units(2, 4)})
        services.injection_session_record(
            patient=patient,
            by=coordinator,
            visit=visit,
            date=visit.date_performed,
            product=Product.ONABOTULINUMTOXIN_A,
            lot_number=f"C{int(rng.integers(1000, 9999))}C{int(rng.integers(1, 9))}",
            diluent_ml_per_100_units=Decimal("2.5"),
            injector=str(rng.choice(INJECTORS)),
            points=points,
        )

    # --- Photos --------------------------------------------------------------------------

    def _face(self, mirrored: bool):
        """The unwarped face for this patient (mirrored or not) and its reference, built once."""
        if self._faces is None:
            from measurements import synthetic

            base = synthetic.astronaut_face(PHOTO_SCALE)
            self._faces = {}
            for flip in (False, True):
                img = synthetic.mirror(base) if flip else base
                self._faces[flip] = (img, synthetic.face_reference(img))
        return self._faces[mirrored]

    def _photos(self, patient: Patient, visit, *, droop: float, mirrored: bool) -> None:
        """Draw this visit's random numbers and hand its photos to the drawer; stored by _store_photos."""
        if not self.expressions:
            return
        from measurements import synthetic

        from .demo_photos import PhotoDrawing, VisitDrawing

        rng = self.rng
        _, reference = self._face(mirrored)
        side = patient.affected_side
        natural = synthetic.natural_commissure_droop_mm(reference, side)
        smile_target = droop + float(rng.normal(0, PHOTO_NOISE_SD_MM))
        rest_target = REST_FRACTION * droop + float(rng.normal(0, PHOTO_NOISE_SD_MM))
        photos = []
        for expression in self.expressions:
            photos.append(
                PhotoDrawing(
                    smile=expression in SMILES,
                    eyes_closed=expression in EYES_CLOSED,
                    degrees=float(rng.uniform(-3, 3)),
                    scale=float(rng.uniform(0.93, 1.05)),
                    brightness=float(rng.uniform(0.85, 1.15)),
                    quality=int(rng.integers(82, 96)),
                )
            )
            self.truth.append(
                DemoPhotoTruth(
                    study_code=patient.study_code,
                    visit=visit.scheduled_visit.code,
                    expression=expression,
                    affected_side=side,
                    true_commissure_height_signed_mm=round(smile_target if expression in SMILES else rest_target, 4),
                )
            )
        drawing = VisitDrawing(
            mirrored=mirrored,
            side=side,
            # The pull is what the face needs on top of its own asymmetry to show the target.
            smile_pull_mm=smile_target - natural,
            rest_pull_mm=rest_target - natural,
            photos=tuple(photos),
        )
        self._drawn.append((visit, self.expressions, self._drawer().submit(drawing)))

    def _drawer(self):
        if self.drawer is None:
            from .demo_photos import Drawer

            self.drawer = Drawer({flip: self._face(flip) for flip in (False, True)}, jobs=self.jobs)
        return self.drawer

    def _store_photos(self) -> None:
        """Upload the photos drawn so far, visit by visit, as they come back from the drawer."""
        drawn, self._drawn = self._drawn, []
        for visit, expressions, files in drawn:
            for expression, data in zip(expressions, files.result(), strict=True):
                # Each upload commits on its own, so in-process scoring (the tests' demos) runs right after it.
                with transaction.atomic():
                    photo = photo_services.photo_upload(
                        visit=visit,
                        expression=expression,
                        data=data,
                        filename=f"IMG_{visit.date_performed:%Y%m%d}_{expression}.jpg",
                        by=visit.created_by,
                        queue=self.queue_photos,
                    )
                if not self.queue_photos:
                    self.unqueued.append(photo.pk)
                self.uploaded += 1

    def close(self) -> None:
        if self.drawer is not None:
            self.drawer.close()


# --- The known answer -----------------------------------------------------------------------------

PRIMARY_METRIC = "commissure_height_deviation_mm"
TRACKED_METRIC = "commissure_height_signed_mm"  # affected minus unaffected: what the generator set


def known_answer(study: Study, *, expression: str = "smile_open", visit: str = "week-12") -> dict:
    """How well the pipeline recovers what the generator put in: the between-arm effect (ANCOVA
    on the follow-up deviation, from the same summary the pages and the API show) against the true
    effect, and each scored photo's measured droop against the generated one (slope, R², mean
    absolute error), overall and per expression."""
    from scipy import stats

    from analysis.summary import outcome_summary
    from measurements.models import PhotoScore

    truth = json.loads(ground_truth_path(study.code).read_text())
    true_effect = truth["effect_model"]["true_between_arm_effect_mm"][visit]
    summary = outcome_summary(study, metric=PRIMARY_METRIC, expression=expression, visit=visit)
    (entry,) = summary["visits"]
    ancova = entry["comparison"]["ancova"]
    contains = ancova.get("ci_low") is not None and ancova["ci_low"] <= true_effect <= ancova["ci_high"]

    generated = {
        (t["study_code"], t["visit"], t["expression"]): t["true_commissure_height_signed_mm"] for t in truth["photos"]
    }
    scores = PhotoScore.objects.filter(
        photo__patient__study=study,
        photo__is_current=True,
        engine_version=summary["engine_version"],
        status="scored",
    ).values_list("photo__patient__study_code", "photo__visit__scheduled_visit__code", "photo__expression", "metrics")
    by_expression: dict[str, list[tuple[float, float]]] = {}
    for code, visit_code, photo_expression, metrics in scores:
        key = (code, visit_code, photo_expression)
        if key in generated and TRACKED_METRIC in metrics:
            by_expression.setdefault(photo_expression, []).append((generated[key], metrics[TRACKED_METRIC]))

    def fit(pairs: list[tuple[float, float]]) -> dict:
        true, measured = np.array(pairs).T
        line = stats.linregress(true, measured)
        return {
            "photos": len(pairs),
            "slope": float(line.slope),
            "intercept_mm": float(line.intercept),
            "r2": float(line.rvalue**2),
            "mean_absolute_error_mm": float(np.mean(np.abs(measured - true))),
        }

    everything = [pair for pairs in by_expression.values() for pair in pairs]
    return {
        "study": study.code,
        "expression": expression,
        "visit": visit,
        "engine_version": summary["engine_version"],
        "true_effect_mm": true_effect,
        "ancova": ancova,
        "n": entry["comparison"]["n"],
        "ci_contains_true_effect": contains,
        "photos": fit(everything) if len(everything) > 2 else None,
        "photos_by_expression": {e: fit(p) for e, p in sorted(by_expression.items()) if len(p) > 2},
    }
