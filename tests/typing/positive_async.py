"""The async typed client: awaitables, async iterators, async subscriptions."""

from __future__ import annotations

from typing import reveal_type

from shop_client import AsyncCustomer, CustomerFields, generate_async_client


async def crud() -> None:
    client = generate_async_client()
    reveal_type(client)  # R: AsyncClient
    created = await client.models.Customer.create({"name": "Ann"})
    reveal_type(created)  # R: Result[AsyncCustomer | None]
    customer = created.data
    assert customer is not None
    reveal_type(customer.name)  # R: str
    reveal_type(await customer.orders(limit=5))  # R: Result[list[AsyncOrder]]
    reveal_type(client.models.Customer.list_all())  # R: AsyncIterator[AsyncCustomer]
    async for c in client.models.Customer.list_all(filter={"tier": {"eq": "basic"}}):
        reveal_type(c)  # R: AsyncCustomer
    reveal_type(await client.queries.orderCount({"customerId": customer.id}))  # R: Result[int | None]
    page = await client.models.Order.listOrderByStatusAndPlacedAt({"status": "shipped"})
    reveal_type(page.data)  # R: list[AsyncOrder]


async def beyond_amplify() -> None:
    client = generate_async_client()
    reveal_type(await client.models.Customer.count())  # R: Result[int | None]
    reveal_type(await client.models.Order.aggregate("min", "total"))  # R: Result[Any]
    reveal_type((await client.models.Customer.list(sort_by="email")).data)  # R: list[AsyncCustomer]
    reveal_type((await client.models.Customer.search("ann")).data)  # R: list[AsyncCustomer]
    reveal_type(await client.models.Customer.batch_get([{"id": "c1"}]))  # R: Result[list[AsyncCustomer | None]]
    reveal_type(await client.transact([client.models.Customer.create_item({"name": "Ann"})]))  # R: Result[list[Record]]


async def realtime() -> None:
    client = generate_async_client()
    subscription = await client.models.Customer.on_create()
    reveal_type(subscription)  # R: AsyncSubscription[AsyncCustomer]
    async with client.models.Customer.on_delete() as deleted:
        async for customer in deleted:
            reveal_type(customer)  # R: AsyncCustomer
    async for snapshot in client.models.Order.observe_query(filter={"status": {"eq": "open"}}):
        reveal_type(snapshot.items)  # R: list[AsyncOrder]


def shared(customer: CustomerFields) -> str:
    return customer.name


def takes_async(customer: AsyncCustomer) -> str:
    return shared(customer)
