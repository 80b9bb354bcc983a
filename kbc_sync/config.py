"""The configuration file: YAML validated into typed models, every problem named with its fix.

`load_config` reads the file, validates it completely and raises one `ConfigError` that lists
every problem at once: file, row (target and table), field, what was found and what is allowed.
Tokens never live in the file; it names the environment variables that hold them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from kbc_sync.config_checks import (
    ENV_NAME_RE,
    FIELD_HELP,
    Problem,
    default_destination,
    duplicate_problems,
    env_missing,
    format_problems,
    pydantic_problems,
    raw_problems,
    read_yaml,
    url_region_problems,
    window_problems,
)

# The engine's spec module imports nothing of kbc_sync, so the dependency points one way only.
from kbc_sync.engine.spec import MODES, CopySpec, Mode
from kbc_sync.errors import ConfigError
from kbc_sync.storage.stacks import STACKS
from kbc_sync.windows import Cadence

__all__ = [
    "MODES",
    "AutomationConfig",
    "Cadence",
    "SourceConfig",
    "SyncConfig",
    "TableConfig",
    "TargetConfig",
    "load_config",
    "parse_config",
    "resolve_config_path",
]

Status = Literal["running", "stopped"]

CONFIG_ENV = "KBC_SYNC_CONFIG"
DEFAULT_CONFIG = "kbc_sync.yaml"

# Keboola documents no maximum name length; its Go client accepts 1-96 characters for bucket
# and table names, so 96 is the longest name we can be sure the Storage API takes.
MAX_NAME_LENGTH = 96

_NAME = rf"[A-Za-z0-9_-]{{1,{MAX_NAME_LENGTH}}}"
_BUCKET_RE = re.compile(rf"^(in|out)\.c-{_NAME}$")
_TABLE_RE = re.compile(rf"^(in|out)\.c-{_NAME}\.{_NAME}$")
_DESTINATION_RE = re.compile(rf"^{_NAME}$")
# Target names become Dagster group names and parts of asset keys, which allow only these.
_TARGET_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
# The API root `/v2/storage` is accepted, as users often copy it from the API docs.
_URL_RE = re.compile(r"^(https?://[A-Za-z0-9.-]+(:\d{1,5})?)(/v2/storage)?/?$")
_CRON_FIELD_RE = re.compile(r"^[0-9A-Za-z*/,-]+$")
_CRON_ALIASES = ("@hourly", "@daily", "@weekly", "@monthly")
_DURATION_RE = re.compile(r"^\s*(\d+)\s*(second|minute|hour)s?\s*$", re.IGNORECASE)


def _check(pattern: re.Pattern[str], value: str, field: str) -> str:
    if not pattern.match(value):
        raise ValueError(f"found {value!r}; allowed: {FIELD_HELP[field]}")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Project(_Model):
    """Where a project lives and which environment variable holds its token."""

    url: str | None = None
    region: str | None = None
    token_env: str

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        match = None if value is None else _URL_RE.match(value)
        if value is not None and match is None:
            raise ValueError(f"found {value!r}; allowed: {FIELD_HELP['url']}, without a path")
        return None if match is None else match.group(1)

    @field_validator("region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and value not in STACKS:
            raise ValueError(f"found {value!r}; allowed: {FIELD_HELP['region']}")
        return value

    @field_validator("token_env")
    @classmethod
    def _token_env(cls, value: str) -> str:
        # The value is not echoed: a wrong entry here is often the token itself.
        if not ENV_NAME_RE.match(value):
            raise ValueError(
                "found a value that is not an environment variable name (not shown, in case it "
                "is a token); allowed: a variable name such as KBC_SOURCE_TOKEN"
            )
        return value

    @model_validator(mode="after")
    def _url_or_region(self) -> _Project:
        _raise_all(url_region_problems(self.url, self.region))
        return self

    @property
    def stack_url(self) -> str:
        """Base URL of the stack (the Storage API lives under `/v2/storage`)."""
        return self.url if self.url is not None else STACKS[str(self.region)]

    @property
    def token(self) -> str:
        """The token from the environment.

        Raises:
            ConfigError: the variable is not set.
        """
        value = os.environ.get(self.token_env, "")
        if not value:
            raise ConfigError(f"The project's token is missing: {env_missing(self.token_env)}.")
        return value


class SourceConfig(_Project):
    """The project the tables are copied from."""

    name: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return None if value is None else _check(_TARGET_NAME_RE, value, "name")


class TableConfig(_Model):
    """One row: a source table copied into the target's bucket."""

    source: str
    destination: str
    mode: Mode = "replace"
    changed_in_last: Cadence | Literal["adaptive"] | None = None
    start: datetime | None = None
    cron: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_destination(cls, data: Any) -> Any:
        if isinstance(data, dict) and "destination" not in data and "source" in data:
            return {**data, "destination": default_destination(data)}
        return data

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        return _check(_TABLE_RE, value, "source_table")

    @field_validator("destination")
    @classmethod
    def _destination(cls, value: str) -> str:
        return _check(_DESTINATION_RE, value, "destination")

    @field_validator("changed_in_last", mode="before")
    @classmethod
    def _window(cls, value: Any) -> Any:
        if value is None or value == "adaptive" or isinstance(value, Cadence):
            return value
        if not isinstance(value, str):
            raise ValueError(f"found {value!r}; allowed: {FIELD_HELP['changed_in_last']}")
        return Cadence.parse(value)

    @field_validator("start", mode="before")
    @classmethod
    def _start_date(cls, value: Any) -> Any:
        # YAML reads an unquoted 2026-01-01 as a date; a window starts at midnight UTC.
        if isinstance(value, date) and not isinstance(value, datetime):
            return datetime(value.year, value.month, value.day, tzinfo=UTC)
        return value

    @field_validator("start")
    @classmethod
    def _start_utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        fields = [] if value is None else value.split()
        if value is None or value in _CRON_ALIASES:
            return value
        if len(fields) != 5 or not all(_CRON_FIELD_RE.match(f) for f in fields):
            raise ValueError(f"found {value!r}; allowed: {FIELD_HELP['cron']}")
        return " ".join(fields)

    @model_validator(mode="after")
    def _window_rules(self) -> TableConfig:
        _raise_all(window_problems(self.changed_in_last, self.start, self.cron))
        return self

    @property
    def window(self) -> Cadence | None:
        """The time window cadence, or None for full and adaptive rows."""
        return self.changed_in_last if isinstance(self.changed_in_last, Cadence) else None

    @property
    def adaptive(self) -> bool:
        """Whether the row copies what changed since the last successful copy."""
        return self.changed_in_last == "adaptive"

    @property
    def source_bucket(self) -> str:
        """Bucket id of the source table."""
        return self.source.rsplit(".", 1)[0]

    def to_copy_spec(self, target: TargetConfig) -> CopySpec:
        """Build the engine's description of this row's copy into `target`."""
        return CopySpec(
            source_table_id=self.source,
            target_bucket_id=target.bucket,
            destination=self.destination,
            mode=self.mode,
        )


class TargetConfig(_Project):
    """One project and one bucket the rows are copied into, with a token for that bucket only."""

    name: str
    bucket: str
    tables: list[TableConfig] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _check(_TARGET_NAME_RE, value, "name")

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, value: str) -> str:
        return _check(_BUCKET_RE, value, "bucket")

    @model_validator(mode="after")
    def _unique_destinations(self) -> TargetConfig:
        destinations: list[object] = [t.destination for t in self.tables]
        _raise_all(duplicate_problems("tables", "destination", destinations))
        return self

    def table_id(self, table: TableConfig) -> str:
        """Id of the table `table` writes in this target."""
        return f"{self.bucket}.{table.destination}"


class AutomationConfig(_Model):
    """Defaults of the Dagster schedules and sensor built from the file."""

    schedules: Status = "stopped"
    sensor: Status = "stopped"
    settle_delay: timedelta = timedelta(minutes=5)
    sensor_interval_seconds: int = Field(default=60, ge=10, le=86_400)

    @field_validator("settle_delay", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        match = _DURATION_RE.match(value) if isinstance(value, str) else None
        if isinstance(value, timedelta):
            return value
        if match is None:
            raise ValueError(f"found {value!r}; allowed: {FIELD_HELP['settle_delay']}")
        return timedelta(**{f"{match.group(2).lower()}s": int(match.group(1))})


class SyncConfig(_Model):
    """The whole file: one source, one or more targets, and automation defaults."""

    source: SourceConfig
    targets: list[TargetConfig] = Field(min_length=1)
    automation: AutomationConfig = AutomationConfig()

    @model_validator(mode="after")
    def _unique_targets(self) -> SyncConfig:
        names: list[object] = [t.name for t in self.targets]
        _raise_all(duplicate_problems("targets", "name", names))
        return self

    def rows(self) -> Iterator[tuple[TargetConfig, TableConfig]]:
        """Every (target, table) pair in file order."""
        for target in self.targets:
            for table in target.tables:
                yield target, table


def _raise_all(problems: list[str]) -> None:
    # One ValueError per model; the report splits its lines back into separate problems.
    if problems:
        raise ValueError("\n".join(problems))


def resolve_config_path(path: str | Path | None = None) -> Path:
    """The file to read: `path`, else `$KBC_SYNC_CONFIG`, else `./kbc_sync.yaml`."""
    return Path(path or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)


def load_config(path: str | Path | None = None, *, require_env: bool = True) -> SyncConfig:
    """Read and validate the configuration file.

    Args:
        path: the YAML file; default `$KBC_SYNC_CONFIG`, then `./kbc_sync.yaml`.
        require_env: also require every `token_env` variable to be set (turn it off where no
            call to Keboola is made, such as while Dagster loads definitions).

    Returns:
        The validated configuration.

    Raises:
        ConfigError: the file is missing, is not YAML, or has problems; the message lists all.
    """
    file = resolve_config_path(path)
    hint = (
        f"Pass --config FILE, set {CONFIG_ENV}, or create ./{DEFAULT_CONFIG} "
        "(kbc_sync.example.yaml shows every field)."
    )
    return parse_config(read_yaml(file, hint=hint), file=file, require_env=require_env)


def parse_config(raw: object, *, file: str | Path, require_env: bool = True) -> SyncConfig:
    """Validate already parsed YAML; `file` only names the origin in messages.

    Raises:
        ConfigError: listing every problem found.
    """
    if not isinstance(raw, dict):
        raise ConfigError(
            f"Configuration file {file} must be a mapping with `source` and `targets`; found "
            f"{type(raw).__name__}. Start from kbc_sync.example.yaml."
        )

    config = None
    problems: list[Problem] = []
    try:
        config = SyncConfig.model_validate(raw)
    except ValidationError as exc:
        problems += pydantic_problems(exc, _allowed_keys)

    problems += raw_problems(raw, require_env=require_env)
    if problems or config is None:
        raise ConfigError(format_problems(file, raw, problems))
    return config


def _allowed_keys(row: tuple[Any, ...]) -> list[str]:
    rows: dict[tuple[Any, ...], type[BaseModel]] = {
        (): SyncConfig,
        ("source",): SourceConfig,
        ("automation",): AutomationConfig,
    }
    model = rows.get(row, TargetConfig if len(row) == 2 else TableConfig)
    return list(model.model_fields)
