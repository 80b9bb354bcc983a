"""Stopping the stack while requests are in progress."""

from __future__ import annotations

import threading
import time

import requests

from kbc_sync.local import LocalStack
from kbc_sync_tests.local.helpers import Api


def test_stop_waits_for_a_request_in_progress_not_for_idle_connections(caplog) -> None:
    stack = LocalStack(port=0).start()
    project = stack.add_project("Stopping")
    stack.create_bucket(project, "in.c-main")
    stack.seed_table(project, "in.c-main.t", ["id"], [["1"]], primary_key=["id"])
    api = Api(stack.url, stack.add_token(project, master=True))
    stack.add_fault({"method": "GET", "path": "tables/in.c-main.t$", "delay": 1.0, "times": 1})
    answers: list[requests.Response] = []
    slow = threading.Thread(target=lambda: answers.append(api.get("tables/in.c-main.t")))
    keep_alive = requests.Session()
    keep_alive.get(f"{stack.url}/v2/storage/tokens/verify", headers={"X-StorageApi-Token": "x"})

    slow.start()
    time.sleep(0.3)
    stack.stop()
    slow.join(timeout=10)

    # The slow request was answered from the table store before it closed, and the idle
    # keep-alive connection did not hold the stop until its grace ran out.
    assert [answer.status_code for answer in answers] == [200]
    assert answers[0].json()["id"] == "in.c-main.t"
    assert "still running" not in caplog.text
    keep_alive.close()
