"""The target token check: write on the configured bucket only, refused otherwise before writing."""

from __future__ import annotations

import pytest

from kbc_sync.engine import CopySpec, copy_table, verify_target
from kbc_sync.errors import CopyError, TokenInvalidError
from kbc_sync_tests.engine.conftest import TARGET_BUCKET, Projects, _client, target_jobs


def _target_with(projects: Projects, **token: object) -> object:
    secret = projects.stack.add_token(projects.target_project, **token)
    return _client(projects.stack, secret, "KBC_TARGET_TOKEN")


def test_verify_target_write_token_on_the_bucket_returns_project_and_bucket(
    projects: Projects,
) -> None:
    info = verify_target(projects.target, TARGET_BUCKET)

    assert info.bucket_id == TARGET_BUCKET
    assert info.project_id == str(projects.target_project)
    assert info.project_name.startswith("Target ")
    assert info.stack_url == projects.stack.url


def test_verify_target_master_token_is_refused_with_how_to_fix(projects: Projects) -> None:
    with pytest.raises(CopyError, match=r"master token.*Settings > API Tokens.*in\.c-copy"):
        verify_target(projects.target_admin, TARGET_BUCKET)


@pytest.mark.parametrize("level", ["read", "manage"])
def test_verify_target_other_permission_is_refused_naming_it(
    projects: Projects, level: str
) -> None:
    target = _target_with(projects, bucket_permissions={TARGET_BUCKET: level})

    with pytest.raises(CopyError, match=rf'only the permission "write".*not "{level}"') as info:
        verify_target(target, TARGET_BUCKET)

    assert f"in.c-copy: {level}" in str(info.value)


def test_verify_target_two_buckets_are_refused_listing_both(projects: Projects) -> None:
    projects.stack.create_bucket(projects.target_project, "in.c-other")
    target = _target_with(
        projects, bucket_permissions={TARGET_BUCKET: "write", "in.c-other": "write"}
    )

    with pytest.raises(CopyError, match="single bucket only") as info:
        verify_target(target, TARGET_BUCKET)

    assert "in.c-copy: write, in.c-other: write" in str(info.value)


def test_verify_target_token_for_another_bucket_is_refused(projects: Projects) -> None:
    projects.stack.create_bucket(projects.target_project, "in.c-other")
    target = _target_with(projects, bucket_permissions={"in.c-other": "write"})

    with pytest.raises(CopyError, match=r"its one bucket is in\.c-other, not the configured"):
        verify_target(target, TARGET_BUCKET)


def test_verify_target_token_without_buckets_is_refused(projects: Projects) -> None:
    target = _target_with(projects, bucket_permissions={})

    with pytest.raises(CopyError, match="no bucket permissions"):
        verify_target(target, TARGET_BUCKET)


def test_verify_target_token_that_manages_buckets_is_refused(projects: Projects) -> None:
    target = _target_with(
        projects, bucket_permissions={TARGET_BUCKET: "write"}, can_manage_buckets=True
    )

    with pytest.raises(CopyError, match="may manage buckets"):
        verify_target(target, TARGET_BUCKET)


def test_verify_target_token_that_manages_tokens_is_refused(projects: Projects) -> None:
    target = _target_with(
        projects, bucket_permissions={TARGET_BUCKET: "write"}, can_manage_tokens=True
    )

    with pytest.raises(CopyError, match="may manage tokens, so it could make itself") as info:
        verify_target(target, TARGET_BUCKET)

    assert "and may manage tokens" in str(info.value)


def test_verify_target_deleted_bucket_says_to_create_it(projects: Projects) -> None:
    projects.stack.create_bucket(projects.target_project, "in.c-missing")
    target = _target_with(projects, bucket_permissions={"in.c-missing": "write"})
    projects.target_admin._call("DELETE", "buckets/in.c-missing", what="bucket")

    with pytest.raises(CopyError, match=r"bucket was deleted.*create the bucket again"):
        verify_target(target, "in.c-missing")


def test_verify_target_refreshed_token_raises_token_invalid(projects: Projects) -> None:
    projects.stack.refresh_token(projects.target_token)

    with pytest.raises(TokenInvalidError, match="KBC_TARGET_TOKEN"):
        verify_target(projects.target, TARGET_BUCKET)


def test_copy_table_master_target_token_writes_nothing(projects: Projects) -> None:
    source_id = projects.seed("t", ["id"], [["1"]], primary_key=["id"])
    spec = CopySpec(source_id, TARGET_BUCKET, "t", "replace")

    with pytest.raises(CopyError, match="master token"):
        copy_table(spec, source=projects.source, target=projects.target_admin)

    assert target_jobs(projects) == []
    assert projects.target_admin.find_table(spec.target_table_id) is None
