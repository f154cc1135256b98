"""Hostile inputs across every route (cross-cutting: identity, leaks, load, brute force)."""
