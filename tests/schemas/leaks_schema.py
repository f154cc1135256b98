"""Hostile-test models: related records and fields a reader may not see, rules that differ per level."""

from cove import a, define_auth, define_data

OWNER_ONLY = lambda allow: [allow.owner()]  # noqa: E731
ADMINS_ONLY = lambda allow: [allow.group("Admins")]  # noqa: E731

schema = a.schema({
    # Signed-in users read blogs; only the owner reads `secret`. An API key reads no blog at all.
    "Blog": a.model({
        "name": a.string(),
        "secret": a.string().authorization(OWNER_ONLY),
        "posts": a.has_many("Post", "blogId"),
    }).authorization(lambda allow: [allow.owner(), allow.authenticated().to(["read"])]),
    # Posts are public to API keys and signed-in users; the owner writes them.
    "Post": a.model({
        "title": a.string(),
        "blogId": a.id(),
        "blog": a.belongs_to("Blog", "blogId"),
    }).authorization(lambda allow: [allow.owner(), allow.public_api_key().to(["read"]),
                                    allow.authenticated().to(["read"])]),
    # Everyone signed in reads and writes tickets; only Admins read `verdict`, the owner reads `pin`.
    "Ticket": a.model({
        "title": a.string(),
        "verdict": a.string().authorization(
            lambda allow: [allow.group("Admins"), allow.authenticated().to(["create", "update"])]),
        "pin": a.string().authorization(lambda allow: [allow.owner(), allow.authenticated().to(["create"])]),
    }).authorization(lambda allow: [allow.owner(), allow.authenticated().to(["read", "update", "delete"])])
      .secondary_indexes(lambda index: [index("title").sort_keys(["verdict"]).query_field("ticketsByTitle"),
                                        index("verdict").query_field("ticketsByVerdict")]),
})

auth = define_auth(login_with={"email": True}, groups=["Admins"])
data = define_data(schema=schema, authorization_modes={"default_authorization_mode": "user_pool",
                                                       "api_key_authorization_mode": {"expires_in_days": 30}})
