"""The public Python entry points; each composes the stages (the CLI, web UI and server call these)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from .media import load_image, save_image
from .media.files import check_output
from .options import AnalyzeOptions
from .types import FaceDetection, Subject


@dataclass(frozen=True)
class InspectReport:
    """What ANALYZE found in a portrait: the Subject (chosen face), every face found, and the preview path."""

    subject: Subject
    faces: list[FaceDetection]
    preview: Path | None

    def summary(self) -> str:
        """A few human-readable lines: faces, head pose, crop."""
        s = self.subject
        h, w = s.image.shape[:2]
        lines = [f"{s.source or 'image'}: {w} x {h} pixels, {len(self.faces)} face(s) found (largest first)"]
        for i, f in enumerate(self.faces):
            mark = "*" if f is s.face else " "
            x0, y0, x1, y1 = (float(v) for v in f.box)
            lines.append(f" {mark} face {i}: box ({x0:.0f}, {y0:.0f})-({x1:.0f}, {y1:.0f}), "
                         f"{x1 - x0:.0f} px wide, score {f.score:.2f}")
        p = s.pose
        lines.append(f"pose: yaw {p.yaw_deg:+.1f} deg, pitch {p.pitch_deg:+.1f} deg, roll {p.roll_deg:+.1f} deg; "
                     f"scale {p.scale:.2f} px/unit; centre ({p.translation[0]:.0f}, {p.translation[1]:.0f}) px")
        centre = s.crop.to_full([(s.crop.size - 1) / 2] * 2)
        side = s.crop.size / s.crop.scale
        m = s.crop.matrix
        angle = math.degrees(math.atan2(m[0, 1], m[0, 0]))
        lines.append(f"crop: {side:.0f} px square centred at ({centre[0]:.0f}, {centre[1]:.0f}), "
                     f"rotated {angle:+.1f} deg, sampled at {s.crop.size} x {s.crop.size}")
        lines.append(f"landmarks: 468-point mesh + 2 irises; inter-ocular distance {s.landmarks.inter_ocular:.1f} px")
        if self.preview is not None:
            lines.append(f"preview: {self.preview}")
        return "\n".join(lines)


def inspect_portrait(
    path: str | os.PathLike,
    options: AnalyzeOptions | None = None,
    preview: str | os.PathLike | None = None,
    crop_size: int = 512,
) -> InspectReport:
    """Analyze a portrait and, if ``preview`` is given, draw the mesh, irises, pose axes and crop box on it."""
    from .face import find_faces, subject_of
    from .face.draw import preview as draw_preview

    out = check_output(preview, "preview") if preview is not None else None
    image = load_image(path)
    found = find_faces(image)
    subject = subject_of(image, found, options or AnalyzeOptions(), crop_size, source=str(path))
    faces = [f for f, _ in found]
    if out is not None:
        save_image(out, draw_preview(subject, [f for f in faces if f is not subject.face]))
    return InspectReport(subject, faces, out)
