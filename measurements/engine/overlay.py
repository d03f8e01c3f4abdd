"""A picture of what the engine measured, for people to check.

Draws the landmarks, the interpupillary line, the facial midline, a line
through each mouth corner parallel to the interpupillary line, and the key
numbers. The returned image is a fresh PIL image with no EXIF or other
metadata copied from the upload.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .frame import LEFT_IRIS_CENTRE, RIGHT_IRIS_CENTRE, FacialFrame
from .metrics import COMMISSURE_LEFT, COMMISSURE_RIGHT

_LANDMARK = (0, 255, 255)
_IPL = (255, 215, 0)
_MIDLINE = (255, 255, 255)
_RIGHT = (255, 80, 80)  # subject's right
_LEFT = (80, 160, 255)  # subject's left
_TEXT_BG = (0, 0, 0)


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def render_overlay(rgb: np.ndarray, result) -> Image.Image:
    """Draw ``result`` (a ``ScoreResult``) over ``rgb``, any resolution of the
    same upright photo. Without landmarks, only the status is written."""
    rgb = np.ascontiguousarray(np.asarray(rgb)[:, :, :3], dtype=np.uint8)
    image = Image.fromarray(rgb)
    draw = ImageDraw.Draw(image)
    height, width = rgb.shape[:2]
    line_w = max(2, round(max(width, height) / 600))
    font = _font(max(12, round(max(width, height) / 60)))

    lines = [f"status: {result.status}"]
    landmarks = result.landmarks
    if landmarks is not None and result.image_size:
        scale = np.array([width / result.image_size[0], height / result.image_size[1]])
        pts = np.asarray(landmarks, dtype=np.float64) * scale
        r = max(1.0, line_w * 0.8)
        for x, y in pts:
            draw.ellipse([x - r, y - r, x + r, y + r], fill=_LANDMARK)
        try:
            frame = FacialFrame.from_landmarks(pts)
        except ValueError:
            frame = None
        if frame is not None:
            framed = frame.to_frame_mm(pts)
            span_x = float(np.ptp(framed[:, 0])) * 0.75
            top = float(framed[:, 1].min())
            bottom = float(framed[:, 1].max())

            def seg(a, b, colour):
                p = frame.to_photo_px(np.array([a, b]))
                draw.line([tuple(p[0]), tuple(p[1])], fill=colour, width=line_w)

            seg((-span_x, 0.0), (span_x, 0.0), _IPL)
            seg((0.0, top), (0.0, bottom), _MIDLINE)
            for idx, colour in ((COMMISSURE_RIGHT, _RIGHT), (COMMISSURE_LEFT, _LEFT)):
                cx, cy = framed[idx]
                seg((0.0, cy), (cx * 1.25, cy), colour)
                p = pts[idx]
                rr = r * 3
                draw.ellipse([p[0] - rr, p[1] - rr, p[0] + rr, p[1] + rr], outline=colour, width=line_w)
            for idx in (RIGHT_IRIS_CENTRE, LEFT_IRIS_CENTRE):
                p = pts[idx]
                rr = r * 2
                draw.ellipse([p[0] - rr, p[1] - rr, p[0] + rr, p[1] + rr], fill=_IPL)

    m = result.metrics or {}
    # Scores from other engine versions may lack a number: write what there is.
    if "commissure_height_right_mm" in m and "commissure_height_left_mm" in m:
        lines.append(
            f"commissure height R {m['commissure_height_right_mm']:.1f} mm, L {m['commissure_height_left_mm']:.1f} mm"
        )
    if "commissure_height_deviation_mm" in m:
        lines.append(f"deviation {m['commissure_height_deviation_mm']:.2f} mm")
    if "asymmetry_index" in m:
        lines.append(f"asymmetry index {m['asymmetry_index']:.1f} %")
    if result.mm_per_px:
        lines.append(f"{result.mm_per_px:.3f} mm/px")
    lines.append(f"engine {result.engine_version}")
    if result.reason:
        lines.append(result.reason)

    pad = 6
    text = "\n".join(_wrap(draw, line, font, width - 2 * pad) for line in lines)
    box = draw.multiline_textbbox((0, 0), text, font=font)
    draw.rectangle([0, 0, box[2] + 2 * pad, box[3] + 2 * pad], fill=_TEXT_BG)
    draw.multiline_text((pad, pad), text, fill=(255, 255, 255), font=font)
    return image


def crop_to_face(rgb: np.ndarray, result, margin: float = 0.45):
    """The part of ``rgb`` around the face, with ``result`` moved into it.

    A quality check is about the face, which may fill a tenth of a phone photo;
    the overlay drawn on this crop shows the landmarks at a useful size. Returns
    ``(rgb, result)`` unchanged when there are no landmarks.
    """
    if result.landmarks is None or not result.image_size:
        return rgb, result
    height, width = rgb.shape[:2]
    scale = np.array([width / result.image_size[0], height / result.image_size[1]])
    pts = np.asarray(result.landmarks, dtype=np.float64)
    low, high = pts.min(axis=0), pts.max(axis=0)
    pad = (high - low) * margin
    x0, y0 = np.floor(np.maximum(low - pad, 0) * scale).astype(int)
    x1, y1 = np.ceil(np.minimum(high + pad, result.image_size) * scale).astype(int)
    offset = np.array([x0, y0]) / scale
    cropped = dataclasses.replace(
        result,
        landmarks=pts - offset,
        image_size=(int(round((x1 - x0) / scale[0])), int(round((y1 - y0) / scale[1]))),
    )
    return rgb[y0:y1, x0:x1], cropped


def _wrap(draw: ImageDraw.ImageDraw, line: str, font, max_width: float) -> str:
    """Break ``line`` at spaces so that it fits ``max_width`` pixels."""
    words = line.split(" ")
    out, current = [], ""
    for word in words:
        candidate = f"{current} {word}".strip()
        if current and draw.textlength(candidate, font=font) > max_width:
            out.append(current)
            current = word
        else:
            current = candidate
    out.append(current)
    return "\n".join(out)
