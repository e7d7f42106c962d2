from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from coordinator.bom.archive import ArchiveLimits, extract_archive
from coordinator.bom.package import open_package
from protocol.errors import InvalidInput, PayloadTooLarge
from tests.support.packages import box_stl, tar_gz, tar_members, write_package, zip_bytes

LIMITS = ArchiveLimits(max_unpacked_bytes=1_000_000, max_members=50)


def extract(tmp_path: Path, name: str, data: bytes, limits: ArchiveLimits = LIMITS) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    source = tmp_path / name
    source.write_bytes(data)
    target = tmp_path / "out"
    target.mkdir()
    extract_archive(source, target, limits)
    return target


def test_package_opens_from_tar_gz_with_a_top_level_folder(tmp_path: Path) -> None:
    folder = write_package(tmp_path / "src" / "machine-1.0.0")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(folder, arcname="machine-1.0.0")
    source = tmp_path / "machine.tar.gz"
    source.write_bytes(buffer.getvalue())
    with open_package(source) as package:
        assert package.ok and package.info.slug == "test-machine"
        unpacked = package.path
    assert not unpacked.exists(), "the temporary folder is removed afterwards"


def test_zip_with_parent_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="outside the package"):
        extract(tmp_path, "evil.zip", zip_bytes({"../../etc/evil": b"x"}))
    assert not (tmp_path.parent / "etc").exists()


def test_absolute_member_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="outside the package"):
        extract(tmp_path, "abs.zip", zip_bytes({"/tmp/abs": b"x"}))


def test_zip_bomb_is_stopped_by_the_real_unpacked_size(tmp_path: Path) -> None:
    # 5 MB of zeros compresses to a few KB; the header sizes are not trusted, the bytes are counted.
    data = zip_bytes({"design.toml": b"", "big.bin": b"\0" * 5_000_000})
    assert len(data) < 50_000
    with pytest.raises(PayloadTooLarge, match="unpacks to more than"):
        extract(tmp_path, "bomb.zip", data)


def test_member_count_limit(tmp_path: Path) -> None:
    data = zip_bytes({f"f{i}.txt": b"x" for i in range(60)})
    with pytest.raises(PayloadTooLarge, match="more than 50 members"):
        extract(tmp_path, "many.zip", data)


def test_symlink_in_tar_is_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        link = tarfile.TarInfo("design.toml")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        archive.addfile(link)
    with pytest.raises(InvalidInput, match="is a link"):
        extract(tmp_path, "link.tar.gz", buffer.getvalue())


def test_symlink_in_zip_is_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("files/link.stl")
        info.external_attr = 0o120777 << 16
        archive.writestr(info, "/etc/passwd")
    with pytest.raises(InvalidInput, match="symbolic link"):
        extract(tmp_path, "link.zip", buffer.getvalue())


def test_not_an_archive(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="not a readable zip archive"):
        extract(tmp_path / "a", "broken.zip", b"this is not a zip")
    with pytest.raises(InvalidInput, match="use .zip or .tar.gz"):
        extract(tmp_path / "b", "design.rar", b"x")


def test_tar_gz_round_trip_of_a_package(tmp_path: Path) -> None:
    folder = write_package(tmp_path / "pkg")
    target = extract(tmp_path, "pkg.tar.gz", tar_gz(folder))
    assert (target / "design.toml").read_bytes() == (folder / "design.toml").read_bytes()


def written(target: Path) -> int:
    return sum(p.stat().st_size for p in target.rglob("*") if p.is_file())


BOMB_LIMITS = ArchiveLimits(max_unpacked_bytes=1_000_000_000, max_members=50, ratio_grace_bytes=1_000_000)


@pytest.mark.parametrize(("name", "pack"), [("bomb.zip", zip_bytes), ("bomb.tar.gz", tar_members)])
def test_a_bomb_is_refused_by_its_ratio_before_a_byte_is_written(tmp_path: Path, name: str, pack) -> None:  # type: ignore[no-untyped-def]
    # 50 MB of zeros in a few tens of KB: far under the total limit, far over 50 unpacked bytes per byte
    data = pack({"design.toml": b"[design]\n", "fill.bin": b"\0" * 50_000_000})
    with pytest.raises(PayloadTooLarge, match="zip bomb") as refused:
        extract(tmp_path, name, data, BOMB_LIMITS)
    assert refused.value.details["limit"] == "limits.max_ratio" and refused.value.details["found"] > 100
    assert written(tmp_path / "out") <= len(b"[design]\n")


def test_well_compressing_real_files_pass_the_ratio(tmp_path: Path) -> None:
    # an ASCII STL compresses about 15:1, as real design files up to about 18:1 do
    import trimesh

    stl = trimesh.creation.icosphere(subdivisions=5).export(file_type="stl_ascii").encode()
    limits = ArchiveLimits(max_unpacked_bytes=1_000_000_000, max_members=50, ratio_grace_bytes=100_000)
    target = extract(tmp_path, "ok.zip", zip_bytes({"design.toml": b"", "part.stl": stl}), limits)
    assert (target / "part.stl").read_bytes() == stl


def test_a_member_over_the_triangle_limit_stops_the_extraction(tmp_path: Path) -> None:
    from coordinator.mesh.counting import stream_counter

    stl = box_stl()  # 12 triangles, binary
    source = tmp_path / "mesh.zip"
    source.write_bytes(zip_bytes({"design.toml": b"", "files/box.stl": stl}))
    (tmp_path / "out").mkdir()
    with pytest.raises(PayloadTooLarge, match="12 triangles, more than the limit of 10"):
        extract_archive(source, tmp_path / "out", LIMITS, watch=lambda n, size: stream_counter(n, size, 10))


def test_two_members_for_one_path_are_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive, pytest.warns(UserWarning, match="Duplicate name"):
        archive.writestr("design.toml", b"[design]\nslug = 'good'\n")
        archive.writestr("design.toml", b"[design]\nslug = 'evil'\n")
    with pytest.raises(InvalidInput, match="appears twice"):
        extract(tmp_path / "a", "twice.zip", buffer.getvalue())
    with pytest.raises(InvalidInput, match="appears twice"):
        extract(tmp_path / "b", "case.tar.gz", tar_members({"Design.toml": b"", "design.toml": b""}))


@pytest.mark.parametrize("bad", ["files/\u202egpj.stl", "files/\x1b[2Jx.stl", "files/tab\there.stl"])
def test_unprintable_member_names_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(InvalidInput, match="member name"):
        extract(tmp_path, "names.tar.gz", tar_members({"design.toml": b"", bad: b"x"}))


def test_a_folder_listed_twice_is_fine(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for _ in range(2):
            folder = tarfile.TarInfo("files")
            folder.type = tarfile.DIRTYPE
            archive.addfile(folder)
        archive.addfile(tarfile.TarInfo("design.toml"), io.BytesIO(b""))
    assert (extract(tmp_path, "folders.tar.gz", buffer.getvalue()) / "files").is_dir()
