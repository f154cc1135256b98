"""The compiled engine: rules, relations, statement counts (cove.server.engine)."""
