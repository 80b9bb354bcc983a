"""Links into the Keboola UI for a project, a table and a Storage job.

The UI of a stack lives on the same host as its API. The shapes assumed here are those the
Keboola UI shows in the browser's address bar:

- project: `{stack}/admin/projects/{project_id}`
- table:   `{stack}/admin/projects/{project_id}/storage/{bucket_id}/table/{table_name}`
- job:     `{stack}/admin/projects/{project_id}/storage/jobs/{job_id}`

Keboola does not document these paths as a stable interface; they are for people to click, and
nothing in kbc_sync parses them. On the local Storage stack they lead to no page.
"""

from __future__ import annotations

from urllib.parse import quote


def project_url(stack_url: str, project_id: str | int) -> str:
    """Return the link to a project's overview page."""
    return f"{stack_url.rstrip('/')}/admin/projects/{quote(str(project_id), safe='')}"


def table_url(stack_url: str, project_id: str | int, table_id: str) -> str:
    """Return the link to a table's page in the Storage section of the UI.

    Args:
        stack_url: the stack URL, as `resolve_stack_url` returns it.
        project_id: the project that holds the table.
        table_id: a table id `{stage}.c-{bucket}.{table}`.
    """
    bucket_id, _, table_name = table_id.rpartition(".")
    base = project_url(stack_url, project_id)
    return f"{base}/storage/{quote(bucket_id, safe='.')}/table/{quote(table_name, safe='')}"


def job_url(stack_url: str, project_id: str | int, job_id: str | int) -> str:
    """Return the link to a Storage job's detail page."""
    base = project_url(stack_url, project_id)
    return f"{base}/storage/jobs/{quote(str(job_id), safe='')}"
