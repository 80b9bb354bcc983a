"""An optional Dagster Component over `build_kbc_sync_defs`, for projects built with `dg`.

In a `dg` project, `defs/keboola/defs.yaml`:

.. code-block:: yaml

    type: kbc_sync.defs.component.KbcSyncComponent
    attributes:
      config_path: kbc_sync.yaml

The component only finds and loads the configuration file; everything else is the same factory
that `kbc_sync.definitions` uses.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from kbc_sync.config import load_config
from kbc_sync.defs.factory import build_kbc_sync_defs


class KbcSyncComponent(dg.Component, dg.Model, dg.Resolvable):
    """Copies of Keboola tables, as configured in a kbc_sync YAML file."""

    config_path: str = Field(
        description="The kbc_sync configuration file, relative to this component's folder.",
    )

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        """Load the configuration (no network, no tokens needed) and build the definitions."""
        path = Path(self.config_path)
        if not path.is_absolute():
            path = Path(context.path) / path
        return build_kbc_sync_defs(load_config(path, require_env=False))
