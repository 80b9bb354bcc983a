"""The configuration file: a valid file, its defaults, and every kind of mistake in a row."""

import copy
import re
from datetime import UTC, datetime, timedelta

import pytest

from kbc_sync.config import load_config
from kbc_sync.engine import CopySpec
from kbc_sync.errors import ConfigError
from kbc_sync.windows import Cadence
from kbc_sync_tests.config_helpers import BASE, REPO, TOKEN, tokens  # noqa: F401
from kbc_sync_tests.config_helpers import load as _load
from kbc_sync_tests.config_helpers import table as _table


def test_load_config_valid_file_fills_defaults(tmp_path):
    config = _load(tmp_path)

    target = config.targets[0]
    full, windowed = target.tables
    assert config.source.stack_url == "https://connection.keboola.com"
    assert target.stack_url == "https://connection.eu-central-1.keboola.com"
    assert (full.destination, full.mode, full.changed_in_last, full.start) == (
        "customers",
        "replace",
        None,
        None,
    )
    assert windowed.window == Cadence(amount=15, unit="minutes")
    assert windowed.start == datetime(2026, 1, 1, tzinfo=UTC)
    assert target.table_id(windowed) == "in.c-crm-copy.orders_copy"
    assert config.automation.schedules == config.automation.sensor == "stopped"
    assert config.automation.settle_delay == timedelta(minutes=5)
    assert config.automation.sensor_interval_seconds == 60
    assert [t.destination for _, t in config.rows()] == ["customers", "orders_copy"]


def test_load_config_example_file_is_valid():
    config = load_config(REPO / "kbc_sync.example.yaml")

    assert config.targets and all(target.tables for target in config.targets)


def test_to_copy_spec_builds_engine_spec(tmp_path):
    config = _load(tmp_path)

    target = config.targets[0]
    spec = target.tables[1].to_copy_spec(target)

    assert spec == CopySpec("in.c-crm.orders", "in.c-crm-copy", "orders_copy", "update")


def test_load_config_date_and_naive_start_become_utc(tmp_path):
    def change(data):
        _table(data, 1)["start"] = datetime(2026, 3, 1, 6, 30)
        _table(data, 0).update(changed_in_last="1 day", start=datetime(2026, 3, 1).date())

    config = _load(tmp_path, change)

    starts = [t.start for t in config.targets[0].tables]
    assert starts == [datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 1, 6, 30, tzinfo=UTC)]


def test_load_config_url_normalised(tmp_path):
    def change(data):
        data["source"]["url"] = "http://127.0.0.1:8123/v2/storage/"

    config = _load(tmp_path, change)

    assert config.source.stack_url == "http://127.0.0.1:8123"


def test_load_config_automation_and_cron_parsed(tmp_path):
    def change(data):
        data["automation"] = {"schedules": "running", "settle_delay": "30 seconds"}
        _table(data, 0).update(changed_in_last="adaptive", cron="0  6 * * *")

    config = _load(tmp_path, change)

    assert config.automation.schedules == "running"
    assert config.automation.settle_delay == timedelta(seconds=30)
    assert config.targets[0].tables[0].adaptive
    assert config.targets[0].tables[0].cron == "0 6 * * *"


@pytest.mark.parametrize(
    ("where", "pattern"),
    [
        (lambda d: d, r"top level: colour: unknown key; allowed keys here: source, targets, auto"),
        (lambda d: d["source"], r"source: colour: unknown key; allowed keys here: url, region"),
        (lambda d: d["targets"][0], r"target 'crm_copy' \(targets\[0\]\): colour: unknown key"),
        (
            lambda d: _table(d),
            r"target 'crm_copy' \(targets\[0\]\), table 'customers' \(tables\[0\]\): colour: "
            r"unknown key; allowed keys here: source, destination, mode, changed_in_last",
        ),
    ],
)
def test_load_config_unknown_key_named_with_allowed_keys(tmp_path, where, pattern):
    def change(data):
        where(data)["colour"] = "blue"

    with pytest.raises(ConfigError, match=pattern):
        _load(tmp_path, change)


def test_load_config_error_names_file(tmp_path):
    def change(data):
        _table(data)["mode"] = "upsert"

    with pytest.raises(
        ConfigError, match=rf"^Configuration file {re.escape(str(tmp_path))}\S+ has 1 problem:"
    ):
        _load(tmp_path, change)


def test_load_config_bad_mode_lists_modes(tmp_path):
    def change(data):
        _table(data)["mode"] = "upsert"

    with pytest.raises(
        ConfigError, match=r"mode: found 'upsert'; allowed: 'update', 'replace' or 'recreate'"
    ):
        _load(tmp_path, change)


@pytest.mark.parametrize(
    ("window", "pattern"),
    [
        ("7 minutes", r"found '7 minutes', which does not split an hour into equal windows"),
        ("5 hours", r"found '5 hours', which does not split a day into equal windows"),
        ("2 days", r"found '2 days', which does not split a week"),
        ("daily", r"found 'daily'; allowed: 'N minutes' with N dividing 60"),
        (15, r"found 15; allowed: 'N minutes' with N dividing 60"),
    ],
)
def test_load_config_bad_window_rejected(tmp_path, window, pattern):
    def change(data):
        _table(data, 1)["changed_in_last"] = window

    with pytest.raises(ConfigError, match=rf"\(tables\[1\]\): changed_in_last: {pattern}"):
        _load(tmp_path, change)


def test_load_config_window_without_start_rejected(tmp_path):
    def change(data):
        del _table(data, 1)["start"]

    with pytest.raises(
        ConfigError, match=r"start: missing; a row with changed_in_last: 15 minutes needs the start"
    ):
        _load(tmp_path, change)


def test_load_config_start_without_window_rejected(tmp_path):
    def change(data):
        _table(data, 0)["start"] = "2026-01-01"

    with pytest.raises(
        ConfigError, match=r"start: found 2026-01-01, but the row has no time window"
    ):
        _load(tmp_path, change)


def test_load_config_cron_on_windowed_row_rejected(tmp_path):
    def change(data):
        _table(data, 1)["cron"] = "0 6 * * *"

    with pytest.raises(ConfigError, match=r"cron: found '0 6 \* \* \*', but a windowed row runs"):
        _load(tmp_path, change)


def test_load_config_bad_cron_rejected(tmp_path):
    def change(data):
        _table(data, 0)["cron"] = "every morning"

    with pytest.raises(ConfigError, match=r"cron: found 'every morning'; allowed: a 5-field cron"):
        _load(tmp_path, change)


@pytest.mark.parametrize("table_id", ["customers", "in.crm.customers", "sys.c-a.b", "in.c-a.b c"])
def test_load_config_bad_source_table_id_rejected(tmp_path, table_id):
    def change(data):
        _table(data)["source"] = table_id
        _table(data)["destination"] = "customers"

    with pytest.raises(
        ConfigError,
        match=rf"source: found '{table_id}'; allowed: a table id such as in.c-crm.customers",
    ):
        _load(tmp_path, change)


@pytest.mark.parametrize("bucket", ["in.crm", "c-crm", "in.c-crm.table", "in.c-"])
def test_load_config_bad_bucket_id_rejected(tmp_path, bucket):
    def change(data):
        data["targets"][0]["bucket"] = bucket

    with pytest.raises(ConfigError, match=rf"bucket: found '{bucket}'; allowed: a bucket id"):
        _load(tmp_path, change)


@pytest.mark.parametrize("name", ["bad name", "dots.not.allowed", "č", "x" * 97])
def test_load_config_destination_keboola_rejects_refused(tmp_path, name):
    def change(data):
        _table(data)["destination"] = name

    with pytest.raises(
        ConfigError, match=r"destination: found .*; allowed: a table name of letters, .*1 to 96"
    ):
        _load(tmp_path, change)


def test_load_config_destination_of_96_characters_accepted(tmp_path):
    def change(data):
        _table(data)["destination"] = "x" * 96

    config = _load(tmp_path, change)

    assert config.targets[0].tables[0].destination == "x" * 96


def test_load_config_duplicate_destinations_rejected(tmp_path):
    def change(data):
        _table(data, 1)["destination"] = "Customers"

    with pytest.raises(
        ConfigError,
        match=r"target 'crm_copy' \(targets\[0\]\): tables: destination 'Customers' appears in "
        r"tables\[0\] and tables\[1\]",
    ):
        _load(tmp_path, change)


def test_load_config_duplicate_target_names_rejected(tmp_path):
    def change(data):
        data["targets"].append(copy.deepcopy(data["targets"][0]))

    with pytest.raises(ConfigError, match=r"top level: targets: name 'crm_copy' appears in targe"):
        _load(tmp_path, change)


def _second_target(data, **changes) -> None:
    """Add a target that writes a `customers` table as target 0 does, with its own token."""
    second = {
        "name": "crm_copy_eu",
        "url": "https://connection.eu-central-1.keboola.com/v2/storage/",
        "token_env": "KBC_TARGET_TOKEN",
        "bucket": "in.c-crm-copy",
        "tables": [{"source": "in.c-crm-eu.customers"}],
    }
    data["targets"].append({**second, **changes})


def test_load_config_two_targets_writing_one_table_rejected(tmp_path):
    # Target 0 gives `region: eu-central-1`; this one the same stack by its API URL.
    with pytest.raises(ConfigError) as raised:
        _load(tmp_path, _second_target)

    message = str(raised.value)
    assert f"Configuration file {tmp_path / 'kbc_sync.yaml'} has 1 problem:" in message
    assert (
        "target 'crm_copy_eu' (targets[1]), table 'customers' (tables[0]): destination: "
        "'customers' is also written by target 'crm_copy' (targets[0]), table 'customers' "
        "(tables[0]); both rows write table in.c-crm-copy.customers on "
        "https://connection.eu-central-1.keboola.com; allowed: each table of a bucket written "
        "by one row; remove one of the two rows, give one another destination, or point one "
        "target at another bucket" in message
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"bucket": "in.c-crm-eu"},
        {"url": "https://connection.keboola.com"},
        {"tables": [{"source": "in.c-crm-eu.customers", "destination": "customers_eu"}]},
    ],
    ids=["other bucket", "other stack", "other destination"],
)
def test_load_config_two_targets_writing_different_tables_accepted(tmp_path, changes):
    config = _load(tmp_path, lambda data: _second_target(data, **changes))

    assert [t.name for t in config.targets] == ["crm_copy", "crm_copy_eu"]


@pytest.mark.parametrize(
    ("url", "region", "found"),
    [("https://connection.keboola.com", "us-east-1", "both"), (None, None, "neither")],
)
def test_load_config_url_and_region_exactly_one(tmp_path, url, region, found):
    def change(data):
        data["source"] = {"token_env": "KBC_SOURCE_TOKEN", "url": url, "region": region}
        data["source"] = {k: v for k, v in data["source"].items() if v is not None}

    with pytest.raises(
        ConfigError, match=rf"source: url/region: found {found}; allowed: exactly one"
    ):
        _load(tmp_path, change)


def test_load_config_unknown_region_lists_regions(tmp_path):
    def change(data):
        data["targets"][0]["region"] = "mars-1"

    with pytest.raises(
        ConfigError, match=r"region: found 'mars-1'; allowed: us-east-1, eu-central-1, north-europe"
    ):
        _load(tmp_path, change)


def test_load_config_url_with_path_rejected(tmp_path):
    def change(data):
        data["source"]["url"] = "https://connection.keboola.com/admin"

    with pytest.raises(
        ConfigError, match=r"url: found 'https://connection.keboola.com/admin'; allo"
    ):
        _load(tmp_path, change)
