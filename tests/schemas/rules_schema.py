"""One model per authorization rule, for the rule matrix tests."""

from cove import a, define_data

schema = a.schema({
    "PublicNote": a.model({"body": a.string()}).authorization(lambda allow: [allow.public_api_key()]),
    "OwnerNote": a.model({"body": a.string()}).authorization(lambda allow: [allow.owner()]),
    "ReadableNote": a.model({"body": a.string()}).authorization(
        lambda allow: [allow.owner(), allow.authenticated().to(["read"])]),
    "ClaimNote": a.model({"body": a.string()}).authorization(
        lambda allow: [allow.owner().identity_claim("email")]),
    "AuthorNote": a.model({"body": a.string(), "author": a.string()}).authorization(
        lambda allow: [allow.owner_defined_in("author")]),
    "SharedDoc": a.model({"body": a.string(), "editors": a.string().array()}).authorization(
        lambda allow: [allow.owners_defined_in("editors"), allow.group("Admins")]),
    "AdminOnly": a.model({"body": a.string()}).authorization(lambda allow: [allow.groups(["Admins", "Ops"])]),
    "ClaimGroup": a.model({"body": a.string()}).authorization(
        lambda allow: [allow.group("Editors").with_claim_in("roles")]),
    "TeamPost": a.model({"body": a.string(), "team": a.string()}).authorization(
        lambda allow: [allow.group_defined_in("team"), allow.public_api_key().to(["read"])]),
    "MultiTeamPost": a.model({"body": a.string(), "teams": a.string().array()}).authorization(
        lambda allow: [allow.groups_defined_in("teams")]),
    "GuestBook": a.model({"body": a.string()}).authorization(
        lambda allow: [allow.guest().to(["read", "create"]), allow.authenticated("identity_pool")]),
    "Members": a.model({"body": a.string()}).authorization(lambda allow: [allow.authenticated()]),
    "Custom": a.model({"body": a.string()}).authorization(lambda allow: [allow.custom()]),
    "ReadOnlyKey": a.model({"body": a.string()}).authorization(
        lambda allow: [allow.public_api_key().to(["read"]), allow.owner()]),
    "ListOnly": a.model({"body": a.string()}).authorization(
        lambda allow: [allow.public_api_key().to(["list"])]),
    "Salary": a.model({
        "name": a.string(),
        "amount": a.integer().authorization(lambda allow: [allow.owner().to(["read"]), allow.group("HR")]),
        "owner": a.string().authorization(lambda allow: [allow.owner().to(["read", "delete"]), allow.group("HR")]),
    }).authorization(lambda allow: [allow.owner(), allow.group("HR")]),
    "Profile": a.model({
        "name": a.string(),
        "ssn": a.string().authorization(lambda allow: [allow.owner()]),
    }).authorization(lambda allow: [allow.owner(), allow.authenticated().to(["read"])]),
})

data = define_data(schema=schema, authorization_modes={"default_authorization_mode": "user_pool"})
