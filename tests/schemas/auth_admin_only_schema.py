"""A user pool without self sign-up: only admins (AdminCreateUser, `cove users add`) create users."""

from cove import a, define_auth, define_data

schema = a.schema({
    "Note": a.model({"body": a.string()}).authorization(lambda allow: [allow.owner()]),
})

auth = define_auth(login_with={"email": True}, self_sign_up=False)
data = define_data(schema=schema)
