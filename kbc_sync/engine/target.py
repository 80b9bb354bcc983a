"""The target token check: a token that may write to one bucket, and nothing else.

The rules are those of Keboola's own Storage writer (`keboola.wr-storage`): the token's
`bucketPermissions` hold exactly one bucket, with exactly the permission `write`. kbc_sync adds
that the bucket is the configured one and that master tokens and tokens that may manage buckets
are refused, so that a copy can never touch anything in the target project but that bucket.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from kbc_sync.errors import CopyError

logger = logging.getLogger(__name__)

HOW_TO_MAKE_A_TOKEN = (
    "Create a proper token in the target project: Keboola UI > Settings > API Tokens > "
    "New Token, give it no other access, under Buckets choose the bucket {bucket} with "
    "permission Write, and put the new token in the environment variable the configuration names."
)


@dataclass(frozen=True)
class TargetInfo:
    """The target project and bucket a verified token writes to.

    Attributes:
        project_id: the target project's id.
        project_name: the target project's name.
        bucket_id: the one bucket the token may write to.
        stack_url: the stack URL of the target project.
    """

    project_id: str
    project_name: str
    bucket_id: str
    stack_url: str


def verify_target(target: Any, bucket_id: str) -> TargetInfo:
    """Check that the target token may write to `bucket_id` and to nothing else.

    Args:
        target: the `StorageClient` of the target project.
        bucket_id: the configured target bucket, e.g. `in.c-crm-copy`.

    Returns:
        The target project and bucket.

    Raises:
        CopyError: the token has other or more rights than `write` on that one bucket (a
            deleted bucket takes its permission with it, so this covers a missing bucket too).
            Nothing has been written when this is raised.
        TokenInvalidError: the token is not valid on that stack.
    """
    token = target.verify_token()
    permissions = _permissions(token.get("bucketPermissions"))
    owner = token.get("owner") or {}
    project = f'"{owner.get("name", "?")}" ({owner.get("id", "?")})'
    problem = _token_problem(token, permissions, bucket_id)
    if problem:
        raise CopyError(
            f"The target token of project {project} cannot be used to write to bucket "
            f"{bucket_id}: {problem} It has {_describe(token, permissions)}. "
            + HOW_TO_MAKE_A_TOKEN.format(bucket=bucket_id)
        )

    logger.debug("Target token may write to %s in project %s", bucket_id, project)
    return TargetInfo(
        project_id=str(owner.get("id", "")),
        project_name=str(owner.get("name", "")),
        bucket_id=bucket_id,
        stack_url=_stack_url(target),
    )


def _token_problem(token: dict[str, Any], permissions: dict[str, str], bucket_id: str) -> str:
    if token.get("isMasterToken"):
        return "it is a master token, which may change every bucket of the project."
    if token.get("canManageBuckets"):
        return "it may manage buckets, so it could change more than the target bucket."
    if token.get("canManageTokens"):
        return "it may manage tokens, so it could make itself a token with more rights."
    if len(permissions) != 1:
        return "a target token must have write permission to a single bucket only."
    (granted_bucket, permission), *_ = permissions.items()
    if granted_bucket != bucket_id:
        return f"its one bucket is {granted_bucket}, not the configured {bucket_id}."
    if permission != "write":
        return f'it must have only the permission "write" on that bucket, not "{permission}".'
    return ""


def _describe(token: dict[str, Any], permissions: dict[str, str]) -> str:
    if token.get("isMasterToken"):
        return "every permission (master token)"
    granted = ", ".join(f"{bucket}: {level}" for bucket, level in sorted(permissions.items()))
    rights = (
        f"bucket permissions {{{granted}}}"
        if granted
        else "no bucket permissions (if the bucket was deleted, its permission went with it: "
        "create the bucket again in Storage first)"
    )
    if token.get("canManageBuckets"):
        rights += " and may manage buckets"
    if token.get("canManageTokens"):
        rights += " and may manage tokens"
    return rights


def _permissions(value: object) -> dict[str, str]:
    # Storage sends an empty map as `[]` (PHP serialisation).
    if isinstance(value, dict):
        return {str(key): str(level) for key, level in value.items()}
    return {}


def _stack_url(client: Any) -> str:
    return str(getattr(client, "url", "") or getattr(client, "stack_url", ""))
