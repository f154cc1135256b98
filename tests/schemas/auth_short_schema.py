"""A user pool whose access tokens live 3 seconds, to watch the client refresh them."""

from cove import a, define_auth, define_data

schema = a.schema({
    "Note": a.model({"body": a.string()}).authorization(lambda allow: [allow.authenticated()]),
})

auth = define_auth(login_with={"email": True}, access_token_validity=3, id_token_validity=3)
data = define_data(schema=schema)
