"""Real-time tests: a public to-do model, owner/group-protected models, a write-only model."""

from cove import a, define_auth, define_data


def publish(event: dict) -> dict:
    args = event["arguments"]
    return {"channel": args["channel"], "text": args.get("text")}


PUBLIC = lambda allow: [allow.public_api_key()]  # noqa: E731

schema = a.schema({
    "Todo": a.model({
        "content": a.string().required(),
        "done": a.boolean().default(False),
        "priority": a.enum(["low", "medium", "high"]),
        "rank": a.integer(),
        "tags": a.string().array(),
    }).authorization(lambda allow: [allow.public_api_key(), allow.authenticated()]),
    # Owners see their own notes; an API key may create notes but not read or listen.
    "Note": a.model({"body": a.string()}).authorization(
        lambda allow: [allow.owner(), allow.public_api_key().to(["create"])]),
    # Owners see their own memos; Admins see all of them.
    "Memo": a.model({"body": a.string()}).authorization(lambda allow: [allow.owner(), allow.group("Admins")]),
    # Members of the group named in `team` see the board.
    "Board": a.model({"body": a.string(), "team": a.string()}).authorization(
        lambda allow: [allow.group_defined_in("team"), allow.authenticated().to(["create"])]),
    # Everyone signed in reads profiles, but only the owner reads `ssn`.
    "Profile": a.model({
        "name": a.string(),
        "ssn": a.string().authorization(lambda allow: [allow.owner()]),
    }).authorization(lambda allow: [allow.owner(), allow.authenticated().to(["read"])]),
    "Drop": a.model({"body": a.string()}).authorization(
        lambda allow: [allow.public_api_key().to(["create", "update", "delete"])]),
    # Custom subscriptions: to a custom mutation (filtered by argument), and to a model mutation.
    "Message": a.custom_type({"channel": a.string().required(), "text": a.string()}),
    "publish": a.mutation().arguments({"channel": a.string().required(), "text": a.string()})
    .returns(a.ref("Message")).handler(publish).authorization(PUBLIC),
    "onPublish": a.subscription().for_mutations(["publish"]).arguments({"channel": a.string()})
    .returns(a.ref("Message")).authorization(PUBLIC),
    "onTodoMade": a.subscription().for_mutations(["createTodo"]).returns(a.ref("Todo")).authorization(PUBLIC),
})

auth = define_auth(login_with={"email": True}, groups=["Admins", "Red", "Blue"])
data = define_data(schema=schema, authorization_modes={"default_authorization_mode": "api_key"})
