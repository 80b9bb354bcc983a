"""Projects, their tokens and buckets, and the permission rules every call goes through."""

from __future__ import annotations

import itertools
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kbc_sync.local.protocol import ApiFailure, bad_request, format_date, php_map

LEVELS = {"read": 1, "write": 2, "manage": 3}
BUCKET_ID = re.compile(r"^(in|out)\.c-([A-Za-z0-9_-]+)$")
BUCKET_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass
class Token:
    id: str
    secret: str
    project_id: int
    master: bool
    bucket_permissions: dict[str, str]
    can_manage_buckets: bool
    description: str
    created: datetime
    refreshed: datetime
    can_manage_tokens: bool = False

    def summary(self) -> dict[str, Any]:
        """The `creatorToken` object jobs, files and snapshots carry."""
        return {"id": int(self.id), "description": self.description}


@dataclass
class Bucket:
    id: str
    stage: str
    name: str
    description: str
    created: datetime
    last_change: datetime | None = None


@dataclass
class Project:
    id: int
    name: str
    created: datetime
    store: Any
    buckets: dict[str, Bucket] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)


class Accounts:
    """Every project, token and bucket of one stack; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._project_ids = itertools.count(1)
        self._token_ids = itertools.count(101)
        self.projects: dict[int, Project] = {}
        self._tokens: dict[str, Token] = {}

    def add_project(self, name: str, open_store: Callable[[int], Any], now: datetime) -> Project:
        with self._lock:
            project_id = next(self._project_ids)
            project = Project(project_id, name, now, open_store(project_id))
            self.projects[project.id] = project
            return project

    def project(self, project_id: int) -> Project:
        try:
            return self.projects[project_id]
        except KeyError:
            raise ValueError(f"No project with id {project_id}; add it first.") from None

    def add_token(
        self,
        project_id: int,
        *,
        master: bool,
        bucket_permissions: dict[str, str],
        can_manage_buckets: bool,
        description: str,
        now: datetime,
        can_manage_tokens: bool = False,
    ) -> Token:
        project = self.project(project_id)
        for bucket_id, level in bucket_permissions.items():
            if level not in LEVELS:
                raise ValueError(
                    f"Permission {level!r} for {bucket_id}: use read, write or manage."
                )
            if bucket_id not in project.buckets:
                raise ValueError(f"Bucket {bucket_id} does not exist in project {project_id}.")

        with self._lock:
            token_id = str(next(self._token_ids))
            secret = f"{project_id}-{token_id}-{secrets.token_hex(20)}"
            token = Token(
                token_id, secret, project_id, master, dict(bucket_permissions),
                can_manage_buckets, description, now, now, can_manage_tokens,
            )  # fmt: skip
            self._tokens[secret] = token
            return token

    def refresh_token(self, secret: str, now: datetime) -> Token:
        """Give the token a new secret; the old one stops working at once."""
        with self._lock:
            token = self._tokens.pop(secret, None)
            if token is None:
                raise ValueError("Unknown token; it may have been refreshed already.")
            token.secret = f"{token.project_id}-{token.id}-{secrets.token_hex(20)}"
            token.refreshed = now
            self._tokens[token.secret] = token
            return token

    def authenticate(self, secret: str | None) -> Token:
        if not secret:
            raise ApiFailure(401, "", "Access token must be set")
        with self._lock:
            token = self._tokens.get(secret)
        if token is None:
            raise ApiFailure(401, "storage.tokenInvalid", "Invalid access token")
        return token

    def create_bucket(
        self, project_id: int, stage: str, name: str, description: str, now: datetime
    ) -> Bucket:
        if stage not in ("in", "out"):
            raise bad_request(f'Invalid stage "{stage}": use "in" or "out".')
        if not BUCKET_NAME.match(name):
            raise bad_request(
                f'Invalid bucket name "{name}": only alphanumeric characters, dash and underscore '
                "are allowed.",
                "storage.buckets.validation",
            )

        project = self.project(project_id)
        bucket_id = f"{stage}.c-{name}"
        with project.lock:
            if bucket_id in project.buckets:
                raise ApiFailure(
                    400, "storage.buckets.alreadyExists", f"The bucket {bucket_id} already exists."
                )
            bucket = Bucket(bucket_id, stage, f"c-{name}", description, now)
            project.buckets[bucket_id] = bucket
            return bucket

    def drop_bucket(self, project_id: int, bucket_id: str) -> None:
        project = self.project(project_id)
        with project.lock:
            project.buckets.pop(bucket_id, None)
        with self._lock:
            for token in self._tokens.values():
                if token.project_id == project_id:
                    token.bucket_permissions.pop(bucket_id, None)


def permission(project: Project, token: Token, bucket_id: str) -> str | None:
    """The level the token holds on a bucket: master and bucket-managing tokens hold `manage`."""
    if token.master or token.can_manage_buckets:
        return "manage"
    return token.bucket_permissions.get(bucket_id)


def require_bucket(project: Project, token: Token, bucket_id: str, level: str) -> Bucket:
    """Return the bucket if it exists and the token holds at least `level` on it."""
    bucket = project.buckets.get(bucket_id)
    if bucket is None:
        raise ApiFailure(404, "storage.buckets.notFound", f"Bucket {bucket_id} not found")

    held = permission(project, token, bucket_id)
    if held is None or LEVELS[held] < LEVELS[level]:
        raise ApiFailure(
            403,
            "accessDenied",
            f"You don't have access to the resource: the token needs {level} permission "
            f"on the bucket {bucket_id}.",
        )
    return bucket


def split_table_id(table_id: str) -> tuple[str, str]:
    bucket_id, dot, name = table_id.rpartition(".")
    if not dot or not BUCKET_ID.match(bucket_id) or not name:
        raise ApiFailure(404, "storage.tables.notFound", f"The table {table_id} was not found.")
    return bucket_id, name


def visible_permissions(project: Project, token: Token) -> dict[str, str]:
    if token.master or token.can_manage_buckets:
        return {bucket_id: "manage" for bucket_id in project.buckets}
    return {b: p for b, p in token.bucket_permissions.items() if b in project.buckets}


def verify_json(project: Project, token: Token, base_url: str) -> dict[str, Any]:
    """The `tokens/verify` answer; `owner.id` is an int, as the Go and Python clients read it."""
    can_all = token.master
    body: dict[str, Any] = {
        "id": token.id,
        "created": format_date(token.created),
        "refreshed": format_date(token.refreshed),
        "description": token.description,
        "uri": f"{base_url}/v2/storage/tokens/{token.id}",
        "isMasterToken": token.master,
        "canManageBuckets": token.master or token.can_manage_buckets,
        "canManageTokens": token.master or token.can_manage_tokens,
        "canReadAllFileUploads": can_all,
        "canPurgeTrash": can_all,
        "expires": None,
        "isExpired": False,
        "isDisabled": False,
        "token": token.secret,
        "bucketPermissions": php_map(visible_permissions(project, token)),
        "creatorToken": {"id": 1, "description": "local stack"},
        "componentAccess": [],
        "organization": {"id": 1},
        "owner": owner_json(project),
    }
    if token.master:
        body["admin"] = {
            "id": 1, "name": "Local Admin", "features": [], "isOrganizationMember": True,
            "role": "admin", "isActivated": True,
        }  # fmt: skip
    return body


def owner_json(project: Project) -> dict[str, Any]:
    return {
        "name": project.name,
        "id": project.id,
        "type": "production",
        "region": "us-east-1",
        "created": format_date(project.created),
        "expires": None,
        "features": [],
        "dataSizeBytes": 0,
        "rowsCount": 0,
        "hasSnowflake": True,
        "defaultBackend": "snowflake",
        "limits": {"storage.jobsParallelism": {"name": "storage.jobsParallelism", "value": 10}},
        "metrics": [],
        "isDisabled": False,
        "fileStorageProvider": "aws",
    }
