"""The sync typed client of a schema written in Python (tests/schemas/shop_schema.py)."""

from __future__ import annotations

from typing import reveal_type

from shop_client import Customer, CustomerFilter, Order, OrderCreateInput, generate_client


def crud() -> None:
    client = generate_client(auth_mode="api_key")
    reveal_type(client)  # R: Client
    reveal_type(client.models.Customer)  # R: CustomerModelClient
    created = client.models.Customer.create({"name": "Ann", "tier": "gold", "address": {"street": "s", "city": "c"}})
    reveal_type(created)  # R: Result[Customer | None]
    reveal_type(created.errors)  # R: list[GraphQLError]
    customer = created.data
    assert customer is not None
    reveal_type(customer.id)  # R: str
    reveal_type(customer.name)  # R: str
    reveal_type(customer.email)  # R: str | None
    reveal_type(customer.tier)  # R: Literal['basic', 'gold'] | None
    reveal_type(customer.address)  # R: Address | None
    reveal_type(customer.createdAt)  # R: str
    reveal_type(customer["name"])  # R: Any
    reveal_type(customer.orders())  # R: Result[list[Order]]
    reveal_type(client.models.Customer.get({"id": customer.id}))  # R: Result[Customer | None]
    reveal_type(client.models.Customer.get(customer))  # R: Result[Customer | None]
    reveal_type(client.models.Customer.update({"id": customer.id, "email": None}))  # R: Result[Customer | None]
    reveal_type(client.models.Customer.delete(customer, auth_mode="apiKey"))  # R: Result[Customer | None]

    data: OrderCreateInput = {"customerId": customer.id, "placedAt": "2024-05-01T10:00:00Z", "total": 10.0,
                              "currency": "EUR", "lines": [{"sku": "a", "quantity": 1, "unitPrice": 10.0}]}
    order = client.models.Order.create(data).data
    assert order is not None
    reveal_type(order.currency)  # R: Literal['EUR', 'USD', 'GBP']
    reveal_type(order.status)  # R: Literal['open', 'shipped', 'closed'] | None
    reveal_type(order.lines)  # R: list[Line | None] | None
    reveal_type(order.total)  # R: float
    reveal_type(order.customer())  # R: Result[Customer | None]


def lists() -> None:
    client = generate_client()
    only_gold: CustomerFilter = {"tier": {"eq": "gold"}, "or": [{"name": {"beginsWith": "A"}}], "not": {"email": {"attributeExists": False}}}
    page = client.models.Customer.list(filter=only_gold, limit=10)
    reveal_type(page)  # R: Result[list[Customer]]
    reveal_type(page.next_token)  # R: str | None
    reveal_type(client.models.Customer.list_all())  # R: Iterator[Customer]
    orders = client.models.Order.list(customerId="c1", placedAt={"beginsWith": "2024"}, sort_direction="DESC")
    reveal_type(orders.data)  # R: list[Order]
    by_status = client.models.Order.listOrderByStatusAndPlacedAt({"status": "open", "placedAt": {"ge": "2024"}})
    reveal_type(by_status)  # R: Result[list[Order]]
    reveal_type(client.enums.Currency.values())  # R: list[Literal['EUR', 'USD', 'GBP']]


def beyond_amplify() -> None:
    client = generate_client()
    reveal_type(client.models.Customer.count(filter={"tier": {"eq": "gold"}}))  # R: Result[int | None]
    reveal_type(client.models.Order.aggregate("sum", "total"))  # R: Result[float | None]
    reveal_type(client.models.Order.aggregate("avg", "total", group_by="status"))  # R: Result[dict[Any, float | None]]
    reveal_type(client.models.Order.aggregate("count", group_by="currency"))  # R: Result[dict[Any, int]]
    reveal_type(client.models.Order.aggregate("max", "placedAt", filter={"status": {"eq": "open"}}))  # R: Result[Any]
    reveal_type(client.models.Customer.list(sort_by="name", sort_direction="DESC"))  # R: Result[list[Customer]]
    reveal_type(client.models.Customer.list_all(sort_by=["tier", "name"], limit=50))  # R: Iterator[Customer]
    found = client.models.Customer.search("ann", filter={"tier": {"eq": "gold"}}, limit=10)
    reveal_type(found)  # R: Result[list[Customer]]
    reveal_type(client.models.Customer.batch_get([{"id": "c1"}, {"id": "c2"}]))  # R: Result[list[Customer | None]]
    reveal_type(client.models.Customer.batch_create([{"name": "Ann"}]))  # R: list[Result[Customer | None]]
    reveal_type(client.models.Customer.batch_delete([{"id": "c1"}]))  # R: list[Result[Customer | None]]
    item = client.models.Customer.create_item({"name": "Ann"}, condition={"name": {"attributeExists": False}})
    reveal_type(item)  # R: TransactItem[Customer]
    gone = client.models.Customer.delete_item({"id": "c1"})
    reveal_type(client.transact([item, gone, client.models.Customer.update_item({"id": "c2", "name": "B"})]))  # R: Result[list[Record]]


def custom_operations() -> None:
    client = generate_client()
    reveal_type(client.queries.orderCount({"customerId": "c1"}))  # R: Result[int | None]
    reveal_type(client.queries.greet({"names": ["a"]}).data)  # R: str | None
    quote = client.mutations.quote({"lines": [{"sku": "a", "quantity": 2, "unitPrice": 1.5}], "currency": "USD"})
    reveal_type(quote)  # R: Result[QuoteReturnType | None]
    if quote.data is not None:
        reveal_type(quote.data.lineCount)  # R: int


def realtime() -> None:
    client = generate_client()
    reveal_type(client.models.Order.on_create(filter={"total": {"gt": 100}}))  # R: Subscription[Order]
    with client.models.Customer.on_update() as updates:
        for customer in updates:
            reveal_type(customer)  # R: Customer
    for snapshot in client.models.Customer.observe_query(sort_by="name"):
        reveal_type(snapshot.items)  # R: list[Customer]
        reveal_type(snapshot.is_synced)  # R: bool


def annotate(customer: Customer, order: Order) -> str:
    return f"{customer.name}: {order.total}"
