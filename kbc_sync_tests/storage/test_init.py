from __future__ import annotations

import kbc_sync.storage
import kbc_sync.storage.files


def test_storage_exported_members_pinned() -> None:
    assert kbc_sync.storage.__all__ == [
        "STACKS",
        "MaskingFilter",
        "StorageClient",
        "mask",
        "new_run_id",
        "register_secret",
        "resolve_stack_url",
    ]


def test_files_exported_members_pinned() -> None:
    assert kbc_sync.storage.files.__all__ == [
        "DEFAULT_CHUNK_SIZE",
        "PROVIDERS",
        "FileStore",
        "manifest_body",
        "open_file_store",
        "parse_manifest",
    ]
