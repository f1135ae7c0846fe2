"""Pydantic models of the REST API's requests and responses, shared by every endpoint group (and
so by the OpenAPI schema at ``/api/v1/openapi.json``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from modelreuse.server.accounts import SCOPES

UploadState = Literal["pending", "validating", "verified", "rejected"]


class Card(BaseModel):
    """A learnware's card (:meth:`Dock.card <modelreuse.dock.Dock.card>` fields) plus who uploaded
    it and where it stands among its family's versions."""

    id: str
    name: str
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    task_type: str
    modality: str
    owner: str
    licence: str
    n_features: int
    encoder: str | None = None
    feature_space: str
    spec_kinds: list[str] = Field(default_factory=list)
    created_at: str | None = None
    uploaded_by: str | None = Field(None, description="the account that uploaded it (None: added outside the server)")
    version: int = 1
    family: str = Field(description="id of the family's first version")
    superseded_by: str | None = Field(None, description="id of the newer version; None if this is the latest")


class CardPage(BaseModel):
    items: list[Card]
    total: int
    limit: int
    offset: int


class VersionInfo(BaseModel):
    id: str
    version: int
    created_at: str | None = None


class LearnwareDetail(Card):
    manifest: dict[str, Any]
    versions: list[VersionInfo]


class UploadStatus(BaseModel):
    """Where an upload stands: ``pending`` (queued), ``validating`` (in the sandbox), ``verified``
    (stored as ``learnware_id``) or ``rejected`` (``error_type`` and ``reason`` say why)."""

    upload_id: str
    status: UploadState
    reason: str | None = None
    error_type: str | None = None
    learnware_id: str | None = None
    user: str
    replaces: str | None = None
    created_at: str
    finished_at: str | None = None


class Me(BaseModel):
    user: str
    scopes: list[str]
    is_admin: bool


class TokenRequest(BaseModel):
    scopes: list[Literal[SCOPES]] = Field(default_factory=lambda: ["read"], min_length=1, max_length=3)  # type: ignore[valid-type]
    label: str = Field("", max_length=200)


class TokenCreated(BaseModel):
    token: str = Field(description="shown once; only its SHA-256 is stored")
    user: str
    scopes: list[str]


class RouteMetrics(BaseModel):
    count: int
    errors: int = Field(description="answers with status >= 400")
    p50_ms: float
    p99_ms: float


class Metrics(BaseModel):
    routes: dict[str, RouteMetrics] = Field(description="per 'METHOD /path template', this process since it started")
    uploads: dict[str, int] = Field(description="uploads by status, all processes (from the database)")
