"""Demo data: a source project full of awkward CRM data and an empty target bucket.

Rows come from generators with a fixed seed, so `orders` can hold millions of rows without the
data ever sitting in memory: the CSV is written row by row and loaded by the table engine.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kbc_sync.local.stack import LocalStack

SOURCE_BUCKET = "in.c-crm"
TARGET_BUCKET = "in.c-crm-copy"
CUSTOMERS = 10_000
EVENTS = 20_000

_FIRST = ["Anna", "Jiří", "Zoë", "Łukasz", "Søren", "Chloé", "Mateo", "Ngozi", "Hana", "Olu", "李"]
_LAST = ["Nováková", "O'Brien", "Müller", "García", "Dvořák", "Smith, Jr.", "Østergaard", "王"]
_CITIES = ["Praha", "München", "São Paulo", "Kraków", "Zürich", "New York", "東京", "Reykjavík"]
_NOTES = [
    "",
    'Prefers "email" over phone',
    "Line one\nLine two",
    "VIP, pays early",
    "Emoji ok 🚀",
    "Tab\tinside",
    'Quote at end"',
    'Comma, "quote" and\r\nCRLF',
]
_STATUSES = ["new", "paid", "shipped", "cancelled", "returned"]
_EVENT_TYPES = ["login", "view", "cart", "purchase", "logout"]


def seed_demo(stack: LocalStack, *, orders_rows: int = 100_000) -> dict[str, str]:
    """Create "Demo source" and "Demo target" with their tokens; return the env lines."""
    source = stack.add_project("Demo source")
    stack.create_bucket(source, SOURCE_BUCKET)
    _seed_source(stack, source, orders_rows)
    return _target_and_tokens(stack, source, "Demo target")


def seed_empty(stack: LocalStack) -> dict[str, str]:
    """The demo's projects, buckets and tokens without any table; return the env lines."""
    source = stack.add_project("Local source")
    stack.create_bucket(source, SOURCE_BUCKET)
    return _target_and_tokens(stack, source, "Local target")


def _target_and_tokens(stack: LocalStack, source: int, target_name: str) -> dict[str, str]:
    target = stack.add_project(target_name)
    stack.create_bucket(target, TARGET_BUCKET)
    return {
        "KBC_SOURCE_URL": stack.url,
        "KBC_SOURCE_TOKEN": stack.add_token(source, master=True, description="demo source master"),
        "KBC_TARGET_URL": stack.url,
        "KBC_TARGET_TOKEN": stack.add_token(
            target, bucket_permissions={TARGET_BUCKET: "write"}, description="demo target writer"
        ),
        "KBC_TARGET_MASTER_TOKEN": stack.add_token(
            target, master=True, description="demo target master"
        ),
        "AWS_ENDPOINT_URL_S3": stack.s3_endpoint_url,
    }


def _seed_source(stack: LocalStack, project_id: int, orders_rows: int) -> None:
    stack.seed_table(
        project_id, f"{SOURCE_BUCKET}.customers",
        ["id", "name", "email", "city", "note", "created_on"], customers(), primary_key=["id"],
    )  # fmt: skip
    stack.seed_table(
        project_id, f"{SOURCE_BUCKET}.orders",
        ["id", "customer_id", "product_id", "quantity", "unit_price", "status", "ordered_on",
         "note"],
        orders(orders_rows), primary_key=["id"],
    )  # fmt: skip
    stack.seed_table(
        project_id, f"{SOURCE_BUCKET}.events",
        ["customer_id", "type", "detail", "happened_at"], events(),
    )  # fmt: skip
    stack.seed_table(
        project_id, f"{SOURCE_BUCKET}.products",
        [c["name"] for c in PRODUCT_DEFINITION], products(),
        primary_key=["id"], definition=PRODUCT_DEFINITION,
    )  # fmt: skip


PRODUCT_DEFINITION = [
    {"name": "id", "definition": {"type": "INTEGER", "nullable": False}},
    {"name": "name", "definition": {"type": "VARCHAR", "length": "255"}},
    {"name": "price", "definition": {"type": "NUMERIC", "length": "12,2"}},
    {"name": "in_stock", "definition": {"type": "BOOLEAN"}},
    {"name": "launched", "definition": {"type": "DATE"}},
]


def customers() -> Iterator[list[str | None]]:
    rng = random.Random(1)
    start = date(2020, 1, 1)
    for index in range(1, CUSTOMERS + 1):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        email = "" if index % 97 == 0 else f"customer{index}@example.com"
        yield [
            str(index), f"{first} {last}", email, rng.choice(_CITIES), rng.choice(_NOTES),
            (start + timedelta(days=index % 1500)).isoformat(),
        ]  # fmt: skip


def orders(count: int) -> Iterator[list[str | None]]:
    rng = random.Random(2)
    start = date(2023, 1, 1)
    for index in range(1, count + 1):
        note = _NOTES[index % len(_NOTES)] if index % 10 == 0 else ""
        yield [
            str(index), str(rng.randint(1, CUSTOMERS)), str(rng.randint(1, 50)),
            str(rng.randint(1, 9)), f"{rng.randint(100, 99_999) / 100:.2f}",
            _STATUSES[index % len(_STATUSES)], (start + timedelta(days=index % 700)).isoformat(),
            note,
        ]  # fmt: skip


def events() -> Iterator[list[str | None]]:
    rng = random.Random(3)
    for index in range(EVENTS):
        # Without a primary key the same event may appear twice, as appends allow.
        minute = index - index % 7
        yield [
            str(rng.randint(1, CUSTOMERS)), _EVENT_TYPES[index % len(_EVENT_TYPES)],
            "" if index % 3 else f'{{"page": "/p/{index}", "ref": "a,b"}}',
            f"2024-03-{1 + minute % 28:02d}T{minute % 24:02d}:{minute % 60:02d}:00Z",
        ]  # fmt: skip


def products() -> Iterator[list[str | None]]:
    names = ["Kávovar „Espresso“", 'Monitor 27"', "Desk, oak", "Lamp\nwith cord", "Čaj 🍵"]
    for index in range(1, 51):
        yield [
            str(index), f"{names[index % len(names)]} #{index}", f"{index * 3.5:.2f}",
            "true" if index % 4 else "false",
            None if index % 11 == 0 else f"2022-{1 + index % 12:02d}-{1 + index % 28:02d}",
        ]  # fmt: skip
