"""The clinician-graded scales (patients.grading): exact totals, the extremes, refusals that name the item,
and incomplete scales that stay None. Worked examples are computed by hand in docs/grading.md."""

import subprocess
import sys

import pytest

from patients import grading
from patients.grading import eface, house_brackmann, sunnybrook


def sunnybrook_answers(rest=("normal", "normal", "normal"), movement=(5,) * 5, synkinesis=(0,) * 5):
    codes = [i.code for i in sunnybrook.SUNNYBROOK.items]
    return dict(zip(codes, (*rest, *movement, *synkinesis), strict=True))


WORST_SUNNYBROOK = sunnybrook_answers(
    rest=("narrow", "absent", "corner_drooped"), movement=(1,) * 5, synkinesis=(3,) * 5
)


def test_sunnybrook_normal_face_is_100():
    result = sunnybrook.scores(sunnybrook_answers())
    assert (result.rest, result.movement, result.synkinesis, result.composite) == (0, 100, 0, 100)
    assert result.complete and result.missing == ()


def test_sunnybrook_worst_face_is_minus_15_never_clamped():
    result = sunnybrook.scores(WORST_SUNNYBROOK)
    # Rest (1 + 2 + 1) × 5 = 20, movement 5 × 1 × 4 = 20, synkinesis 5 × 3 = 15.
    assert (result.rest, result.movement, result.synkinesis) == (20, 20, 15)
    assert result.composite == -15 == sunnybrook.COMPOSITE_MIN


def test_sunnybrook_worked_example():
    answers = sunnybrook_answers(
        rest=("narrow", "absent", "corner_drooped"), movement=(3, 4, 2, 3, 3), synkinesis=(1, 0, 2, 1, 0)
    )
    result = sunnybrook.scores(answers)
    assert (result.rest, result.movement, result.synkinesis, result.composite) == (20, 60, 4, 36)


@pytest.mark.parametrize(
    ("eye", "cheek", "mouth", "rest"),
    [
        ("wide", "normal", "normal", 5),
        ("eyelid_surgery", "less_pronounced", "normal", 10),
        ("normal", "more_pronounced", "corner_pulled_up_out", 10),
        ("normal", "absent", "normal", 10),  # an absent fold is the one resting answer worth 2
    ],
)
def test_sunnybrook_rest_choices_score_as_published(eye, cheek, mouth, rest):
    assert sunnybrook.scores(sunnybrook_answers(rest=(eye, cheek, mouth))).rest == rest


def test_sunnybrook_incomplete_is_none_never_zero():
    answers = sunnybrook_answers()
    answers["sb_synkinesis_snarl"] = None
    del answers["sb_rest_mouth"]
    result = sunnybrook.scores(answers)
    assert result.composite is None and result.rest is None and result.synkinesis is None
    assert result.movement == 100  # a complete domain still has its subscore, as the form shows it
    assert result.missing == ("sb_rest_mouth", "sb_synkinesis_snarl") and not result.complete
    assert sunnybrook.scores({}).composite is None


def test_sunnybrook_refusals_name_the_item():
    answers = sunnybrook_answers()
    answers.update({"sb_movement_snarl": 6, "sb_synkinesis_lip_pucker": -1, "sb_rest_eye": "squint", "sb_nose": 1})
    errors = grading.validate(sunnybrook.SUNNYBROOK, answers)
    assert set(errors) == {"sb_movement_snarl", "sb_synkinesis_lip_pucker", "sb_rest_eye", "sb_nose"}
    assert errors["sb_movement_snarl"].startswith("Voluntary movement: Snarl: 6 is not one of the allowed answers")
    assert errors["sb_synkinesis_lip_pucker"].startswith("Synkinesis: Lip pucker: -1 is not one")
    assert "Resting symmetry: eye (palpebral fissure): 'squint'" in errors["sb_rest_eye"]
    assert errors["sb_nose"] == "'sb_nose' is not an item of the Sunnybrook facial grading system."
    with pytest.raises(grading.GradingError) as raised:
        sunnybrook.scores(answers)
    assert raised.value.errors == errors


def test_sunnybrook_codes_match_in_type():
    # A form posts text; the form converts it. The pure core does not guess, nor take True for 1.
    errors = grading.validate(sunnybrook.SUNNYBROOK, {"sb_movement_snarl": "3", "sb_synkinesis_snarl": True})
    assert set(errors) == {"sb_movement_snarl", "sb_synkinesis_snarl"}
    assert grading.validate(sunnybrook.SUNNYBROOK, sunnybrook_answers()) == {}


def test_sunnybrook_definitions_are_complete_data():
    scale = sunnybrook.SUNNYBROOK
    assert [len(scale.domain_items(d)) for d, _ in scale.domains] == [3, 5, 5]
    assert len({i.code for i in scale.items}) == 13
    assert [c.points for c in scale.item("sb_rest_cheek").choices] == [0, 2, 1, 1]
    assert [c.code for c in scale.item("sb_movement_open_mouth_smile").choices] == [1, 2, 3, 4, 5]
    assert [c.code for c in scale.item("sb_synkinesis_forehead_wrinkle").choices] == [0, 1, 2, 3]
    assert grading.SCALES["sunnybrook"] is scale and "1996" in scale.citation


def eface_answers(static=(100,) * 4, dynamic=(100,) * 7, synkinesis=(100,) * 4):
    codes = [i.code for i in eface.EFACE.items]
    return dict(zip(codes, (*static, *dynamic, *synkinesis), strict=True))


def test_eface_normal_face_is_100():
    result = eface.scores(eface_answers())
    assert (result.static, result.dynamic, result.synkinesis, result.total) == (100, 100, 100, 100)


@pytest.mark.parametrize("static", [0, 200])
def test_eface_worst_face_is_0_either_way_from_balanced(static):
    result = eface.scores(eface_answers(static=(static,) * 4, dynamic=(0,) * 7, synkinesis=(0,) * 4))
    assert (result.static, result.dynamic, result.synkinesis, result.total) == (0, 0, 0, 0)


def test_eface_worked_example():
    # docs/grading.md, "eFACE worked example": static 80, 120, 60, 150 score 80, 80, 60, 50.
    answers = eface_answers(
        static=(80, 120, 60, 150), dynamic=(70, 100, 90, 40, 50, 60, 80), synkinesis=(100, 80, 90, 70)
    )
    result = eface.scores(answers)
    assert result.static == pytest.approx(67.5)
    assert result.dynamic == pytest.approx(70.0)
    assert result.synkinesis == pytest.approx(85.0)
    assert result.total == pytest.approx(1100 / 15)  # 73.33: the mean of all 15 item scores
    assert result.total != pytest.approx((67.5 + 70 + 85) / 3)  # not the mean of the three subscores


def test_eface_static_items_fold_about_balanced():
    brow = eface.EFACE.item("ef_brow_rest")
    assert [eface.item_score(brow, v) for v in (0, 50, 100, 150, 200)] == [0, 50, 100, 50, 0]
    assert eface.item_score(eface.EFACE.item("ef_brow_elevation"), 40) == 40


def test_eface_incomplete_is_none_never_zero():
    answers = eface_answers()
    answers["ef_synkinesis_platysmal"] = None
    result = eface.scores(answers)
    assert result.synkinesis is None and result.total is None
    assert (result.static, result.dynamic) == (100, 100)
    assert result.missing == ("ef_synkinesis_platysmal",)


def test_eface_refusals_name_the_item():
    answers = eface_answers()
    answers.update({"ef_brow_rest": 201, "ef_brow_elevation": 100.5, "ef_synkinesis_ocular": "none"})
    errors = grading.validate(eface.EFACE, answers)
    assert errors == {
        "ef_brow_rest": "Brow at rest: 201 is outside 0 to 200.",
        "ef_brow_elevation": "Brow elevation: 100.5 is outside 0 to 100.",
        "ef_synkinesis_ocular": "Ocular synkinesis: 'none' is not a number.",
    }
    assert grading.validate(eface.EFACE, {"ef_brow_rest": float("nan")}) == {
        "ef_brow_rest": "Brow at rest: nan is not a number."
    }
    with pytest.raises(grading.GradingError, match="Brow at rest: 201"):
        eface.scores(answers)


def test_eface_definitions_are_complete_data():
    scale = eface.EFACE
    assert [len(scale.domain_items(d)) for d, _ in scale.domains] == [4, 7, 4]
    assert {(i.minimum, i.maximum) for i in scale.domain_items("static")} == {(0, 200)}
    assert {(i.minimum, i.maximum) for i in scale.domain_items("dynamic")} == {(0, 100)}
    assert all(i.anchors for i in scale.items)


def test_house_brackmann_grades_as_data():
    assert house_brackmann.choices() == [(1, "I"), (2, "II"), (3, "III"), (4, "IV"), (5, "V"), (6, "VI")]
    assert house_brackmann.GRADES_BY_VALUE[1].name == "Normal"
    assert house_brackmann.GRADES_BY_VALUE[6].name == "Total paralysis"
    assert "incomplete closure" in house_brackmann.GRADES_BY_VALUE[4].description
    assert house_brackmann.problem(4) is None
    assert house_brackmann.problem(7) == "House-Brackmann grade: 7 is not a grade from 1 (I) to 6 (VI)."
    assert house_brackmann.problem(True) is not None


def test_visit_choices_come_from_the_grading_definitions():
    from patients.models import HOUSE_BRACKMANN_CHOICES, Visit

    assert HOUSE_BRACKMANN_CHOICES == house_brackmann.choices()
    field = Visit._meta.get_field("sunnybrook_composite")
    bounds = sorted(v.limit_value for v in field.validators if hasattr(v, "limit_value"))
    assert bounds == [sunnybrook.COMPOSITE_MIN, sunnybrook.COMPOSITE_MAX]


def test_grading_imports_nothing_from_django():
    code = "import sys, patients.grading; sys.exit('django' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": "."}, check=False).returncode == 0
