import copy
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from kbc_sync.config import load_config, parse_config
from kbc_sync.engine import CopySpec
from kbc_sync.errors import ConfigError
from kbc_sync.windows import Cadence

REPO = Path(__file__).resolve().parents[1]
TOKEN = "123-45678-abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"

BASE = {
    "source": {"url": "https://connection.keboola.com", "token_env": "KBC_SOURCE_TOKEN"},
    "targets": [
        {
            "name": "crm_copy",
            "region": "eu-central-1",
            "token_env": "KBC_TARGET_TOKEN",
            "bucket": "in.c-crm-copy",
            "tables": [
                {"source": "in.c-crm.customers"},
                {
                    "source": "in.c-crm.orders",
                    "destination": "orders_copy",
                    "mode": "update",
                    "changed_in_last": "15 minutes",
                    "start": "2026-01-01T00:00:00Z",
                },
            ],
        }
    ],
}


@pytest.fixture(autouse=True)
def tokens(monkeypatch):
    monkeypatch.setenv("KBC_SOURCE_TOKEN", TOKEN)
    monkeypatch.setenv("KBC_TARGET_TOKEN", TOKEN)


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "kbc_sync.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def _load(tmp_path: Path, change=None, **kwargs):
    data = copy.deepcopy(BASE)
    if change is not None:
        change(data)
    return load_config(_write(tmp_path, data), **kwargs)


def _table(data: dict, index: int = 0) -> dict:
    return data["targets"][0]["tables"][index]


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


def test_load_config_missing_env_var_named(tmp_path, monkeypatch):
    monkeypatch.delenv("KBC_TARGET_TOKEN")

    with pytest.raises(
        ConfigError, match=r"token_env: found no value in environment variable KBC_TARGET_TOKEN"
    ):
        _load(tmp_path)


def test_load_config_missing_env_var_allowed_without_require_env(tmp_path, monkeypatch):
    monkeypatch.delenv("KBC_TARGET_TOKEN")

    config = _load(tmp_path, require_env=False)

    with pytest.raises(
        ConfigError, match=r"token is missing: found no value in environment variable KBC_TARGET_"
    ):
        _ = config.targets[0].token


@pytest.mark.parametrize("key", ["token", "#token", "source_token"])
def test_load_config_token_in_file_refused_without_showing_it(tmp_path, key):
    def change(data):
        data["targets"][0][key] = TOKEN

    with pytest.raises(ConfigError, match=rf"key '{key}' puts a token in the file") as raised:
        _load(tmp_path, change)

    assert "environment variables only" in str(raised.value)
    assert TOKEN not in str(raised.value)


def test_load_config_token_as_token_env_not_shown(tmp_path):
    def change(data):
        data["source"]["token_env"] = TOKEN

    with pytest.raises(
        ConfigError, match=r"token_env: found a value that is not an environment"
    ) as raised:
        _load(tmp_path, change)

    assert TOKEN not in str(raised.value)


def test_load_config_all_problems_reported_together(tmp_path):
    def change(data):
        data["source"]["region"] = "us-east-1"
        _table(data, 0)["mode"] = "upsert"
        _table(data, 1)["changed_in_last"] = "7 minutes"
        del _table(data, 1)["start"]
        data["targets"][0]["bucket"] = "crm"

    with pytest.raises(ConfigError) as raised:
        _load(tmp_path, change)

    message = str(raised.value)
    assert "has 4 problems:" in message
    for fragment in ("url/region: found both", "mode: found 'upsert'", "'7 minutes'", "bucket:"):
        assert fragment in message


def test_load_config_yaml_syntax_error_names_line(tmp_path):
    path = _write(tmp_path, "source:\n  url: x\n   bad: [\n")

    with pytest.raises(ConfigError, match=r"is not valid YAML at line 3, column 7"):
        load_config(path)


def test_load_config_repeated_yaml_key_rejected(tmp_path):
    path = _write(tmp_path, "source: {}\ntargets: []\nsource: {}\n")

    with pytest.raises(ConfigError, match=r"at line 3, column 1: found duplicate key 'source'"):
        load_config(path)


def test_load_config_missing_file_says_how_to_pick_one(tmp_path):
    with pytest.raises(
        ConfigError, match=r"nope.yaml does not exist. Pass --config FILE, set KBC_"
    ):
        load_config(tmp_path / "nope.yaml")


@pytest.mark.parametrize(("text", "pattern"), [("", r"is empty"), ("- a\n", r"must be a mapping")])
def test_load_config_empty_or_list_file_rejected(tmp_path, text, pattern):
    with pytest.raises(ConfigError, match=pattern):
        load_config(_write(tmp_path, text))


def test_load_config_path_from_env_then_working_directory(tmp_path, monkeypatch):
    chosen = _write(tmp_path, copy.deepcopy(BASE))
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    monkeypatch.setenv("KBC_SYNC_CONFIG", str(chosen))
    from_env = load_config()
    monkeypatch.delenv("KBC_SYNC_CONFIG")
    with pytest.raises(ConfigError, match=r"^Configuration file kbc_sync.yaml does not exist"):
        load_config()

    assert from_env.targets[0].name == "crm_copy"


def test_parse_config_sensor_interval_out_of_range(tmp_path):
    data = copy.deepcopy(BASE)
    data["automation"] = {"sensor_interval_seconds": 5, "sensor": "paused"}

    with pytest.raises(ConfigError) as raised:
        parse_config(data, file="inline.yaml")

    assert "sensor_interval_seconds: found 5; allowed: a whole number of seconds" in str(
        raised.value
    )
    assert "sensor: found 'paused'; allowed: 'running' or 'stopped'" in str(raised.value)


def test_load_config_table_without_source_says_what_source_is(tmp_path):
    def change(data):
        _table(data, 0).pop("source")
        _table(data, 0)["destination"] = "customers"

    with pytest.raises(
        ConfigError, match=r"\(tables\[0\]\): source: missing; required: a table id such as in.c-"
    ):
        _load(tmp_path, change)


def test_load_config_bad_start_rejected(tmp_path):
    def change(data):
        _table(data, 1)["start"] = "tomorrow"

    with pytest.raises(ConfigError, match=r"start: found 'tomorrow'; allowed: a date or timestamp"):
        _load(tmp_path, change)
