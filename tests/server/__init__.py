"""The server over real sockets: requests, errors, operations (cove.server)."""
