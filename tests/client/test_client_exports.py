"""``cove.client.__all__`` and the module agree (httpx's tests/test_exported_members.py idea).

A public name imported into ``cove/client/__init__.py`` but missing from ``__all__`` (or listed but
absent) fails here, so the public face cannot drift from what the module really offers.
"""

from __future__ import annotations

import types

import cove.client

#: Public-looking names of the module that are not exports: what its own code uses.
NOT_EXPORTED = {
    "annotations",      # from __future__
    "Mapping",          # typing of generate_client()'s signature
    "httpx", "ssl",     # idem
    "DEFAULT_TIMEOUT",  # generate_client()'s default timeout (httpx.Timeout), readable but not API
}


def test_all_matches_the_public_names() -> None:
    public = {name for name, value in vars(cove.client).items()
              if not name.startswith("_") and not isinstance(value, types.ModuleType)}
    assert sorted(public - NOT_EXPORTED) == sorted(cove.client.__all__)


def test_all_has_no_duplicates_and_every_name_resolves() -> None:
    assert len(set(cove.client.__all__)) == len(cove.client.__all__)
    for name in cove.client.__all__:
        assert getattr(cove.client, name) is not None, name

