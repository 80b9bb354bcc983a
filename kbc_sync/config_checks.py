"""Checks of the configuration file that span fields, and how its problems are reported.

A problem is a pair: the row it belongs to (a path into the YAML such as `("targets", 0,
"tables", 2)`) and a text that starts with the field, then says what was found and what is
allowed. All problems of a file end up in one `ConfigError`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from kbc_sync.errors import ConfigError
from kbc_sync.storage.redact import mask
from kbc_sync.storage.stacks import STACKS, resolve_stack_url
from kbc_sync.windows import ALLOWED_WINDOWS, Cadence

Row = tuple[Any, ...]
Problem = tuple[Row, str]

ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# What each field accepts, for "missing" and wrong-type problems that pydantic reports.
FIELD_HELP: dict[str, str] = {
    "source": "a mapping with url or region, token_env and optionally name",
    "targets": "a non-empty list of targets (name, url or region, token_env, bucket, tables)",
    "automation": "a mapping with schedules, sensor, settle_delay, sensor_interval_seconds",
    "url": "a stack's base URL such as https://connection.keboola.com",
    "region": ", ".join(STACKS),
    "token_env": "the name of the environment variable holding the token, e.g. KBC_SOURCE_TOKEN",
    "name": "letters, digits and '_', starting with a letter, up to 64 characters",
    "bucket": "a bucket id such as in.c-crm-copy (in|out.c-NAME)",
    "source_table": "a table id such as in.c-crm.customers (in|out.c-NAME.TABLE)",
    "tables": "a non-empty list of table rows (source, destination, mode, ...)",
    "destination": "a table name of letters, digits, '-' and '_', 1 to 96 characters",
    "mode": "'update', 'replace' or 'recreate'",
    "changed_in_last": ALLOWED_WINDOWS,
    "start": "a date or timestamp such as 2026-01-01 or 2026-01-01T06:00:00Z (UTC if no zone)",
    "cron": "a 5-field cron expression in UTC such as '0 6 * * *', or @hourly, @daily, @weekly",
    "schedules": "'running' or 'stopped'",
    "sensor": "'running' or 'stopped'",
    "settle_delay": "a duration such as '5 minutes', '30 seconds' or '1 hour'",
    "sensor_interval_seconds": "a whole number of seconds from 10 to 86400",
}


def url_region_problems(url: object, region: object) -> list[str]:
    """Exactly one of `url` and `region` must be given."""
    allowed = f"exactly one of `url` (a stack URL) or `region` ({', '.join(STACKS)})"
    if url is None and region is None:
        return [f"url/region: found neither; allowed: {allowed}"]
    if url is not None and region is not None:
        return [f"url/region: found both; allowed: {allowed}"]
    return []


def _window_kind(value: object) -> str | None:
    if value is None or value == "adaptive":
        return None if value is None else "adaptive"
    if isinstance(value, Cadence):
        return "window"
    try:
        Cadence.parse(value)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return "invalid"
    return "window"


def window_problems(window: object, start: object, cron: object) -> list[str]:
    """A windowed row needs `start` and takes no `cron`; other rows take no `start`."""
    kind = _window_kind(window)
    problems = []
    if kind == "window" and start is None:
        problems.append(
            f"start: missing; a row with changed_in_last: {window} needs the start of its first "
            "window; allowed: a date or timestamp such as 2026-01-01"
        )
    if kind in (None, "adaptive") and start is not None:
        problems.append(
            f"start: found {start}, but the row has no time window to start; allowed: remove "
            "start, or set changed_in_last to a window such as '1 day'"
        )
    if kind == "window" and cron is not None:
        problems.append(
            f"cron: found {cron!r}, but a windowed row runs once per window; allowed: remove "
            "cron (it schedules full and adaptive rows)"
        )
    return problems


def duplicate_problems(where: str, field: str, values: list[object]) -> list[str]:
    """Each value once; names that differ only in case count as the same."""
    seen: dict[str, int] = {}
    problems = []
    for index, value in enumerate(values):
        if not isinstance(value, str):
            continue
        first = seen.setdefault(value.lower(), index)
        if first != index:
            problems.append(
                f"{where}: {field} {value!r} appears in {where}[{first}] and {where}[{index}]; "
                f"allowed: each {field} once"
            )
    return problems


def env_missing(name: str) -> str:
    """Problem text for a token variable that is not set."""
    return (
        f"found no value in environment variable {name}; allowed: set {name} to the project's "
        "Storage API token before running kbc_sync (tokens come from environment variables only)"
    )


def default_destination(table: dict[str, Any]) -> object:
    """The destination of a raw table row: given, or the source table's name."""
    source = table.get("source")
    return table.get("destination", source.rsplit(".", 1)[-1] if isinstance(source, str) else None)


def raw_problems(raw: dict[str, Any], *, require_env: bool) -> list[Problem]:
    """Cross-field rules, token keys and the environment, checked on the parsed YAML.

    The models check the same rules, but pydantic skips a model's own rules once one of its
    fields is invalid; checking the raw data too reports every problem of the file at once.
    """
    problems: list[Problem] = token_key_problems(raw)
    targets = raw.get("targets") if isinstance(raw.get("targets"), list) else []
    projects = [(("source",), raw.get("source"))]
    projects += [(("targets", i), target) for i, target in enumerate(targets)]

    for row, project in projects:
        if not isinstance(project, dict):
            continue
        problems += [
            (row, p) for p in url_region_problems(project.get("url"), project.get("region"))
        ]
        env = project.get("token_env")
        if (
            require_env
            and isinstance(env, str)
            and ENV_NAME_RE.match(env)
            and not os.environ.get(env)
        ):
            problems.append((row, f"token_env: {env_missing(env)}"))

    for i, target in enumerate(targets):
        tables = target.get("tables") if isinstance(target, dict) else None
        rows = (
            [t if isinstance(t, dict) else {} for t in tables] if isinstance(tables, list) else []
        )
        for j, table in enumerate(rows):
            found = window_problems(
                table.get("changed_in_last"), table.get("start"), table.get("cron")
            )
            problems += [(("targets", i, "tables", j), p) for p in found]
        names = [default_destination(t) for t in rows]
        problems += [
            (("targets", i), p) for p in duplicate_problems("tables", "destination", names)
        ]

    names = [t.get("name") if isinstance(t, dict) else None for t in targets]
    problems += [((), p) for p in duplicate_problems("targets", "name", names)]
    return problems + shared_table_problems(raw, targets)


def _stack_of(project: dict[str, Any]) -> str | None:
    """The stack URL a raw project resolves to; None when url/region is missing or invalid."""
    url, region = project.get("url"), project.get("region")
    value = url if region is None else region if url is None else None
    if not isinstance(value, str):
        return None
    try:
        return resolve_stack_url(value)
    except ConfigError:
        return None  # reported as a url or region problem of its own


def shared_table_problems(raw: dict[str, Any], targets: list[Any]) -> list[Problem]:
    """Rows of different targets must not write one table: same stack, bucket and destination.

    Within one target `duplicate_problems` reports it; across targets the stack is compared by
    its resolved URL, so `region: us-east-1` and `url: https://connection.keboola.com` meet.
    """
    writers: dict[tuple[str, str, str], Row] = {}
    problems: list[Problem] = []
    for i, target in enumerate(targets):
        stack = _stack_of(target) if isinstance(target, dict) else None
        bucket = target.get("bucket") if isinstance(target, dict) else None
        tables = target.get("tables") if isinstance(target, dict) else None
        if stack is None or not isinstance(bucket, str) or not isinstance(tables, list):
            continue

        for j, table in enumerate(tables):
            destination = default_destination(table) if isinstance(table, dict) else None
            if not isinstance(destination, str):
                continue
            row = ("targets", i, "tables", j)
            first = writers.setdefault((stack.lower(), bucket.lower(), destination.lower()), row)
            if first[1] == i:
                continue
            problems.append(
                (
                    row,
                    f"destination: {destination!r} is also written by {_row_label(raw, first)}; "
                    f"both rows write table {bucket}.{destination} on {stack}; allowed: each "
                    "table of a bucket written by one row; remove one of the two rows, give one "
                    "another destination, or point one target at another bucket",
                )
            )
    return problems


def is_token_key(key: object) -> bool:
    """Whether a key looks like it holds a token (`token`, `#token`, `source_token`...)."""
    return isinstance(key, str) and "token" in key.lower() and key != "token_env"


def token_key_problems(value: object, loc: Row = ()) -> list[Problem]:
    """Refuse any key that looks like a token, without ever showing its value."""
    problems: list[Problem] = []
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in items:
        if not is_token_key(key):
            problems += token_key_problems(item, (*loc, key))
            continue
        row, _ = split_loc((*loc, key))
        problems.append(
            (
                row,
                f"key {key!r} puts a token in the file (value not shown); allowed: tokens come "
                "from environment variables only; remove the key, put the token in a variable and "
                "name the variable in token_env",
            )
        )
    return problems


def split_loc(loc: Row) -> tuple[Row, Row]:
    """Split a path into the row it belongs to and the field path inside that row."""
    if loc[:1] == ("targets",) and len(loc) >= 2 and isinstance(loc[1], int):
        if len(loc) >= 4 and loc[2] == "tables" and isinstance(loc[3], int):
            return loc[:4], loc[4:]
        return loc[:2], loc[2:]
    if loc[:1] in (("source",), ("automation",)):
        return loc[:1], loc[1:]
    return (), loc


def pydantic_problems(
    exc: ValidationError, allowed_keys: Callable[[Row], list[str]]
) -> Iterator[Problem]:
    """Turn pydantic's errors into problems; `allowed_keys` names the fields of a row."""
    for error in exc.errors(include_url=False):
        row, rest = split_loc(tuple(error["loc"]))
        key = rest[-1] if rest else None
        if is_token_key(key):
            continue  # token_key_problems reports it without the value

        field = ".".join(str(part) for part in rest)
        prefix = f"{field}: " if field else ""
        if error["type"] == "value_error":
            # A model's own rules come as one error whose lines are separate problems.
            for line in str(error["ctx"]["error"]).split("\n"):
                yield row, prefix + line
            continue
        # A table row's `source` is a table id, not the source project of the file.
        help_key = "source_table" if key == "source" and len(row) == 4 else key
        yield row, prefix + _describe(error, help_key, allowed_keys(row))


def _describe(error: Any, key: object, row_keys: list[str]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"unknown key; allowed keys here: {', '.join(row_keys)}"

    help_text = FIELD_HELP.get(key) if isinstance(key, str) else None
    allowed = help_text or f"a mapping with the keys {', '.join(row_keys)}"
    if kind == "missing":
        return f"missing; required: {allowed}"
    if kind == "literal_error":
        return f"found {_show(error['input'])}; allowed: {error['ctx']['expected']}"
    if kind == "too_short":
        return f"found an empty list; allowed: {allowed}"
    return f"found {_show(error['input'])}; allowed: {allowed}"


def _show(value: object) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def format_problems(file: str | Path, raw: dict[str, Any], problems: list[Problem]) -> str:
    """One message listing every problem, grouped by row in file order, secrets masked."""
    order = {"source": 1, "targets": 2, "automation": 3}
    unique = sorted(
        dict.fromkeys(problems), key=lambda p: (order.get(p[0][:1][0], 0) if p[0] else 0, p[0][1:])
    )
    lines = [f"  - {_row_label(raw, row)}: {text}" for row, text in unique]
    count = f"{len(unique)} problem{'s' if len(unique) != 1 else ''}"
    message = f"Configuration file {file} has {count}:\n" + "\n".join(lines)
    return mask(message + "\nFix them and run `kbc-sync check` to verify the file.")


def _row_label(raw: dict[str, Any], row: Row) -> str:
    if not row:
        return "top level"
    if row[0] != "targets":
        return str(row[0])

    target = raw["targets"][row[1]]
    name = target.get("name") if isinstance(target, dict) else None
    label = (
        f"target {name!r} (targets[{row[1]}])" if isinstance(name, str) else f"targets[{row[1]}]"
    )
    if len(row) == 2:
        return label

    table = target["tables"][row[3]]
    destination = default_destination(table) if isinstance(table, dict) else None
    shown = f" {destination!r}" if isinstance(destination, str) else ""
    return f"{label}, table{shown} (tables[{row[3]}])"


class _StrictLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate keys, which PyYAML would silently overwrite."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str) and key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(file: Path, *, hint: str) -> object:
    """Parse the file as YAML, naming the line of a syntax error; `hint` says how to pick a file.

    Raises:
        ConfigError: the file is missing, unreadable, empty or not valid YAML.
    """
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"Configuration file {file} does not exist. {hint}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Configuration file {file} cannot be read: {exc}. {hint}") from exc

    try:
        raw = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader: plain data only
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(
            f"Configuration file {file} is not valid YAML{where}: {exc.problem or exc.context}. "
            "Fix the file there: indentation, a missing ':', an unclosed quote or a repeated key."
        ) from exc

    if raw is None:
        raise ConfigError(f"Configuration file {file} is empty. {hint}")
    return raw
