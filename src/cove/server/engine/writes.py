"""Model mutations: the values a create or update stores, and the checks before each write."""

from __future__ import annotations

from typing import Any

from cove.schema.model import Model
from cove.store.base import ConditionalCheckFailed, Record, RecordStore, TransactItem
from cove.wire.filters import matches
from cove.wire.scalars import new_record_id, now_iso

from ..authorization import Authorizer, Decision
from ..errors import FieldError
from ..identity import Identity
from .plan import list_fields


class Writes:
    """create/update/delete of one model record, as the caller may do them (``auth``: the caller's
    decision for the operation; ``denied``: the message a refusal carries)."""

    def __init__(self, authorizer: Authorizer, store: RecordStore) -> None:
        self.authorizer = authorizer
        self.store = store

    def _field_guard(self, model: Model, operation: str, given: list[str], record: Record | None,
                     identity: Identity) -> None:
        if not self.authorizer.has_field_rules(model):
            return
        denied = self.authorizer.field_denials(model, operation, given, record, identity)
        if denied:
            raise FieldError(f"Unauthorized on [{', '.join(denied)}]", "Unauthorized")

    async def create(self, model: Model, args: dict[str, Any], auth: Decision, identity: Identity,
                     denied: str) -> Record:
        # No TransactItem on this path: making one cost as much as the rest of the checks.
        values = self._allowed_create(model, args, auth, identity, denied)
        return await self.store.create(model, values, self._condition(model, args, identity))

    async def prepare_create(self, model: Model, args: dict[str, Any], auth: Decision, identity: Identity,
                             denied: str) -> TransactItem:
        """The create the caller may make (FieldError when they may not), not yet written."""
        values = self._allowed_create(model, args, auth, identity, denied)
        return TransactItem("create", model, values=values, condition=self._condition(model, args, identity))

    def _allowed_create(self, model: Model, args: dict[str, Any], auth: Decision, identity: Identity,
                        denied: str) -> Record:
        """The values a create stores, once the caller may write them (FieldError otherwise)."""
        given = args["input"]
        if self.authorizer.has_field_rules(model):   # (the list of given fields only when a rule reads it)
            self._field_guard(model, "create", [k for k, v in given.items() if v is not None], None, identity)
        values = self._create_values(model, given)
        if auth.row_filter is not None:
            for name, value in auth.owner_defaults.items():
                if values.get(name) is None:
                    values[name] = value  # the owner is the caller unless the input names them
            # An owner may only create records they own (or that name one of their groups).
            if not matches(auth.row_filter, values, list_fields(model)):
                raise FieldError(denied, "Unauthorized")
        return values

    async def _stored_for_write(self, model: Model, key: dict[str, Any], auth: Decision, denied: str,
                                missing_fails: bool = False) -> Record | None:
        stored = await self.store.get(model, key)
        if stored is None:
            if missing_fails:
                return None
            raise self._missing(model, key)
        if auth.row_filter is not None and not matches(auth.row_filter, stored, list_fields(model)):
            raise FieldError(denied, "Unauthorized")
        return stored

    def _condition(self, model: Model, args: dict[str, Any], identity: Identity) -> dict[str, Any] | None:
        return self.authorizer.blind_filter(model, args.get("condition"), identity)

    @staticmethod
    def _guarded(condition: dict[str, Any] | None, auth: Decision) -> dict[str, Any] | None:
        """The user's condition AND the row filter, so a concurrent change of owner cannot slip by."""
        if auth.row_filter is None:
            return condition
        return {"and": [condition, auth.row_filter]} if condition else auth.row_filter

    def _needs_stored(self, model: Model, auth: Decision) -> bool:
        """Whether a rule decides on the record as stored (an owner or group field, a field rule);
        otherwise an update or delete is one statement, its condition checked by the database."""
        return auth.row_filter is not None or self.authorizer.has_field_rules(model)

    async def _missing_or(self, model: Model, key: dict[str, Any], failed: ConditionalCheckFailed) -> FieldError:
        """After a one-statement write found no row: say whether the record is missing (read only now,
        on the failure path) or its condition failed."""
        if await self.store.get(model, key) is None:
            return self._missing(model, key)
        return FieldError(str(failed), failed.error_type)

    @staticmethod
    def _missing(model: Model, key: dict[str, Any]) -> FieldError:
        # AppSync's message and type (clients match on them), then the reason in plain words.
        shown = ", ".join(f"{k}={v!r}" for k, v in key.items())
        return FieldError(f"The conditional request failed: no {model.name} record with key {shown}",
                          "DynamoDB:ConditionalCheckFailedException")

    async def update(self, model: Model, args: dict[str, Any], auth: Decision, identity: Identity,
                     denied: str) -> Record:
        if not self._needs_stored(model, auth):
            # One statement, as prepare_update would give it, without making the TransactItem.
            key, changes = self._update_values(model, args["input"])
            try:
                return await self.store.update(model, key, changes, self._condition(model, args, identity))
            except ConditionalCheckFailed as failed:
                raise await self._missing_or(model, key, failed) from None
        item = await self.prepare_update(model, args, auth, identity, denied)
        return await self.store.update(model, item.key, item.values, item.condition)

    async def prepare_update(self, model: Model, args: dict[str, Any], auth: Decision, identity: Identity,
                             denied: str, *, missing_fails: bool = False) -> TransactItem:
        """The update the caller may make, not yet written (its condition holds the row filter, so a
        concurrent change of owner cannot slip by). A missing record raises AppSync's conditional
        failure, or with ``missing_fails`` gives an item marked failed (a transaction's reason)."""
        key, changes = self._update_values(model, args["input"])
        if not self._needs_stored(model, auth):
            # No rule decides on the stored record: one statement, the database checks the condition
            # (and a missing record fails it).
            return TransactItem("update", model, key=key, values=changes,
                                condition=self._condition(model, args, identity))
        stored = await self._stored_for_write(model, key, auth, denied, missing_fails)
        if stored is None:
            return TransactItem("update", model, key=key, values=changes, failed=True)
        self._field_guard(model, "update", [k for k in args["input"] if k not in model.identifier], stored, identity)
        if auth.row_filter is not None and not matches(auth.row_filter, {**stored, **changes}, list_fields(model)):
            # An owner cannot hand the record to someone else (or out of their groups).
            raise FieldError(denied, "Unauthorized")
        return TransactItem("update", model, key=key, values=changes,
                            condition=self._guarded(self._condition(model, args, identity), auth))

    async def delete(self, model: Model, args: dict[str, Any], auth: Decision, identity: Identity,
                     denied: str) -> Record:
        if not self._needs_stored(model, auth):
            key = {k: args["input"][k] for k in model.identifier}   # (see update)
            try:
                return await self.store.delete(model, key, self._condition(model, args, identity))
            except ConditionalCheckFailed as failed:
                raise await self._missing_or(model, key, failed) from None
        item = await self.prepare_delete(model, args, auth, identity, denied)
        return await self.store.delete(model, item.key, item.condition)

    async def prepare_delete(self, model: Model, args: dict[str, Any], auth: Decision, identity: Identity,
                             denied: str, *, missing_fails: bool = False) -> TransactItem:
        """The delete the caller may make, not yet written (see :meth:`prepare_update`)."""
        key = {k: args["input"][k] for k in model.identifier}
        if not self._needs_stored(model, auth):
            return TransactItem("delete", model, key=key, condition=self._condition(model, args, identity))
        stored = await self._stored_for_write(model, key, auth, denied, missing_fails)
        if stored is None:
            return TransactItem("delete", model, key=key, failed=True)
        self._field_guard(model, "delete", [f for f in stored if stored[f] is not None], stored, identity)
        return TransactItem("delete", model, key=key,
                            condition=self._guarded(self._condition(model, args, identity), auth))

    def _create_values(self, model: Model, given: dict[str, Any]) -> Record:
        values: Record = {}
        now = now_iso()
        for f in model.stored_fields():
            v = given.get(f.name)
            if v is None and f.has_default:
                v = f.default
            if v is not None:
                values[f.name] = v
        if "id" in model.fields and model.fields["id"].implicit and values.get("id") is None:
            values["id"] = new_record_id()
        for ts in model.timestamp_fields:
            if values.get(ts) is None:
                values[ts] = now  # AppSync: the input's value if given, else the time of the write
        return values

    def _update_values(self, model: Model, given: dict[str, Any]) -> tuple[dict[str, Any], Record]:
        key = {k: given[k] for k in model.identifier}
        changes: Record = {}
        updated_at = model.updated_at
        for name, value in given.items():
            if name in model.identifier or (name == updated_at and value is None):
                continue
            f = model.fields[name]
            if value is None and (f.required or f.array_required):
                raise FieldError(f"Cannot set the required field {model.name}.{name} to null",
                                 "InvalidArgumentsError")
            changes[name] = value
        if updated_at is not None and changes.get(updated_at) is None:
            changes[updated_at] = now_iso()
        return key, changes
