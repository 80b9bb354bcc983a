"""The `Definitions` that `workspace.yaml` and `dagster dev` load.

The configuration file is `$KBC_SYNC_CONFIG`, or `./kbc_sync.yaml`. Loading reads only that file:
tokens are not needed here, since run workers and the sensor read them from their own environment
when they start. An invalid file fails to load with the message that names what to fix.
"""

from __future__ import annotations

import dagster as dg

from kbc_sync.config import load_config
from kbc_sync.defs import build_kbc_sync_defs


@dg.definitions
def defs() -> dg.Definitions:
    """Build the Dagster project from the configuration file."""
    return build_kbc_sync_defs(load_config(require_env=False))
