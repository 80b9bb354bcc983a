from __future__ import annotations

import pytest

from kbc_sync.errors import ConfigError
from kbc_sync.storage.stacks import STACKS, resolve_stack_url


@pytest.mark.parametrize(
    ("region", "url"),
    [
        ("us-east-1", "https://connection.keboola.com"),
        ("eu-central-1", "https://connection.eu-central-1.keboola.com"),
        ("north-europe", "https://connection.north-europe.azure.keboola.com"),
        ("europe-west3", "https://connection.europe-west3.gcp.keboola.com"),
        ("us-east4", "https://connection.us-east4.gcp.keboola.com"),
    ],
)
def test_resolve_stack_url_region_gives_multi_tenant_url(region: str, url: str) -> None:
    assert resolve_stack_url(region) == url


def test_resolve_stack_url_five_regions_known() -> None:
    assert len(STACKS) == 5


def test_resolve_stack_url_trailing_slash_and_api_root_dropped() -> None:
    assert resolve_stack_url("https://connection.acme.keboola.com/") == (
        "https://connection.acme.keboola.com"
    )
    assert resolve_stack_url("http://127.0.0.1:8123/v2/storage/") == "http://127.0.0.1:8123"


def test_resolve_stack_url_local_stack_url_kept() -> None:
    assert resolve_stack_url("http://127.0.0.1:49152") == "http://127.0.0.1:49152"


def test_resolve_stack_url_unknown_region_raises_config_error() -> None:
    with pytest.raises(ConfigError, match=r"'mars-1' is neither a Keboola region.*us-east-1"):
        resolve_stack_url("mars-1")


def test_resolve_stack_url_credentials_in_url_rejected_without_echoing_them() -> None:
    with pytest.raises(ConfigError, match="must not carry") as info:
        resolve_stack_url("https://user:secret@connection.keboola.com")

    assert "secret" not in str(info.value)
