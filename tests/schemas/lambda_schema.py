"""allow.custom() with a Lambda authorizer (sync, AppSync-style handler) plus API keys."""

import os

from cove import a, define_data

schema = a.schema({
    "Memo": a.model({
        "text": a.string(),
        "secret": a.string(),
    }).authorization(lambda allow: [allow.custom(), allow.public_api_key().to(["read"])]),
})

data = define_data(schema=schema, authorization_modes={
    "default_authorization_mode": "lambda",
    "lambda_authorization_mode": {"function": os.environ.get("COVE_TEST_AUTHORIZER", "lambda_authorizer:handler"),
                                  "time_to_live_in_seconds": 60},
})
