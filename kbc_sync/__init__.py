"""kbc_sync: keep Keboola Connection tables copied between projects, as Dagster assets."""

__version__ = "0.1.0"
