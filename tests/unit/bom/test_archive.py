from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from coordinator.bom.archive import ArchiveLimits, extract_archive
from coordinator.bom.package import open_package
from protocol.errors import InvalidInput, PayloadTooLarge
from tests.support.packages import tar_gz, write_package, zip_bytes

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
