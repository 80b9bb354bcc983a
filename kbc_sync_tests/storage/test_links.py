from __future__ import annotations

from kbc_sync.storage.links import job_url, project_url, table_url


def test_project_url_stack_and_id_joined() -> None:
    assert project_url("https://connection.keboola.com/", 58) == (
        "https://connection.keboola.com/admin/projects/58"
    )


def test_table_url_bucket_and_table_name_split() -> None:
    url = table_url("https://connection.keboola.com", "58", "in.c-crm.customers")

    assert (
        url == "https://connection.keboola.com/admin/projects/58/storage/in.c-crm/table/customers"
    )


def test_job_url_job_id_appended() -> None:
    url = job_url("https://connection.eu-central-1.keboola.com", 7, 22077337)

    assert url == (
        "https://connection.eu-central-1.keboola.com/admin/projects/7/storage/jobs/22077337"
    )
