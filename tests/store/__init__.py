"""The store contract suite (tests/store/test_contract*.py) and SQLite-specific store tests.

A package, so its conftest and modules get their own names next to tests/conftest.py."""
