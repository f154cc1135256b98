"""The Python client (cove.client, cove.auth)."""
