"""What both ends of the wire share (cove.wire)."""
