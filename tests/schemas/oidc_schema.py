"""OIDC mode against the issuer named by $COVE_TEST_OIDC_ISSUER (a test issuer on a real socket)."""

import os

from cove import a, define_data

schema = a.schema({
    "Doc": a.model({"title": a.string()}).authorization(lambda allow: [allow.authenticated("oidc")]),
    "Pub": a.model({"title": a.string()}).authorization(lambda allow: [allow.public_api_key()]),
})

data = define_data(schema=schema, authorization_modes={
    "default_authorization_mode": "oidc",
    "oidc_authorization_mode": {
        "oidc_provider_name": "test",
        "oidc_issuer_url": os.environ["COVE_TEST_OIDC_ISSUER"],
        "client_id": os.environ.get("COVE_TEST_OIDC_CLIENT", "cove-test-client"),
        "token_expiry_from_auth_in_seconds": int(os.environ.get("COVE_TEST_OIDC_AUTH_TTL", "3600")) or None,
        "token_expire_from_issue_in_seconds": 3600,
    },
})
