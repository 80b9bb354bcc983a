"""Mask secrets in any text before it reaches a log line, an error message or metadata.

Two layers work together. Patterns catch what looks like a secret whatever its origin:
Keboola Storage tokens (`<project>-<token id>-<secret>`), the query strings of signed URLs
(S3 `X-Amz-Signature`, Azure SAS `sig=`, GCS `X-Goog-Signature`), Azure connection strings,
AWS access key ids and secret/session values, Google OAuth access tokens. On top of that, every
secret kbc_sync itself handles (the Storage token, the temporary credentials of a file resource)
is registered with `register_secret` and masked by exact match, so that a secret in a shape no
pattern knows still never shows.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

MASK = "***"

# Keboola tokens are `<project id>-<token id>-<40 alphanumerics>`; 16 is a safe lower bound.
_KEBOOLA_TOKEN = re.compile(r"\b\d+-\d+-[A-Za-z0-9]{16,}\b")

# The value after a key that only ever holds a secret: in JSON (`"key": "v"`), in a form, query
# or connection string (`key=v`), or as an HTTP header (`X-StorageApi-Token: v`). Prose such as
# "the token: it is invalid" matches none of these shapes and is left alone.
_SECRET_KEYS = (
    r"X-StorageApi-Token|SecretAccessKey|SessionToken|aws_secret_access_key|aws_session_token"
    r"|SharedAccessSignature|SASConnectionString|AccountKey|access_token|refresh_token"
    r"|x-amz-security-token|token"
)
_JSON_VALUE = re.compile(
    rf"""(?P<key>["'](?:{_SECRET_KEYS})["']\s*:\s*)(?P<quote>["'])(?P<value>[^"']+)""",
    re.IGNORECASE,
)
_ASSIGNED_VALUE = re.compile(
    rf"(?P<key>\b(?:{_SECRET_KEYS})=)(?P<quote>)(?P<value>[^\s;,&\"']+)", re.IGNORECASE
)
_HEADER_VALUE = re.compile(
    r"(?P<key>\b(?:X-StorageApi-Token|Authorization)\s*:\s*)(?P<quote>)"
    r"(?P<value>(?:Bearer\s+)?[^\s\"',}]+)",
    re.IGNORECASE,
)

# A query string of a URL that carries a signature or credential: all of it goes, because the
# other parameters of a signed URL (expiry, permissions) are part of what it grants.
_SIGNED_QUERY = re.compile(
    r"(?P<base>[a-z][a-z0-9+.-]*://[^\s?#\"']+)\?(?P<query>[^\s#\"']*"
    r"(?:signature|sig=|x-amz-|x-goog-|awsaccesskeyid|sv=|se=|sp=|token|credential)"
    r"[^\s#\"']*)",
    re.IGNORECASE,
)
# A bare SAS string (`sv=...&sig=...`) outside a URL, as it sits in a connection string.
_SAS = re.compile(r"\bsv=[^\s;\"']*sig=[^\s;\"'&]+[^\s;\"']*", re.IGNORECASE)
_AWS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{12,}\b")
_GOOGLE_TOKEN = re.compile(r"\bya29\.[A-Za-z0-9_.\-]+")

_lock = threading.Lock()
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret so that `mask` hides it wherever it appears later.

    Args:
        value: the secret; values shorter than 6 characters are ignored, because masking them
            would garble ordinary text and they are no real secret anyway.
    """
    if value and len(value) >= 6:
        with _lock:
            _secrets.add(value)


def register_file_credentials(detail: dict[str, Any]) -> None:
    """Register every credential of a Storage file resource as a secret to mask.

    Args:
        detail: a file detail or prepare answer (`credentials`, `uploadParams`, `absCredentials`,
            `gcsUploadParams` ...) and its signed `url`.
    """
    for section in ("uploadParams", "absUploadParams", "gcsUploadParams"):
        params = detail.get(section)
        if isinstance(params, dict):
            register_file_credentials(params)

    for key in ("credentials", "absCredentials", "gcsCredentials"):
        credentials = detail.get(key)
        if isinstance(credentials, dict):
            for name, value in credentials.items():
                if name in _SECRET_FIELDS and isinstance(value, str):
                    register_secret(value)

    if isinstance(detail.get("access_token"), str):
        register_secret(detail["access_token"])
    url = detail.get("url")
    if isinstance(url, str) and "?" in url:
        query = url.split("?", 1)[1]
        register_secret(query)
        for pair in query.split("&"):
            name, _, value = pair.partition("=")
            if _SECRET_PARAM.search(name):
                register_secret(value)


# Query parameters of signed URLs whose values are secrets on their own; expiry and algorithm
# values are not, and masking them would only garble text.
_SECRET_PARAM = re.compile(r"sig|credential|token|key", re.IGNORECASE)

_SECRET_FIELDS = frozenset(
    {"AccessKeyId", "SecretAccessKey", "SessionToken", "SASConnectionString", "access_token"}
)


def mask(text: object) -> str:
    """Return `text` with every token, signed query string, SAS string and credential masked.

    Args:
        text: any text, or an object whose `str()` is masked.

    Returns:
        The text with secrets replaced by `***`.
    """
    result = str(text)

    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        result = result.replace(secret, MASK)

    result = _SIGNED_QUERY.sub(lambda m: f"{m.group('base')}?{MASK}", result)
    result = _SAS.sub(MASK, result)
    for pattern in (_JSON_VALUE, _ASSIGNED_VALUE, _HEADER_VALUE):
        result = pattern.sub(_mask_value, result)
    result = _KEBOOLA_TOKEN.sub(MASK, result)
    result = _AWS_KEY_ID.sub(MASK, result)
    return _GOOGLE_TOKEN.sub(MASK, result)


def _mask_value(match: re.Match[str]) -> str:
    if match.group("value") == MASK:
        return match.group(0)
    return f"{match.group('key')}{match.group('quote')}{MASK}"


class MaskingFilter(logging.Filter):
    """A logging filter that masks secrets in every record it passes.

    kbc_sync never installs handlers itself. `protect_loggers` puts this filter on the loggers
    of kbc_sync and of the SDKs it drives; applications may also attach it to their handlers.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Replace the record's message by its masked, fully formatted form."""
        record.msg = mask(record.getMessage())
        record.args = None
        return True


# Loggers whose DEBUG lines carry secrets: botocore prints request headers (the signature's
# access key id, the session token), HTTP libraries print URLs with SAS or signed queries.
_PROTECTED_FAMILIES = frozenset(
    {"kbc_sync", "botocore", "boto3", "s3transfer", "urllib3", "requests", "azure", "google"}
)
_FILTER = MaskingFilter()


def protect_loggers() -> None:
    """Mask every record of kbc_sync's and the cloud SDKs' loggers where it is logged.

    A filter on a logger sees only the records logged on that very logger, so it goes on every
    logger of those families that exists now. The SDKs create theirs when their modules are
    imported, so kbc_sync calls this again after opening a client of a newly imported SDK.
    Handlers of any application (Dagster's, pytest's, a user's) then receive masked text only,
    whatever level the SDK loggers are set to.
    """
    names = [name for name in list(logging.Logger.manager.loggerDict) if name]
    for name in names:
        if name.split(".", 1)[0] in _PROTECTED_FAMILIES:
            logger = logging.getLogger(name)
            if _FILTER not in logger.filters:
                logger.addFilter(_FILTER)
