"""What one finished table copy did, for the CLI's table and the Dagster metadata."""

from __future__ import annotations

from dataclasses import dataclass, field

from kbc_sync.engine.spec import Mode, Window


@dataclass(frozen=True)
class CopyResult:
    """The outcome of one table copy.

    Attributes:
        source_table_id: the table that was read.
        target_table_id: the table that was written (or would have been, for an empty window).
        mode: the configured mode.
        action: `create`, `load`, `recreate`, or `skip` when an empty window wrote nothing.
        window: the time window of changed rows, or None for the whole table.
        rows: rows exported and loaded. After a full load (or into a new table) it is the
            table's `rowsCount`; an incremental load without a primary key appends, so it is
            the growth of the table; 0 for an empty export. For an incremental load with a
            primary key into an existing table (updated rows leave `rowsCount` as it was), the
            transfer counts the exported records on the way. None only when a slice was not
            gzip and so could not be counted.
        bytes: compressed bytes moved between the file storages.
        slices: slices moved.
        source_job_id: the export job in the source project.
        target_job_ids: every job run in the target project, in order.
        links: Keboola UI links by name: `source_table`, `source_job`, `target_table`,
            `target_job` (the import) and `target_project`.
        durations: seconds per phase: `verify`, `plan`, `export`, `transfer`, `load`, `total`.
        columns: the source columns copied, in order.
        primary_key: the source table's primary key.
        target_project_id: the target project's id.
        target_project_name: the target project's name.
        created: whether the target table was created (or recreated) by this copy.
    """

    source_table_id: str
    target_table_id: str
    mode: Mode
    action: str
    window: Window | None
    rows: int | None
    bytes: int
    slices: int
    source_job_id: str
    target_job_ids: list[str] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)
    durations: dict[str, float] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)
    primary_key: list[str] = field(default_factory=list)
    target_project_id: str = ""
    target_project_name: str = ""
    created: bool = False

    def summary(self) -> str:
        """One line for the log and the CLI."""
        rows = "?" if self.rows is None else f"{self.rows:,}"
        window = f" window {self.window}" if self.window else ""
        return (
            f"{self.source_table_id} -> {self.target_table_id} ({self.mode}, {self.action}"
            f"{window}): {rows} rows, {self.bytes / 1_000_000:.1f} MB in {self.slices} slices, "
            f"{self.durations.get('total', 0.0):.1f} s"
        )
