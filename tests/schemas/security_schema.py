"""Security tests: owner, group and claim rules, and declared user attributes (one immutable)."""

from cove import a, define_auth, define_data

schema = a.schema({
    "Note": a.model({"body": a.string()}).authorization(lambda allow: [allow.owner()]),
    "AdminThing": a.model({"text": a.string()}).authorization(lambda allow: [allow.group("Admins")]),
    "TenantDoc": a.model({"text": a.string()}).authorization(
        lambda allow: [allow.owner().identity_claim("custom:tenant")]),
    "Item": a.model({"name": a.string(), "rank": a.integer(), "tags": a.string().array()}).authorization(
        lambda allow: [allow.public_api_key()]),
})

auth = define_auth(login_with={"email": True}, groups=["Admins"],
                   user_attributes={"custom:tenant": {"data_type": "String", "mutable": False},
                                    "custom:color": {}, "preferredUsername": {"mutable": True},
                                    "nickname": {"mutable": False}})
data = define_data(schema=schema, authorization_modes={"default_authorization_mode": "user_pool",
                                                       "api_key_authorization_mode": {"expires_in_days": 7}})
