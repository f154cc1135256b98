"""A user pool without guest access, phone sign-in and a relaxed password policy."""

from cove import a, define_auth, define_data

schema = a.schema({
    "Note": a.model({"body": a.string()}).authorization(lambda allow: [allow.authenticated()]),
})

auth = define_auth(login_with={"email": True, "phone": True},
                   password_policy={"min_length": 6, "require_symbols": False, "require_uppercase": False})
data = define_data(schema=schema, authorization_modes={"default_authorization_mode": "api_key"})
