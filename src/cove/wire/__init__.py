"""What both ends of the wire share: the client and the server import these, never each other.

SigV4 signing and verification, SRP, AppSync filters and scalars, and the real-time frames.
Nothing here imports from ``cove.client`` or ``cove.server``.
"""
