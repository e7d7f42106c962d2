"""Every mesh format trimesh reads works after a plain install: 3MF needs lxml, textured OBJ needs Pillow."""

from __future__ import annotations

import zipfile

import numpy as np
import trimesh
from PIL import Image

from coordinator.mesh.analysis import analyze_mesh


def test_3mf_is_analysed(tmp_path):
    path = tmp_path / "box.3mf"
    path.write_bytes(trimesh.creation.box((10, 20, 30)).export(file_type="3mf"))
    assert zipfile.is_zipfile(path)

    report = analyze_mesh(path)

    assert report.volume_mm3 == 6000.0 and report.watertight


def test_textured_obj_is_analysed(tmp_path):
    box = trimesh.creation.box((10, 10, 10))
    texture = Image.fromarray(np.full((4, 4, 3), 200, dtype=np.uint8))
    uv = np.zeros((len(box.vertices), 2))
    box.visual = trimesh.visual.TextureVisuals(uv=uv, image=texture)
    box.export(tmp_path / "box.obj")
    (png,) = tmp_path.glob("*.png")  # the texture, written through Pillow
    assert Image.open(png).size == (4, 4)

    report = analyze_mesh(tmp_path / "box.obj")

    assert round(report.volume_mm3) == 1000
