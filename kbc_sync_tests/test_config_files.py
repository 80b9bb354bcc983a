"""The configuration file as a whole: environment, tokens, YAML syntax and where it is found."""

import copy

import pytest

from kbc_sync.config import load_config, parse_config
from kbc_sync.errors import ConfigError
from kbc_sync_tests.config_helpers import BASE, REPO, TOKEN, tokens  # noqa: F401
from kbc_sync_tests.config_helpers import load as _load
from kbc_sync_tests.config_helpers import table as _table
from kbc_sync_tests.config_helpers import write as _write


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
