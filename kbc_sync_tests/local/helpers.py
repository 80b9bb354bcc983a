"""Raw HTTP and boto3 helpers for talking to the local stack the way any client would."""

from __future__ import annotations

import csv
import gzip
import io
import json
import time
from dataclasses import dataclass
from typing import Any

import boto3
import requests

JOB_TIMEOUT = 60.0


@dataclass
class Api:
    """A token bound to a stack URL; every call is plain `requests`."""

    url: str
    token: str

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"X-StorageApi-Token": self.token, **kwargs.pop("headers", {})}
        return requests.request(
            method, f"{self.url}/v2/storage/{path}", headers=headers, timeout=30, **kwargs
        )

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("DELETE", path, **kwargs)

    def ok(self, method: str, path: str, status: int, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        assert response.status_code == status, response.text
        return response.json() if response.content else None

    def wait(self, job: dict[str, Any]) -> dict[str, Any]:
        """Poll a job until it ends; return its final state."""
        deadline = time.monotonic() + JOB_TIMEOUT
        while time.monotonic() < deadline:
            current = self.ok("GET", f"jobs/{job['id']}", 200)
            if current["status"] in ("success", "error"):
                return current
            time.sleep(0.05)
        raise AssertionError(f"job {job['id']} did not end")

    def run(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """Start an async call (202) and wait for its job."""
        return self.wait(self.ok(method, path, 202, **kwargs))

    def succeed(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        job = self.run(method, path, **kwargs)
        assert job["status"] == "success", job
        return job


def s3_client(credentials: dict[str, str], endpoint_url: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def csv_bytes(header: list[str] | None, rows: list[list[str]], *, compress: bool = False) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header is not None:
        writer.writerow(header)
    writer.writerows(rows)
    data = buffer.getvalue().encode("utf-8")
    return gzip.compress(data) if compress else data


def upload(api: Api, endpoint_url: str, name: str, data: bytes) -> int:
    """Prepare a plain file, upload it with boto3 and return its id."""
    prepared = api.ok("POST", "files/prepare", 201, data={"name": name, "federationToken": 1})
    params = prepared["uploadParams"]
    s3 = s3_client(params["credentials"], endpoint_url)
    s3.put_object(Bucket=params["bucket"], Key=params["key"], Body=data)
    return prepared["id"]


def upload_sliced(api: Api, endpoint_url: str, name: str, slices: list[bytes]) -> int:
    """Prepare a sliced file, upload slices and a manifest, return its id."""
    prepared = api.ok(
        "POST", "files/prepare", 201, json={"name": name, "isSliced": True, "federationToken": True}
    )
    params = prepared["uploadParams"]
    s3 = s3_client(params["credentials"], endpoint_url)
    entries = []
    for index, data in enumerate(slices):
        key = f"{params['key']}part{index:03d}"
        s3.put_object(Bucket=params["bucket"], Key=key, Body=data)
        entries.append({"url": f"s3://{params['bucket']}/{key}"})
    manifest = json.dumps({"entries": entries}).encode()
    s3.put_object(Bucket=params["bucket"], Key=params["key"] + "manifest", Body=manifest)
    return prepared["id"]


def download_export(api: Api, endpoint_url: str, file_id: int) -> list[bytes]:
    """Fetch a sliced export the documented way: manifest, then each slice; raw bytes."""
    detail = api.ok("GET", f"files/{file_id}", 200, params={"federationToken": 1})
    s3 = s3_client(detail["credentials"], endpoint_url)
    bucket, key = detail["s3Path"]["bucket"], detail["s3Path"]["key"]
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=key + "manifest")["Body"].read())
    slices = []
    for entry in manifest["entries"]:
        slice_bucket, _, slice_key = entry["url"].removeprefix("s3://").partition("/")
        slices.append(s3.get_object(Bucket=slice_bucket, Key=slice_key)["Body"].read())
    return slices


def export_rows(api: Api, endpoint_url: str, table_id: str, **params: Any) -> list[list[str]]:
    """Export a table (gzip) and return its rows parsed, sorted for comparison."""
    job = api.succeed("POST", f"tables/{table_id}/export-async", json={"gzip": True, **params})
    raw = download_export(api, endpoint_url, job["results"]["file"]["id"])
    text = "".join(gzip.decompress(data).decode("utf-8") for data in raw)
    return sorted(csv.reader(io.StringIO(text, newline="")))


def load(
    api: Api,
    endpoint_url: str,
    table_id: str,
    header: list[str],
    rows: list[list[str]],
    **params: Any,
) -> dict[str, Any]:
    """Upload a CSV and import it into an existing table; return the ended job."""
    file_id = upload(api, endpoint_url, "data.csv", csv_bytes(header, rows))
    return api.run(
        "POST", f"tables/{table_id}/import-async", json={"dataFileId": file_id, **params}
    )


def create(
    api: Api,
    endpoint_url: str,
    bucket_id: str,
    name: str,
    header: list[str],
    rows: list[list[str]],
    primary_key: str = "",
) -> dict[str, Any]:
    """Create a table from a CSV via `tables-async`; return the ended job."""
    file_id = upload(api, endpoint_url, f"{name}.csv", csv_bytes(header, rows))
    body = {"name": name, "dataFileId": file_id, "primaryKey": primary_key}
    return api.run("POST", f"buckets/{bucket_id}/tables-async", data=body)
