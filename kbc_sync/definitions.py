"""The `Definitions` that `workspace.yaml` and `dagster dev` load."""

import dagster as dg

defs = dg.Definitions()
