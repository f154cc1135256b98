"""The web console (cove.console)."""
