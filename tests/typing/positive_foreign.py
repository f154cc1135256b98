"""A client generated from the amplify_outputs.json of an Amplify Gen 2 backend written in TypeScript
(tests/fixtures/amplify_outputs_gen2_blog.json): relationships, enums, custom types, composite keys,
secondary indexes, disabled operations, custom queries and mutations with input types."""

from __future__ import annotations

from typing import reveal_type

from blog_client import generate_async_client, generate_client


def blog() -> None:
    client = generate_client()
    post = client.models.Post.get({"id": "p1"}, auth_mode="userPool").data
    assert post is not None
    reveal_type(post.status)  # R: Literal['DRAFT', 'PUBLISHED', 'ARCHIVED'] | None
    reveal_type(post.location)  # R: Location | None
    reveal_type(post.metadata)  # R: str | None
    reveal_type(post.tags)  # R: list[str | None] | None
    reveal_type(post.blog())  # R: Result[Blog | None]
    reveal_type(post.comments())  # R: Result[list[Comment]]
    reveal_type(client.models.Comment.list().data[0].author)  # R: str | None
    reveal_type(client.models.Post.listPostsByBlog({"blogId": "b1", "publishedAt": {"between": ["2024", "2025"]}}))  # R: Result[list[Post]]
    client.models.Post.create({"title": "t", "metadata": {"k": [1, 2]}, "location": {"lat": 1.0, "long": 2.0}, "blog": {"id": "b1"}})


def orders() -> None:
    client = generate_client()
    order = client.models.Order.get({"customerId": "c1", "placedAt": "2024-01-01T00:00:00Z"}).data
    assert order is not None
    reveal_type(order["items"])  # R: list[OrderLine]
    reveal_type(order.items)  # R: list[OrderLine]
    reveal_type(order.shippingAddress)  # R: Address | None
    placed = client.mutations.placeOrder({"customerId": "c1", "currency": "EUR",
                                          "lines": [{"sku": "a", "quantity": 1, "unitPrice": 3.0}],
                                          "shipTo": {"street": "s", "city": "c", "location": {"lat": 1.0, "long": 2.0}}})
    reveal_type(placed)  # R: Result[Order | None]
    reveal_type(client.queries.getPostStats({"blogId": "b1"}))  # R: Result[PostStats | None]
    reveal_type(client.queries.searchPosts({"term": "x", "statuses": ["DRAFT"]}))  # R: Result[list[Post] | None]
    reveal_type(client.queries.serverTime())  # R: Result[str | None]
    reveal_type(client.queries.echo())  # R: Result[str | None]
    reveal_type(client.models.AuditEvent.create({"action": "login", "at": 1700000000}))  # R: Result[AuditEvent | None]


async def async_blog() -> None:
    client = generate_async_client()
    blog = (await client.models.Blog.get({"id": "b1"})).data
    if blog is not None:
        reveal_type(await blog.posts())  # R: Result[list[AsyncPost]]
    reveal_type(await client.mutations.likePost({"postId": "p1"}))  # R: Result[AsyncPost | None]
