"""The rule-matrix models behind a real user pool, identity pool and API key."""

from rules_schema import schema

from cove import define_auth, define_data

auth = define_auth(login_with={"email": True}, groups=["Admins", "HR", "TeamB", "Ops"], allow_guest_access=True)
data = define_data(schema=schema, authorization_modes={"default_authorization_mode": "user_pool"})
