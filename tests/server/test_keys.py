"""Composite primary keys, sort-key conditions, sortDirection and secondary-index queries."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Sandbox
from paths import TESTS

SCHEMA = TESTS / "schemas" / "keys_schema.py"
ORDER = "customerId placedAt total status"
LIST_ORDERS = (f"query ($customerId: String, $placedAt: ModelStringKeyConditionInput, $filter: ModelOrderFilterInput, "
               f"$limit: Int, $nextToken: String, $sortDirection: ModelSortDirection) {{ listOrders(customerId: "
               f"$customerId, placedAt: $placedAt, filter: $filter, limit: $limit, nextToken: $nextToken, "
               f"sortDirection: $sortDirection) {{ items {{ {ORDER} }} nextToken }} }}")


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Sandbox:
    from conftest import start_sandbox

    sb = start_sandbox(tmp_path_factory.mktemp("keys"), SCHEMA)
    q = f"mutation ($input: CreateOrderInput!) {{ createOrder(input: $input) {{ {ORDER} }} }}"
    for cust in ("c1", "c2"):
        for day in range(1, 6):
            body = sb.gql(q, {"input": {"customerId": cust, "placedAt": f"2026-01-0{day}T10:00:00.000Z",
                                        "total": float(day * 10 + (cust == "c2")),
                                        "status": "open" if day % 2 else "shipped"}})
            assert "errors" not in body, body
    r = "mutation ($input: CreateReadingInput!) { createReading(input: $input) { device } }"
    for day in ("2026-01-01", "2026-01-02"):
        for seq in (1, 2, 10):
            sb.gql(r, {"input": {"device": "d1", "day": day, "seq": seq, "value": seq / 2}})
    yield sb
    sb.stop()


def orders(box: Sandbox, **variables: object) -> dict:
    body = box.gql(LIST_ORDERS, variables)
    assert "errors" not in body, body
    return body["data"]["listOrders"]


def test_get_by_composite_key_and_duplicate(box: Sandbox) -> None:
    q = f"query ($c: String!, $p: AWSDateTime!) {{ getOrder(customerId: $c, placedAt: $p) {{ {ORDER} }} }}"
    got = box.gql(q, {"c": "c1", "p": "2026-01-02T10:00:00.000Z"})["data"]["getOrder"]
    assert got == {"customerId": "c1", "placedAt": "2026-01-02T10:00:00.000Z", "total": 20.0, "status": "shipped"}
    dup = box.gql("mutation { createOrder(input: {customerId: \"c1\", placedAt: \"2026-01-02T10:00:00.000Z\"}) "
                  "{ customerId } }")
    assert dup["errors"][0]["errorType"] == "DynamoDB:ConditionalCheckFailedException"


def test_partition_query_sort_condition_and_direction(box: Sandbox) -> None:
    asc = orders(box, customerId="c1")["items"]
    assert [o["placedAt"][:10] for o in asc] == [f"2026-01-0{d}" for d in range(1, 6)]
    desc = orders(box, customerId="c1", sortDirection="DESC")["items"]
    assert desc == list(reversed(asc))
    ge = orders(box, customerId="c1", placedAt={"ge": "2026-01-04"})["items"]
    assert [o["placedAt"][:10] for o in ge] == ["2026-01-04", "2026-01-05"]
    between = orders(box, customerId="c2", placedAt={"between": ["2026-01-02", "2026-01-03T23:59:59Z"]})["items"]
    assert [o["total"] for o in between] == [21.0, 31.0]
    begins = orders(box, customerId="c2", placedAt={"beginsWith": "2026-01-05"})["items"]
    assert len(begins) == 1 and begins[0]["total"] == 51.0
    filtered = orders(box, customerId="c1", filter={"status": {"eq": "open"}}, sortDirection="DESC")["items"]
    assert [o["placedAt"][:10] for o in filtered] == ["2026-01-05", "2026-01-03", "2026-01-01"]


def test_paging_in_descending_order(box: Sandbox) -> None:
    seen, token = [], None
    while True:
        page = orders(box, customerId="c1", sortDirection="DESC", limit=2, nextToken=token)
        seen += [o["placedAt"][:10] for o in page["items"]]
        token = page["nextToken"]
        if not token:
            break
    assert seen == [f"2026-01-0{d}" for d in range(5, 0, -1)]
    # a token from an ascending query is refused by a descending one
    asc_token = orders(box, customerId="c1", limit=2)["nextToken"]
    body = box.gql(LIST_ORDERS, {"customerId": "c1", "sortDirection": "DESC", "nextToken": asc_token})
    assert body["errors"][0]["errorType"] == "InvalidArgumentsError"


def test_scan_without_partition_and_sort_condition_alone(box: Sandbox) -> None:
    everything = orders(box)["items"]
    assert len(everything) == 10
    body = box.gql(LIST_ORDERS, {"placedAt": {"ge": "2026"}})
    assert body["data"]["listOrders"] is None and "customerId" in body["errors"][0]["message"]


def test_secondary_index_query(box: Sandbox) -> None:
    q = (f"query ($status: OrderStatus!, $total: ModelFloatKeyConditionInput, $sortDirection: ModelSortDirection, "
         f"$limit: Int, $nextToken: String) {{ listOrderByStatusAndTotal(status: $status, total: $total, "
         f"sortDirection: $sortDirection, limit: $limit, nextToken: $nextToken) {{ items {{ {ORDER} }} nextToken }} }}")
    shipped = box.gql(q, {"status": "shipped"})["data"]["listOrderByStatusAndTotal"]["items"]
    assert [o["total"] for o in shipped] == [20.0, 21.0, 40.0, 41.0]
    top = box.gql(q, {"status": "shipped", "total": {"gt": 20.5}, "sortDirection": "DESC", "limit": 2})
    page = top["data"]["listOrderByStatusAndTotal"]
    assert [o["total"] for o in page["items"]] == [41.0, 40.0] and page["nextToken"]
    rest = box.gql(q, {"status": "shipped", "total": {"gt": 20.5}, "sortDirection": "DESC", "limit": 2,
                       "nextToken": page["nextToken"]})["data"]["listOrderByStatusAndTotal"]
    assert [o["total"] for o in rest["items"]] == [21.0] and rest["nextToken"] is None


def test_composite_sort_key(box: Sandbox) -> None:
    q = ("query ($device: ID, $daySeq: ModelReadingPrimaryCompositeKeyConditionInput, $sortDirection: "
         "ModelSortDirection) { listReadings(device: $device, daySeq: $daySeq, sortDirection: $sortDirection) "
         "{ items { day seq } } }")
    every = box.gql(q, {"device": "d1"})["data"]["listReadings"]["items"]
    assert [(r["day"], r["seq"]) for r in every] == [
        ("2026-01-01", 1), ("2026-01-01", 2), ("2026-01-01", 10),
        ("2026-01-02", 1), ("2026-01-02", 2), ("2026-01-02", 10)]
    one_day = box.gql(q, {"device": "d1", "daySeq": {"beginsWith": {"day": "2026-01-02"}}})
    assert [(r["day"], r["seq"]) for r in one_day["data"]["listReadings"]["items"]] == [
        ("2026-01-02", 1), ("2026-01-02", 2), ("2026-01-02", 10)]
    exact = box.gql(q, {"device": "d1", "daySeq": {"eq": {"day": "2026-01-01", "seq": 2}}})
    assert [(r["day"], r["seq"]) for r in exact["data"]["listReadings"]["items"]] == [("2026-01-01", 2)]
    get = box.gql('query { getReading(device: "d1", day: "2026-01-02", seq: 10) { value } }')
    assert get == {"data": {"getReading": {"value": 5.0}}}


def test_update_and_delete_by_composite_key(box: Sandbox) -> None:
    upd = box.gql('mutation { updateOrder(input: {customerId: "c2", placedAt: "2026-01-01T10:00:00.000Z", '
                  'total: 99.5}) { total status } }')
    assert upd == {"data": {"updateOrder": {"total": 99.5, "status": "open"}}}
    gone = box.gql('mutation { deleteReading(input: {device: "d1", day: "2026-01-01", seq: 10}) { seq } }')
    assert gone == {"data": {"deleteReading": {"seq": 10}}}
    again = box.gql('mutation { deleteReading(input: {device: "d1", day: "2026-01-01", seq: 10}) { seq } }')
    assert again["errors"][0]["errorType"] == "DynamoDB:ConditionalCheckFailedException"
