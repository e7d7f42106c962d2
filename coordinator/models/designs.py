"""Designs, their immutable versions, parts, BOM edges and content-addressed files."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from coordinator.models.base import created_at_field, json_field


class Design(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(index=True, unique=True, max_length=64)
    name: str = Field(max_length=200)
    created_at: datetime = created_at_field()


class DesignMaintainer(SQLModel, table=True):
    """Someone who may publish versions of a design: its first publisher, and whoever they add."""

    __tablename__ = "design_maintainer"
    __table_args__ = (UniqueConstraint("design_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    design_id: int = Field(foreign_key="design.id", index=True)
    name: str = Field(max_length=128)
    added_by: str = Field(default="", max_length=128)
    added_at: datetime = created_at_field()


class DesignVersion(SQLModel, table=True):
    __tablename__ = "design_version"
    __table_args__ = (UniqueConstraint("design_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    design_id: int = Field(foreign_key="design.id", index=True)
    version: str = Field(max_length=64)
    name: str = Field(max_length=200)
    description: str = ""
    licenses: list[str] = json_field(list)
    authors: list[str] = json_field(list)
    lineage: dict[str, Any] = json_field(dict)
    root: str = Field(max_length=128)
    manifest: dict[str, Any] = json_field(dict)
    content_sha256: str = Field(max_length=64)
    published_by: str = Field(default="", max_length=128)
    published_at: datetime = created_at_field()


class Part(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("version_id", "part_id"),)

    id: int | None = Field(default=None, primary_key=True)
    version_id: int = Field(foreign_key="design_version.id", index=True)
    part_id: str = Field(max_length=128)
    kind: str = Field(max_length=16)
    name: str = Field(max_length=200)
    process: str | None = Field(default=None, max_length=32)
    material: str | None = Field(default=None, max_length=64)
    unit: str = Field(default="pcs", max_length=16)
    file_path: str | None = None
    file_sha256: str | None = Field(default=None, max_length=64, index=True)
    data: dict[str, Any] = json_field(dict)


class BomEdge(SQLModel, table=True):
    __tablename__ = "bom_edge"

    id: int | None = Field(default=None, primary_key=True)
    version_id: int = Field(foreign_key="design_version.id", index=True)
    parent: str = Field(max_length=128)
    child: str = Field(max_length=128)
    quantity: float


class StoredFile(SQLModel, table=True):
    __tablename__ = "stored_file"

    sha256: str = Field(primary_key=True, max_length=64)
    size: int
    created_at: datetime = created_at_field()


class VersionFile(SQLModel, table=True):
    __tablename__ = "version_file"
    __table_args__ = (UniqueConstraint("version_id", "path"),)

    id: int | None = Field(default=None, primary_key=True)
    version_id: int = Field(foreign_key="design_version.id", index=True)
    path: str
    sha256: str = Field(foreign_key="stored_file.sha256", max_length=64, index=True)


class MeshAnalysis(SQLModel, table=True):
    """Analysis of a mesh file, cached by content hash (the same file is never analysed twice)."""

    __tablename__ = "mesh_analysis"

    sha256: str = Field(primary_key=True, max_length=64)
    report: dict[str, Any] = json_field(dict)
