"""The allocator setting `kbc-sync local` applies to its own process."""

from __future__ import annotations

import platform

import pytest

from kbc_sync.local.allocator import return_large_blocks


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the setting exists on glibc only")
def test_return_large_blocks_on_glibc_sets_the_threshold() -> None:
    assert return_large_blocks() is True


def test_return_large_blocks_with_the_env_variable_leaves_it_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "131072")

    assert return_large_blocks() is False
