"""Quality gates and awkward files: each gets its own status and a reason,
and nothing crashes."""

import io
import time

import numpy as np
import pytest
from PIL import Image

from measurements.engine import STATUSES, EngineError, ReferenceGeometry, decode_image, score_array, score_image_bytes
from measurements.engine.gates import check_eyes_open
from tests import imaging


def assert_failed(result, status):
    assert result.status == status, (result.status, result.reason)
    assert result.metrics == {}
    assert result.reason.endswith(".") and len(result.reason) > 30
    assert result.engine_version and result.model_version
    return result


# --- Files that cannot be read ---------------------------------------------------


def test_zero_byte_file():
    result = assert_failed(score_image_bytes(b""), "unreadable")
    assert "empty" in result.reason


def test_text_file_renamed_jpg():
    result = assert_failed(score_image_bytes(b"Visit notes, not a photo.\n" * 20), "unreadable")
    assert "not an image" in result.reason


def test_truncated_jpeg(face):
    result = assert_failed(score_image_bytes(imaging.truncated_jpeg_bytes(face)), "unreadable")
    assert "truncated" in result.reason


def test_decompression_bomb_is_refused_without_decoding():
    data = imaging.bomb_png_bytes(30000, 30000)
    assert len(data) < 1_000_000
    started = time.perf_counter()
    result = assert_failed(score_image_bytes(data), "unreadable")
    # Refused from the header: no time (or memory) spent on 900 M pixels.
    assert time.perf_counter() - started < 1.0
    assert "too large" in result.reason


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_oversized_but_plausible_header_is_refused_by_our_own_limit():
    data = imaging.bomb_png_bytes(12000, 12000)  # 144 M pixels: below PIL's error limit
    with pytest.raises(EngineError) as excinfo:
        decode_image(data)
    assert excinfo.value.status == "unreadable"


def test_tiny_image_is_too_small_not_a_crash():
    tiny = np.full((20, 20, 3), 128, np.uint8)
    assert_failed(score_image_bytes(imaging.to_png_bytes(tiny)), "face_too_small")


# --- Unusual but valid encodings: converted and scored ---------------------------


@pytest.mark.parametrize(
    "encode",
    [
        pytest.param(imaging.cmyk_jpeg_bytes, id="cmyk_jpeg"),
        pytest.param(lambda img: imaging.png16_bytes(img, colour=True), id="png_48bit_rgb"),
        pytest.param(lambda img: imaging.png16_bytes(img, colour=False), id="png_16bit_grey"),
        pytest.param(lambda img: imaging.to_jpeg_bytes(imaging.greyscale(img)), id="greyscale_jpeg"),
        pytest.param(lambda img: _pil_bytes(Image.fromarray(img).convert("RGBA"), "PNG"), id="rgba_png"),
        pytest.param(lambda img: _pil_bytes(Image.fromarray(img).quantize(256), "PNG"), id="palette_png"),
    ],
)
def test_valid_encodings_are_converted_and_scored(face, face_result, encode):
    result = score_image_bytes(encode(face), expression="smile_open")
    assert result.status == "scored", result.reason
    assert result.image_size == (face.shape[1], face.shape[0])
    # Same photo, same answer within the engine's precision.
    assert result.metrics["commissure_height_deviation_mm"] == pytest.approx(
        face_result.metrics["commissure_height_deviation_mm"], abs=0.3
    )


def _pil_bytes(image, fmt, **kwargs):
    buf = io.BytesIO()
    image.save(buf, fmt, **kwargs)
    return buf.getvalue()


def test_heic_is_decoded(face, face_result):
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    try:
        data = _pil_bytes(Image.fromarray(face), "HEIF", quality=90)
    except Exception as exc:  # an encoder-less pillow-heif build can still decode
        pytest.skip(f"cannot write HEIF here: {exc}")
    result = score_image_bytes(data, expression="smile_open")
    assert result.status == "scored", result.reason
    assert result.metrics["commissure_height_deviation_mm"] == pytest.approx(
        face_result.metrics["commissure_height_deviation_mm"], abs=0.3
    )


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_orientation_is_applied(face, face_result, orientation):
    result = score_image_bytes(imaging.with_exif_orientation(face, orientation), expression="smile_open")
    assert result.status == "scored", result.reason
    assert result.image_size == (face.shape[1], face.shape[0])
    # Landmarks are in the upright photo's pixels.
    assert np.median(np.linalg.norm(result.landmarks - face_result.landmarks, axis=1)) < 2.0


def test_large_phone_photo_is_decoded_small_and_reported_in_original_pixels():
    data = imaging.large_photo_jpeg()
    decoded = decode_image(data)
    assert decoded.original_size == (4032, 3024)
    assert decoded.rgb.shape == (756, 1008, 3)  # JPEG draft mode: decoded at 1/4 from the DCT
    result = score_image_bytes(data)
    assert result.status == "scored", result.reason
    assert result.image_size == (4032, 3024)
    assert result.quality["analysis_scale"] == pytest.approx(0.25)
    assert result.quality["iris_diameter_px"] > 80  # original pixels
    assert result.landmarks[:, 0].max() > 2048  # original pixel coordinates


def test_small_face_in_a_large_photo_is_decoded_again_larger():
    # Face a tenth of the frame: iris about 9 px at the first (1/4) decode.
    result = score_image_bytes(imaging.large_photo_jpeg(face_width_fraction=0.1))
    assert result.status == "scored", result.reason
    assert result.quality["analysis_scale"] >= 0.5
    assert result.quality["iris_diameter_px"] * result.quality["analysis_scale"] >= 20


# --- Photos that decode but fail a gate ------------------------------------------


def test_no_face_in_a_real_photo():
    assert_failed(score_array(imaging.no_face_image()), "no_face")


def test_no_face_in_a_gradient():
    assert_failed(score_image_bytes(imaging.to_jpeg_bytes(imaging.gradient_image())), "no_face")


def test_two_faces_side_by_side():
    result = assert_failed(score_array(imaging.two_faces_side_by_side()), "multiple_faces")
    assert result.quality["faces_found"] == 2
    assert "only the patient" in result.reason


def test_turned_head(face):
    result = assert_failed(score_array(imaging.turned_face(face, 25)), "head_turned")
    assert abs(result.quality["yaw_deg"]) > 15
    assert "°" in result.reason and "looking straight at the camera" in result.reason
    assert result.landmarks is not None  # kept, so the photo can be shown


def test_slightly_turned_head_still_scores(face):
    result = score_array(imaging.turned_face(face, 5))
    assert result.status == "scored", result.reason


def test_frontal_face_has_small_yaw(face_result):
    assert abs(face_result.quality["yaw_deg"]) < 3


def test_face_40_px_wide():
    result = assert_failed(score_array(imaging.tiny_face(40)), "face_too_small")
    assert result.quality["iris_diameter_px"] < 12
    assert "too small" in result.reason


@pytest.fixture(scope="module")
def closed_eyes(face):
    return imaging.close_eyes(face)


def test_closed_eyes_fail_where_the_expression_needs_them_open(closed_eyes):
    result = assert_failed(score_array(closed_eyes, expression="smile_open"), "eyes_closed")
    assert max(result.quality["eye_opening_right"], result.quality["eye_opening_left"]) < 0.2
    assert "smile open" in result.reason


def test_closed_eyes_are_expected_in_eye_closure_photos(closed_eyes, face_result):
    # Not the eyes_closed gate: without the visit's open-eye photo there is no scale (engine 1.2.0,
    # tests/engine/test_reference.py), with it the photo is scored.
    alone = score_array(closed_eyes, expression="gentle_eye_closure")
    assert alone.status == "no_reference", alone.reason
    reference = ReferenceGeometry.from_landmarks(face_result.landmarks)
    result = score_array(closed_eyes, expression="gentle_eye_closure", reference=reference)
    assert result.status == "scored", result.reason


def test_open_eyes_pass(face_result):
    assert min(face_result.quality["eye_opening_right"], face_result.quality["eye_opening_left"]) > 0.5


def test_one_narrowed_eye_is_a_finding_not_a_failure():
    # Oral-ocular synkinesis narrows the affected eye on smiling.
    check_eyes_open((0.05, 0.7), "smile_open")
    with pytest.raises(EngineError):
        check_eyes_open((0.05, 0.1), "smile_open")
    check_eyes_open((0.0, 0.0), "full_eye_closure")


def test_every_failure_status_has_its_own_reason(face):
    reasons = {}
    for status, result in [
        ("unreadable", score_image_bytes(b"")),
        ("no_face", score_array(imaging.gradient_image())),
        ("face_too_small", score_array(imaging.tiny_face(40))),
    ]:
        assert result.status == status
        reasons[status] = result.reason
    assert len(set(reasons.values())) == len(reasons)
    assert set(reasons) <= set(STATUSES)


def test_bad_arguments_are_programming_errors(face):
    with pytest.raises(ValueError):
        score_image_bytes(b"", expression="grimace")
    with pytest.raises(ValueError):
        score_array(face, affected_side="both")
