"""`kbc-sync check` against the local stack: projects, tokens, and what each row's copy would do."""

from kbc_sync_tests.cli_helpers import (  # noqa: F401 (setup_fixture is a fixture)
    SOURCE_BUCKET,
    TARGET_BUCKET,
    no_secret,
    printed_rows,
    setup_fixture,
)

CUSTOMERS = f"{TARGET_BUCKET}.customers"


def test_cli_check_reports_projects_and_plans(setup):
    result = setup.run("check")

    assert result.exit_code == 0, result.output
    assert (
        f"Source: project 'CLI Source {setup.number}' (id {setup.source_project}) at "
        f"{setup.stack.url}, token from $KBC_SOURCE_TOKEN" in result.stdout
    )
    assert "Target crm_copy:" in result.stdout
    assert (
        f"project 'CLI Target {setup.number}' (id {setup.target_project}) at {setup.stack.url}, "
        f"bucket {TARGET_BUCKET}" in result.stdout
    )
    assert "Review that this is the project and bucket" in result.stdout
    rows = printed_rows(result.stdout)
    assert rows[CUSTOMERS] == {
        "table": CUSTOMERS,
        "source": f"{SOURCE_BUCKET}.customers",
        "mode": "update",
        "window": "whole table",
        "action": "create",
        "keys": "-",
        "columns": "new table",
        "ok": "yes",
    }
    assert rows[f"{TARGET_BUCKET}.orders_copy"]["action"] == "create"
    assert "All 2 rows can be copied." in result.stdout
    no_secret(result, setup.env)


def test_cli_check_existing_target_keys_and_columns_match(setup):
    setup.seed_target("customers", ["id", "name"], primary_key=["id"])

    result = setup.run("check")

    assert result.exit_code == 0, result.output
    row = printed_rows(result.stdout)[CUSTOMERS]
    assert (row["action"], row["keys"], row["columns"], row["ok"]) == (
        "load",
        "match",
        "match",
        "yes",
    )


def test_cli_check_new_source_columns_named_and_allowed(setup):
    setup.seed_target("customers", ["id"], primary_key=["id"])

    result = setup.run("check")

    assert result.exit_code == 0, result.output
    row = printed_rows(result.stdout)[CUSTOMERS]
    assert (row["keys"], row["columns"], row["ok"]) == ("match", "new in source: name", "yes")


def test_cli_check_target_columns_missing_in_source_is_a_problem(setup):
    setup.seed_target("customers", ["id", "name", "extra", "note"], primary_key=["id"])

    result = setup.run("check")

    assert result.exit_code == 1
    row = printed_rows(result.stdout)[CUSTOMERS]
    assert (row["keys"], row["columns"], row["ok"]) == (
        "match",
        "missing in source: extra, note",
        "NO",
    )
    assert f"PROBLEM {CUSTOMERS}: The target table {CUSTOMERS} has columns" in result.stdout
    assert "lacks: extra, note" in result.stdout
    assert "Fix: set `mode: recreate`" in result.stdout
    assert "1 problem(s) found." in result.stdout


def test_cli_check_key_mismatch_is_a_problem(setup):
    setup.seed_target("customers", ["id", "name"], primary_key=["name"])

    result = setup.run("check")

    assert result.exit_code == 1
    row = printed_rows(result.stdout)[CUSTOMERS]
    assert (row["keys"], row["columns"], row["ok"]) == ("differ", "match", "NO")
    assert f"PROBLEM {CUSTOMERS}: The primary key of the target table" in result.stdout


def test_cli_check_master_target_token_refused(setup):
    setup.env["KBC_TARGET_TOKEN"] = setup.stack.add_token(setup.target_project, master=True)

    result = setup.run("check")

    assert result.exit_code == 1
    assert "  PROBLEM: " in result.stdout
    assert "1 problem(s) found." in result.stdout
    assert "Traceback" not in result.output
    no_secret(result, setup.env)


def test_cli_check_invalid_source_token_names_its_variable(setup):
    setup.env["KBC_SOURCE_TOKEN"] = "1-2-notarealtokennotarealtoken"

    result = setup.run("check")

    assert result.exit_code == 1
    assert "Source: PROBLEM:" in result.stdout
    assert "KBC_SOURCE_TOKEN" in result.stdout
    assert "Target crm_copy:" in result.stdout
    no_secret(result, setup.env)


def test_cli_check_missing_source_table_one_line_without_debug(setup):
    setup.add_row({"source": f"{SOURCE_BUCKET}.missing"})

    result = setup.run("check")

    assert result.exit_code == 1
    problems = [line for line in result.stdout.splitlines() if "PROBLEM" in line]
    assert problems == [
        f"  PROBLEM {TARGET_BUCKET}.missing: The source table {SOURCE_BUCKET}.missing does not "
        "exist or the source token may not read it. Check the table id in the configuration and "
        "the token's access."
    ]
    assert "Traceback" not in result.output


def test_cli_check_debug_shows_traceback_of_failed_row(setup):
    setup.add_row({"source": f"{SOURCE_BUCKET}.missing"})

    result = setup.run("check", "--debug")

    assert result.exit_code == 1
    assert f"PROBLEM {TARGET_BUCKET}.missing: The source table" in result.stdout
    assert "Traceback (most recent call last)" in result.stderr
    assert "kbc_sync.errors.NotFoundError" in result.stderr
    assert "kbc_sync.errors.CopyError: The source table" in result.stderr
    assert printed_rows(result.stdout)[CUSTOMERS]["ok"] == "yes"
    no_secret(result, setup.env)


def test_cli_check_debug_shows_traceback_of_failed_target(setup):
    setup.env["KBC_TARGET_TOKEN"] = setup.stack.add_token(setup.target_project, master=True)

    result = setup.run("check", "--debug")

    assert result.exit_code == 1
    assert "  PROBLEM: " in result.stdout
    assert "Traceback (most recent call last)" in result.stderr
    assert "kbc_sync.errors.CopyError: " in result.stderr
    no_secret(result, setup.env)
