"""Sign-up policy tests: confirmation required, and an on_send_code hook that records every code.

The hook appends each event as a JSON line to ``codes.jsonl`` in the server's working directory, and
fails while a file named ``FAIL_DELIVERY`` exists there (to test a failed delivery).
"""

import asyncio
import json
from pathlib import Path

from cove import a, define_auth, define_data


async def record_code(event):  # async on purpose: the sync path is covered by the SMTP sender
    await asyncio.sleep(0)
    if Path("FAIL_DELIVERY").exists():
        raise RuntimeError("the mail relay is down")
    line = {"trigger": event.trigger, "trigger_source": event.trigger_source, "code": event.code,
            "destination": event.destination, "medium": event.delivery_medium, "username": event.username,
            "email": event.user_attributes.get("email"), "pool": event.user_pool_id}
    with open("codes.jsonl", "a") as fh:
        fh.write(json.dumps(line) + "\n")


schema = a.schema({
    "Note": a.model({"body": a.string()}).authorization(lambda allow: [allow.owner()]),
})

auth = define_auth(login_with={"email": True}, require_confirmation=True, on_send_code=record_code)
data = define_data(schema=schema)
