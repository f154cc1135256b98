"""Issue 14's fields (count, aggregate, sortBy, transactWrite) under each kind of rule."""

from cove import a, define_auth, define_data

schema = a.schema({
    "Item": a.model({
        "title": a.string(),
        "qty": a.integer(),
        "price": a.float(),
        "category": a.enum(["tool", "food", "toy"]),
        "due": a.date(),
        "tags": a.string().array(),
        "notes": a.string(),
    }).authorization(lambda allow: [allow.public_api_key()]).searchable(["title", "notes"]),
    "OwnerItem": a.model({"title": a.string(), "qty": a.integer()}).authorization(
        lambda allow: [allow.owner()]).searchable(["title"]),
    "TeamItem": a.model({"title": a.string(), "qty": a.integer(), "team": a.string()}).authorization(
        lambda allow: [allow.group_defined_in("team")]).searchable(["title"]),
    "AdminItem": a.model({"title": a.string(), "qty": a.integer()}).authorization(
        lambda allow: [allow.group("Admins")]),
    "Pay": a.model({
        "name": a.string(),
        "amount": a.integer().authorization(lambda allow: [allow.owner().to(["read"]), allow.group("HR")]),
        "secret": a.integer().authorization(lambda allow: [allow.group("HR")]),
        "review": a.string().authorization(lambda allow: [allow.owner().to(["read"]), allow.group("HR")]),
    }).authorization(lambda allow: [allow.owner(), allow.group("HR"), allow.authenticated().to(["read"])])
      .searchable(["name", "review"]),
})

auth = define_auth(login_with={"email": True}, groups=["Admins", "HR"])
data = define_data(schema=schema, authorization_modes={"default_authorization_mode": "user_pool",
                                                       "api_key_authorization_mode": {"expires_in_days": 30}})
