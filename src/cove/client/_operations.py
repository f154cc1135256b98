"""Operations, I/O-free: what a call sends and how its payload becomes a :class:`Result`.

:class:`Operations` holds what building them needs (the schema, the document builder, the
:class:`~._shape.Shaper` and the client's loader factory), never the client itself. A client runs
an :class:`Operation` (``Client._run`` / ``AsyncClient._run``); a record's lazy loader is the
client's ``make_loader`` wrapped around a :data:`LoaderBuild` from here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

from ._documents import (
    DocumentBuilder,
    ModelOperation,
    custom_variables,
    identifier_variables,
    index_variables,
    js_truthy,
    list_variables,
    mutation_variables,
    prepare_raw_document,
)
from ._http import Payload, graphql_errors
from ._options import RequestInfo, RequestOptions, Resolved
from ._records import DynamicRecord, Record, Result
from ._schema import FieldInfo, ModelInfo, OperationInfo, SchemaInfo
from ._shape import Shaper, root_error
from .errors import ResponseShapeError

T = TypeVar("T")
RecordT = TypeVar("RecordT", bound=Record)


@dataclass(frozen=True)
class Operation(Generic[T]):
    """One prepared GraphQL call: I/O-free; a client runs it."""

    document: str
    variables: Mapping[str, Any]
    options: RequestOptions
    shape: Callable[[Payload], T]


@dataclass(frozen=True)
class Call:
    """An operation with its options resolved and its body encoded, ready for headers and I/O."""

    resolved: Resolved
    body: bytes
    base_headers: dict[str, str]
    info: RequestInfo
    writes: bool = False     # a mutation: retried only when it certainly did not run (see _http.retry_delay)


@dataclass(frozen=True)
class LoaderArgs:
    """What a lazy loader was called with: a page (hasMany) and per-call request options."""

    limit: int | None = None
    next_token: str | None = None
    options: RequestOptions = field(default_factory=RequestOptions)


#: Builds the call a lazy loader makes (or its answer, when no call is needed).
LoaderBuild = Callable[[LoaderArgs], "Operation[Result[Any]] | Result[Any]"]

#: Wraps a LoaderBuild into the callable a record exposes (``todo.comments()``); each client has one.
MakeLoader = Callable[[LoaderBuild], Callable[..., Any]]


class Operations:
    """Builds the operations of one client: a cached :class:`ModelOps` per model, a :class:`CustomOps`
    per custom query or mutation."""

    def __init__(self, schema: SchemaInfo, documents: DocumentBuilder, shaper: Shaper,
                 make_loader: MakeLoader) -> None:
        self.schema = schema
        self.documents = documents
        self.shaper = shaper
        self.make_loader = make_loader
        self._models: dict[str, ModelOps[Any]] = {}

    def model(self, name: str) -> ModelOps[Any]:
        ops = self._models.get(name)
        if ops is None:
            record_type = self.shaper.record_types.get(name, DynamicRecord)
            ops = self._models[name] = ModelOps(self, self.schema.models[name], record_type)
        return ops

    def custom(self, op: OperationInfo) -> CustomOps:
        return CustomOps(self, op)


def raw_operation(query: str, variables: Mapping[str, Any] | None,
                  options: RequestOptions) -> Operation[Result[Any]]:
    """``client.graphql(query)`` for a query or mutation: ``Result.data`` is the raw ``data``."""
    if not isinstance(query, str):
        raise TypeError("graphql() takes the document as a string")
    document, is_subscription = prepare_raw_document(query)
    if is_subscription:
        raise NotImplementedError("subscriptions run over the real-time WebSocket, which this "
                                  "client does not implement yet; graphql() sends queries and mutations")

    def shape(payload: Payload) -> Result[Any]:
        return Result(data=payload.get("data"), errors=graphql_errors(payload),
                      extensions=payload.get("extensions"))

    return Operation(document, dict(variables or {}), options, shape)


# -- model operations -----------------------------------------------------------------------------


class LazyLoaders(Mapping[str, Callable[..., Any]]):
    """One record's lazy loaders, each made when first read: most records of a page never use theirs."""

    __slots__ = ("_made", "_ops", "_parent", "_raw")

    def __init__(self, ops: ModelOps[Any], raw: Mapping[str, Any], parent: RequestOptions) -> None:
        self._ops = ops
        self._raw = raw
        self._parent = parent
        self._made: dict[str, Callable[..., Any]] = {}

    def __getitem__(self, name: str) -> Callable[..., Any]:
        loader = self._made.get(name)
        if loader is None:
            if name not in self._ops._loadable:
                raise KeyError(name)
            loader = self._made[name] = self._ops.loader(name, self._raw, self._parent)
        return loader

    def __contains__(self, name: object) -> bool:
        return name in self._ops._loadable

    def __iter__(self) -> Iterator[str]:
        return iter(self._ops._loadable)

    def __len__(self) -> int:
        return len(self._ops._loadable)


class ModelOps(Generic[RecordT]):
    """The I/O-free half of ``client.models.<Model>``: builds operations and shapes their results."""

    def __init__(self, operations: Operations, model: ModelInfo, record_type: type[RecordT]) -> None:
        self.operations = operations
        self.model = model
        self.record_type = record_type
        # The relationships a record gets a lazy loader for, found once (a page's every record asks):
        # those whose loader can be built (building one only makes closures; nothing is read).
        schema = operations.schema
        self._loadable = {f.name: (f, schema.models[f.type_name]) for f in model.fields.values()
                          if f.kind == "model" and f.association is not None and f.type_name in schema.models
                          and self._loader_build(f, schema.models[f.type_name], {}, RequestOptions()) is not None}

    def _document(self, operation: ModelOperation, selection_set: Sequence[str] | None,
                  query_field: str | None = None) -> str:
        key = None if selection_set is None else tuple(selection_set)
        if isinstance(selection_set, str):
            raise TypeError("selection_set must be a list of field paths, e.g. ['id', 'content']")
        return self.operations.documents.document(self.model.name, operation, key, query_field)

    # -- operations -----------------------------------------------------------------------------
    def mutation(self, operation: ModelOperation, data: Mapping[str, Any],
                 selection_set: Sequence[str] | None, options: RequestOptions
                 ) -> Operation[Result[RecordT | None]]:
        variables = mutation_variables(self.operations.schema, self.model, operation, data)
        return Operation(self._document(operation, selection_set), variables, options,
                         self._singular_shape(selection_set is None, options))

    def get(self, identifier: Mapping[str, Any], selection_set: Sequence[str] | None,
            options: RequestOptions) -> Operation[Result[RecordT | None]]:
        variables = identifier_variables(self.model, identifier, "get")
        return Operation(self._document("get", selection_set), variables, options,
                         self._singular_shape(selection_set is None, options))

    def list_page(self, *, filter: Mapping[str, Any] | None, limit: int | None, next_token: str | None,
             sort_direction: str | None, selection_set: Sequence[str] | None,
             key_args: Mapping[str, Any], options: RequestOptions,
             sort_by: str | Sequence[str] | None = None) -> Operation[Result[list[RecordT]]]:
        """A page; ``sort_by`` (a field or several, Cove servers only) orders it by any fields."""
        variables = list_variables(self.model, filter=filter, limit=limit, next_token=next_token,
                                   sort_direction=sort_direction, key_args=key_args, sort_by=sort_by)
        document = self._document("sorted_list" if sort_by is not None else "list", selection_set)
        return Operation(document, variables, options, self._list_shape(selection_set is None, options))

    def index_query(self, query_field: str, keys: Mapping[str, Any], *, filter: Mapping[str, Any] | None,
                    limit: int | None, next_token: str | None, sort_direction: str | None,
                    selection_set: Sequence[str] | None, options: RequestOptions
                    ) -> Operation[Result[list[RecordT]]]:
        index = self.model.index(query_field)
        if index is None:  # pragma: no cover - guarded by the model clients
            raise AttributeError(query_field)
        variables = index_variables(self.model, index, keys, filter=filter, limit=limit,
                                    next_token=next_token, sort_direction=sort_direction)
        return Operation(self._document("index", selection_set, query_field), variables, options,
                         self._list_shape(selection_set is None, options))

    # -- results --------------------------------------------------------------------------------
    def _singular_shape(self, lazy: bool, options: RequestOptions
                        ) -> Callable[[Payload], Result[RecordT | None]]:
        def shape(payload: Payload) -> Result[RecordT | None]:
            data = payload.get("data")
            errors = graphql_errors(payload)
            value: RecordT | None = None
            if isinstance(data, Mapping) and data:
                root, raw = next(iter(data.items()))  # the single root field
                if isinstance(raw, Mapping):
                    try:
                        value = self.record(raw, lazy, options, partial=bool(errors))
                    except ResponseShapeError as exc:
                        exc.path[:0] = [root]
                        raise
                elif raw is not None:
                    raise root_error(self.model.name, root, f"a {self.model.name} object", raw)
            return Result(data=value, errors=errors, extensions=payload.get("extensions"))
        return shape

    def _list_shape(self, lazy: bool, options: RequestOptions) -> Callable[[Payload], Result[list[RecordT]]]:
        def shape(payload: Payload) -> Result[list[RecordT]]:
            data = payload.get("data")
            errors = graphql_errors(payload)
            items: list[RecordT] = []
            token = None
            if isinstance(data, Mapping) and data:
                root, conn = next(iter(data.items()))
                connection = f"a Model{self.model.name}Connection object"
                if isinstance(conn, Mapping):
                    token = conn.get("nextToken")
                    if token is not None and not isinstance(token, str):
                        raise root_error(self.model.name, root, f"{connection} with a string nextToken", conn)
                    raw_items = conn.get("items")
                    if isinstance(raw_items, list):
                        for i, item in enumerate(raw_items):
                            if item is None:
                                continue  # an item AppSync could not resolve; its error is in `errors`
                            if not isinstance(item, Mapping):
                                raise root_error(self.model.name, root, f"a {self.model.name} object", item,
                                                  ["items", i])
                            try:
                                items.append(self.record(item, lazy, options, partial=bool(errors)))
                            except ResponseShapeError as exc:
                                exc.path[:0] = [root, "items", i]
                                raise
                    elif raw_items is not None:
                        raise root_error(self.model.name, root, f"a list of {self.model.name} objects",
                                          raw_items, ["items"])
                elif conn is not None:
                    raise root_error(self.model.name, root, connection, conn)
            return Result(data=items, errors=errors, next_token=token, extensions=payload.get("extensions"))
        return shape

    def record(self, raw: Mapping[str, Any], lazy: bool, options: RequestOptions, *,
               partial: bool = False) -> RecordT:
        loaders = LazyLoaders(self, raw, options.for_related()) if lazy and self._loadable else None
        shaper = self.operations.shaper
        return cast(RecordT, shaper.record(self.model.name, raw, self.record_type, loaders, partial=partial))

    # -- lazy loaders (Amplify's initializeModel) -----------------------------------------------
    def loader(self, name: str, raw: Mapping[str, Any], parent: RequestOptions) -> Callable[..., Any]:
        f, related = self._loadable[name]
        build = self._loader_build(f, related, raw, parent)
        assert build is not None   # _loadable holds only the relationships it builds for
        return self.operations.make_loader(build)

    def _loader_build(self, f: FieldInfo, related: ModelInfo, raw: Mapping[str, Any],
                      parent: RequestOptions) -> LoaderBuild | None:
        assert f.association is not None
        assoc = f.association
        operations = self.operations
        if assoc.connection_type == "BELONGS_TO" or (assoc.connection_type == "HAS_ONE" and assoc.target_names):
            # belongsTo, and hasOne in the older shape: this record holds the related key (targetNames).
            targets = assoc.target_names
            if not targets:
                return None

            def build_belongs_to(args: LoaderArgs) -> Operation[Result[Any]] | Result[Any]:
                fk = raw.get(targets[0])
                if not js_truthy(fk):
                    return Result(data=None)
                ident = {related.primary_key: fk}
                for i, sk in enumerate(related.sort_keys):
                    if i + 1 < len(targets):
                        ident[sk] = raw.get(targets[i + 1])
                op: Operation[Result[Any]] = operations.model(related.name).get(
                    ident, None, parent.override(args.options))
                return op

            return build_belongs_to
        if assoc.connection_type in ("HAS_MANY", "HAS_ONE"):
            connection = assoc.associated_with
            if connection:
                # associatedWith naming the child's belongsTo field (older MIS): use its targetNames
                child = related.fields.get(connection[0])
                if child is not None and child.kind == "model" and child.association is not None:
                    connection = child.association.target_names
            if not connection:
                return None
            parent_keys = self.model.identifier
            has_one = assoc.connection_type == "HAS_ONE"

            def build_has_many(args: LoaderArgs) -> Operation[Result[Any]] | Result[Any]:
                if not js_truthy(raw.get(parent_keys[0])):
                    return Result(data=None if has_one else [])
                conditions = [{fk: {"eq": raw.get(parent_keys[i]) if i < len(parent_keys) else None}}
                              for i, fk in enumerate(connection)]
                op = operations.model(related.name).list_page(
                    filter={"and": conditions}, limit=args.limit, next_token=args.next_token,
                    sort_direction=None, selection_set=None, key_args={},
                    options=parent.override(args.options))
                if not has_one:
                    return op
                list_shape = op.shape

                def first(payload: Payload) -> Result[Any]:
                    result = list_shape(payload)
                    return Result(data=result.data[0] if result.data else None, errors=result.errors,
                                  extensions=result.extensions)

                return Operation(op.document, op.variables, op.options, first)

            return build_has_many
        return None


# -- custom operations ----------------------------------------------------------------------------


class CustomOps:
    """The I/O-free half of ``client.queries.<op>`` and ``client.mutations.<op>`` (Amplify's
    ``custom.ts``): the document, the variables, and the result shaped like the operation's type
    (records for models and custom types, with lazy loaders on models)."""

    def __init__(self, operations: Operations, op: OperationInfo) -> None:
        self.operations = operations
        self.op = op

    def operation(self, args: Mapping[str, Any] | None, options: RequestOptions) -> Operation[Result[Any]]:
        variables = custom_variables(self.op, args)
        document = self.operations.documents.custom_document(self.op)
        return Operation(document, variables, options, self._shape(options))

    def _shape(self, options: RequestOptions) -> Callable[[Payload], Result[Any]]:
        def shape(payload: Payload) -> Result[Any]:
            data = payload.get("data")
            errors = graphql_errors(payload)
            value: Any = None
            if isinstance(data, Mapping) and data:
                root, raw = next(iter(data.items()))
                try:
                    value = self._convert(raw, bool(errors), options)
                except ResponseShapeError as exc:
                    exc.path[:0] = [root]
                    raise
            return Result(data=value, errors=errors, extensions=payload.get("extensions"))
        return shape

    def _convert(self, raw: Any, partial: bool, options: RequestOptions) -> Any:
        f = self.op.returns
        if f.is_array and isinstance(raw, list):
            raw = [item for item in raw if item is not None]  # Amplify drops null entries
        if f.kind != "model" or f.type_name not in self.operations.schema.models or raw is None:
            try:
                return self.operations.shaper.value(f, raw, partial, self.op.name)
            except ResponseShapeError as exc:
                if exc.type_name == self.op.name and exc.field == f.name:
                    exc.field = None  # the operation's own value: "echo should be a String"
                raise
        ops = self.operations.model(f.type_name)

        def one(item: Any) -> Any:
            if not isinstance(item, Mapping):
                raise ResponseShapeError(self.op.name, None, f"a {f.type_name} object", item)
            return ops.record(item, True, options, partial=partial)

        if f.is_array:
            if not isinstance(raw, list):
                raise ResponseShapeError(self.op.name, None, f"a list of {f.type_name} objects", raw)
            out = []
            for i, item in enumerate(raw):
                try:
                    out.append(one(item))
                except ResponseShapeError as exc:
                    exc.path[:0] = [i]
                    raise
            return out
        return one(raw)

