"""Mistakes both checkers must report: each marked line, with this pyright rule and mypy code."""

from __future__ import annotations

from blog_client import generate_client as generate_blog_client
from shop_client import generate_async_client, generate_client


def mistakes() -> None:
    client = generate_client()
    client.models.Custmer.list()  # E: reportAttributeAccessIssue attr-defined
    customer = client.models.Customer.get({"id": "c1"}).data
    assert customer is not None
    print(customer.nmae)  # E: reportAttributeAccessIssue attr-defined
    client.models.Customer.create({"name": "Ann", "emial": "a@example.com"})  # E: reportArgumentType typeddict-unknown-key
    client.models.Customer.create({"name": 42})  # E: reportArgumentType typeddict-item
    client.models.Customer.create({"email": "a@example.com"})  # E: reportArgumentType typeddict-item
    client.models.Customer.create({"name": "Ann", "tier": "platinum"})  # E: reportArgumentType typeddict-item
    client.models.Customer.update({"id": "c1", "createdAt": "2024-01-01T00:00:00Z"})  # E: reportArgumentType typeddict-unknown-key
    client.models.Customer.update({"name": "Ann"})  # E: reportArgumentType typeddict-item
    client.models.Customer.list(auth_mode="apikey")  # E: reportArgumentType call-overload
    client.models.Customer.list(filter={"name": {"eq": 3}})  # E: reportArgumentType call-overload
    client.models.Customer.list(filter={"nmae": {"eq": "Ann"}})  # E: reportArgumentType call-overload
    # `list` is overloaded (sort_by takes a direction on any model), so mypy names the overload
    client.models.Customer.list(sort_direction="DESC")  # E: reportCallIssue call-overload
    client.models.Order.create({"customerId": "c1", "placedAt": "2024", "total": "12.50", "currency": "EUR"})  # E: reportArgumentType typeddict-item
    client.queries.orderCount({})  # E: reportArgumentType typeddict-item
    client.queries.orderCount({"customer": "c1"})  # E: reportArgumentType typeddict-unknown-key
    client.mutations.refund({"id": "x"})  # E: reportAttributeAccessIssue attr-defined
    client.models.Order.listOrderByStatusAndPlacedAt({"placedAt": {"ge": "2024"}})  # E: reportArgumentType typeddict-item
    client.models.Customer.get({"id": "c1"}, selection_set="id")  # E: reportArgumentType arg-type
    client.models.Customer.list(sort_by="nmae")  # E: reportArgumentType arg-type
    client.models.Customer.list(sort_by="address")  # E: reportArgumentType arg-type
    client.models.Order.aggregate("sum", "status")  # E: reportCallIssue call-overload
    client.models.Order.aggregate("avg", "currency", group_by="status")  # E: reportCallIssue call-overload
    client.models.Order.aggregate("median", "total")  # E: reportCallIssue call-overload
    client.models.Customer.aggregate("sum", "name")  # E: reportCallIssue call-overload
    client.models.Customer.create_item({"nmae": "Ann"})  # E: reportArgumentType typeddict-unknown-key
    client.transact([{"createCustomer": {"name": "Ann"}}])  # E: reportArgumentType list-item
    client.models.Order.search("open")  # E: reportAttributeAccessIssue attr-defined


async def async_mistakes() -> None:
    client = generate_async_client()
    page = client.models.Customer.list()
    _ = page.data  # E: reportAttributeAccessIssue attr-defined
    customer = (await client.models.Customer.get({"id": "c1"})).data
    assert customer is not None
    _ = customer.orders().data  # E: reportAttributeAccessIssue attr-defined


def foreign_mistakes() -> None:
    client = generate_blog_client()
    client.models.AuditEvent.delete({"id": "a1"})  # E: reportAttributeAccessIssue attr-defined
    client.models.AuditEvent.on_create()  # E: reportAttributeAccessIssue attr-defined
    client.models.Post.create({"title": "t", "status": "draft"})  # E: reportArgumentType typeddict-item
    client.mutations.placeOrder({"customerId": "c1", "currency": "EUR", "lines": [{"sku": "a", "quantity": 1}]})  # E: reportArgumentType typeddict-item
