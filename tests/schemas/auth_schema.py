"""Auth tests: a user pool with groups and guest access; models for each static rule kind."""

from cove import a, define_auth, define_data

schema = a.schema({
    "Note": a.model({
        "body": a.string(),
    }).authorization(lambda allow: [allow.authenticated()]),
    "Poster": a.model({
        "title": a.string(),
    }).authorization(lambda allow: [allow.guest(), allow.authenticated("identity_pool"), allow.public_api_key()]),
    "Secret": a.model({
        "text": a.string(),
    }).authorization(lambda allow: [allow.authenticated("identity_pool")]),
})

auth = define_auth(login_with={"email": True}, groups=["Admins", "Editors"], allow_guest_access=True)
data = define_data(schema=schema)
