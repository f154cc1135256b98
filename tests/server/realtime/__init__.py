"""Real time: the WebSocket protocol, subscriptions, fan-out (cove.server.realtime)."""
