"""AppSync's real-time protocol at ``<graphql path>/realtime``: the server side.

- :mod:`.protocol`: one connection's protocol, without I/O (a :class:`~.protocol.State` enum; text
  frames in, frames and actions out);
- :mod:`.connection`: one WebSocket's ASGI receive loop, outgoing queue, back-pressure and timers;
- :mod:`.fastpath`: writing frames straight into uvicorn's WebSocket transport (fenced off, pinned);
- :mod:`.subscriptions`: a ``start`` message -> a subscription, through the engine's public API;
- :mod:`.hub`: the process's connections, subscriptions, broker and event fan-out;
- :mod:`.settings`: the limits (``--realtime-limit``).
"""
