from __future__ import annotations

import logging

from kbc_sync.storage.redact import (
    MaskingFilter,
    mask,
    register_file_credentials,
    register_secret,
)


def test_mask_keboola_token_masked() -> None:
    text = "token 1234-56789-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcd was refused"

    masked = mask(text)

    assert masked == "token *** was refused"


def test_mask_signed_s3_url_query_masked() -> None:
    url = (
        "https://kbc.s3.amazonaws.com/exp-15/file.csv.gz?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=ASIAXXXXXXXXXXXXXXXX%2F20260101&X-Amz-Signature=abcdef0123"
    )

    masked = mask(f"GET {url} failed")

    assert masked == "GET https://kbc.s3.amazonaws.com/exp-15/file.csv.gz?*** failed"


def test_mask_url_without_secret_query_kept() -> None:
    text = "GET http://127.0.0.1:8000/v2/storage/buckets/in.c-a/tables?include=columns"

    masked = mask(text)

    assert masked == text


def test_mask_sas_connection_string_masked() -> None:
    text = (
        "BlobEndpoint=https://acct.blob.core.windows.net;SharedAccessSignature="
        "sv=2021-08-06&ss=b&srt=sco&sp=rwdlac&se=2026-01-01T00:00:00Z&sig=AbC%2Bdef%3D"
    )

    masked = mask(text)

    assert "sig=" not in masked
    assert "AbC%2Bdef" not in masked
    assert "BlobEndpoint=https://acct.blob.core.windows.net" in masked


def test_mask_aws_credentials_in_json_masked() -> None:
    text = (
        '{"AccessKeyId": "ASIAABCDEFGHIJKLMNOP", "SecretAccessKey": "s3cr3t/Key+value", '
        '"SessionToken": "FwoGZXIvYXdzEJr//////////wEaDH"}'
    )

    masked = mask(text)

    assert "ASIAABCDEFGHIJKLMNOP" not in masked
    assert "s3cr3t/Key+value" not in masked
    assert "FwoGZXIvYXdzEJr" not in masked
    assert '"SecretAccessKey": "***"' in masked


def test_mask_google_access_token_masked() -> None:
    masked = mask("Authorization: Bearer ya29.a0AfH6SMBx-token_value.more")

    assert "ya29" not in masked
    assert "token_value" not in masked


def test_mask_registered_secret_of_any_shape_masked() -> None:
    register_secret("local-stack-token-7f3a9c")

    masked = mask("the token local-stack-token-7f3a9c is invalid")

    assert masked == "the token *** is invalid"


def test_masking_filter_record_with_args_masked() -> None:
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "sent %s", ("1234-56789-AbCdEfGhIjKlMnOpQrSt",), None
    )

    MaskingFilter().filter(record)

    assert record.getMessage() == "sent ***"


def test_register_file_credentials_masks_each_credential_in_any_text() -> None:
    prepare = {
        "url": "https://files.example/f.csv?Expires=1796306983&Signature=Zq81xLmN0pQ",
        "uploadParams": {"credentials": {"SecretAccessKey": "Wq9/secret+Key", "Expiration": "x"}},
        "absCredentials": {"SASConnectionString": "Endpoint=odd;Shape=value-42z"},
        "gcsUploadParams": {"access_token": "opaque-gcs-token-77", "bucket": "b"},
    }

    register_file_credentials(prepare)
    masked = mask("Wq9/secret+Key Endpoint=odd;Shape=value-42z opaque-gcs-token-77 Zq81xLmN0pQ")
    expiry = mask("expires 1796306983")

    assert masked == "*** *** *** ***"
    assert expiry == "expires 1796306983"
