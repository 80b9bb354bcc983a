"""Keboola stacks: region names of the multi-tenant stacks, or any stack URL.

The five multi-tenant stacks are the ones Keboola's developer documentation lists under
"Stacks and Endpoints". Single-tenant stacks (`https://connection.<customer>.keboola.com`) and
the local Storage stack (`http://127.0.0.1:<port>`) are given by URL.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from kbc_sync.errors import ConfigError

STACKS: dict[str, str] = {
    "us-east-1": "https://connection.keboola.com",
    "eu-central-1": "https://connection.eu-central-1.keboola.com",
    "north-europe": "https://connection.north-europe.azure.keboola.com",
    "europe-west3": "https://connection.europe-west3.gcp.keboola.com",
    "us-east4": "https://connection.us-east4.gcp.keboola.com",
}


def resolve_stack_url(url_or_region: str) -> str:
    """Return the stack URL for a region name or a URL, without a trailing slash.

    Args:
        url_or_region: a region of `STACKS`, or an `http(s)://host[:port]` URL. A path of
            `/v2/storage` (the API root) is accepted and dropped.

    Returns:
        The stack URL, for example `https://connection.eu-central-1.keboola.com`.

    Raises:
        ConfigError: the value is neither a known region nor an http(s) URL.
    """
    value = url_or_region.strip()
    if value.lower() in STACKS:
        return STACKS[value.lower()]

    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        regions = ", ".join(STACKS)
        raise ConfigError(
            f"{url_or_region!r} is neither a Keboola region nor a stack URL. Use one of the "
            f"regions {regions}, or the URL of your stack such as https://connection.keboola.com."
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError(
            f"The stack URL {parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]} must not carry a "
            "query string, fragment or credentials; give only scheme, host and port."
        )

    path = parts.path.rstrip("/")
    if path.endswith("/v2/storage"):
        path = path[: -len("/v2/storage")]
    return f"{parts.scheme}://{parts.netloc}{path}"
