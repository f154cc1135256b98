"""Typed clients at run time: `cove generate client`, `cove sandbox --typed-client`, the generated
module against a real sandbox (sync and async), custom queries and mutations, and the generated
Protocols checked against the runtime they describe."""

from __future__ import annotations

import importlib.util
import inspect
import json
import subprocess
import sys
import time
import types
import typing
import uuid
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import Sandbox

import cove
from cove.cli import main as cove_main
from cove.client import (
    AsyncClient,
    Client,
    DynamicRecord,
    Record,
    SchemaMismatchWarning,
)
from cove.codegen import GenerationError, generate_python_client, write_python_client
from cove.schema.loader import SchemaSource
from cove.schema.mis import to_mis
from paths import ROOT

SHOP = ROOT / "tests" / "schemas" / "shop_schema.py"
BLOG_OUTPUTS = ROOT / "tests" / "fixtures" / "amplify_outputs_gen2_blog.json"

pytestmark = pytest.mark.anyio


def load_module(path: Path) -> ModuleType:
    name = f"_typed_{uuid.uuid4().hex[:8]}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A sandbox on the shop schema writing its typed client module, and that module imported."""
    from conftest import start_sandbox

    folder = tmp_path_factory.mktemp("shop")
    box = start_sandbox(folder, SHOP, "--typed-client", str(folder / "shop_client.py"))
    module = load_module(folder / "shop_client.py")
    yield box, module
    box.stop()


def shop_mis() -> dict[str, Any]:
    return to_mis(SchemaSource(str(SHOP)).load().schema)


def blog_mis() -> dict[str, Any]:
    mis: dict[str, Any] = json.loads(BLOG_OUTPUTS.read_text())["data"]["model_introspection"]
    return mis


# -- generation -----------------------------------------------------------------------------------


def test_generation_is_deterministic_and_written_only_when_changed(tmp_path: Path) -> None:
    mis = shop_mis()
    assert generate_python_client(mis) == generate_python_client(json.loads(json.dumps(mis)))
    target = tmp_path / "pkg" / "client.py"
    assert write_python_client(target, mis) is True
    mtime = target.stat().st_mtime_ns
    assert write_python_client(target, mis) is False and target.stat().st_mtime_ns == mtime
    mis["models"]["Customer"]["fields"]["nickname"] = {"name": "nickname", "isArray": False, "type": "String",
                                                       "isRequired": False, "attributes": []}
    assert write_python_client(target, mis) is True
    assert "nickname: str | None" in target.read_text()


def test_cli_generate_client_from_outputs_and_from_a_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "blog_client.py"
    assert cove_main(["generate", "client", "--outputs", str(BLOG_OUTPUTS), "--out", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    text = out.read_text()
    assert "class PostModelClient(_t.Protocol):" in text and "def placeOrder(" in text
    assert cove_main(["generate", "client", "--outputs", str(BLOG_OUTPUTS), "--out", str(out)]) == 0
    assert "up to date" in capsys.readouterr().out

    shop_out = tmp_path / "shop_client.py"
    assert cove_main(["generate", "client", str(SHOP), "--out", str(shop_out)]) == 0
    assert shop_out.read_text() == generate_python_client(shop_mis(), source=str(SHOP))

    no_data = tmp_path / "outputs.json"
    no_data.write_text(json.dumps({"version": "1.4", "auth": {}}))
    assert cove_main(["generate", "client", "--outputs", str(no_data), "--out", str(out)]) == 2
    assert "has no data.model_introspection" in capsys.readouterr().err
    assert cove_main(["generate", "client", str(SHOP), "--outputs", str(BLOG_OUTPUTS)]) == 2
    assert "either a schema or --outputs" in capsys.readouterr().err


def test_awkward_names_are_handled(tmp_path: Path) -> None:
    """Names that cannot be Python attributes, that clash with the Record API or with the generated
    machinery, and builtins shadowed by fields still give a module that imports and works."""
    mis = awkward_mis()
    module_path = tmp_path / "awkward_client.py"
    write_python_client(module_path, mis)
    text = module_path.read_text()
    assert "class Client(_cc.Record):" not in text  # the model `Client` is a Fields/record class...
    assert "class Client_(_cc.Client):" in text     # ...and the typed client steps aside
    assert '"from": "_b.str | None"' in text           # a keyword key: functional TypedDict
    assert "reach them as ``record[name]``): from." in text
    # fields named like Mapping methods are attributes (they win over the methods on records)
    assert "    items: _b.str | None  # type: ignore[assignment]" in text
    module = load_module(module_path)
    assert module.Client_.record_types["Client"] is module.Client
    assert issubclass(module.Item, Record)


def test_names_that_cannot_be_generated_fail_clearly() -> None:
    mis = {"version": 1, "models": {}, "enums": {"Colour": {"name": "Colour", "values": ["red"]}},
           "nonModels": {"ColourInput": {"name": "ColourInput", "fields": {}}, "Colour-2": {"name": "Colour-2", "fields": {}}}}
    with pytest.raises(GenerationError, match="'Colour-2' is not a valid Python name"):
        generate_python_client(mis)
    del mis["nonModels"]["Colour-2"]
    mis["enums"]["ModelColourInput"] = {"name": "ModelColourInput", "values": ["x"]}
    with pytest.raises(GenerationError, match="ModelColourInput"):
        generate_python_client(mis)


def awkward_mis() -> dict[str, Any]:
    def f(name: str, type_: Any = "String", **extra: Any) -> dict[str, Any]:
        return {"name": name, "isArray": False, "type": type_, "isRequired": False, "attributes": [], **extra}

    def model(name: str, fields: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "pluralName": name + "s", "syncable": True, "fields": fields,
                "attributes": [{"type": "model", "properties": {}}],
                "primaryKeyInfo": {"isCustomPrimaryKey": False, "primaryKeyFieldName": "id", "sortKeyFieldNames": []}}

    item_fields = {n: f(n) for n in ("items", "from", "list", "str", "type", "values", "_version")}
    item_fields["id"] = f("id", "ID", isRequired=True)
    item_fields["count"] = f("count", "Int")
    item_fields["clientId"] = f("clientId", "ID")
    # a relationship named `items` next to a field named `keys`: loaders and fields both win over the
    # Mapping methods, and the record classes still type-check
    client_fields = {"id": f("id", "ID", isRequired=True), "name": f("name"),
                     "keys": f("keys", isArray=True, isArrayNullable=True),
                     "items": f("items", {"model": "Item"}, isArray=True, isArrayNullable=True,
                                association={"connectionType": "HAS_MANY", "associatedWith": ["clientId"]})}
    return {
        "version": 1,
        "models": {"Client": model("Client", client_fields), "Item": model("Item", item_fields)},
        "enums": {}, "nonModels": {},
        "queries": {"import": {"name": "import", "isArray": False, "type": "String", "isRequired": False},
                    "list": {"name": "list", "isArray": True, "type": {"model": "Item"}, "isRequired": False,
                             "isArrayNullable": True}},
    }


# -- the generated Protocols describe the runtime ---------------------------------------------------


def _protocol_methods(cls: type) -> list[tuple[str, inspect.Signature]]:
    """Each method's signature; an overloaded one's, once per overload."""
    out = []
    for name, member in vars(cls).items():
        if callable(member) and not name.startswith("_"):
            # A Protocol's overloads have no implementation: look them up by the method's name.
            named = types.SimpleNamespace(__module__=cls.__module__, __qualname__=f"{cls.__qualname__}.{name}")
            overloads = typing.get_overloads(named)  # type: ignore[arg-type]
            out += [(name, inspect.signature(o)) for o in overloads or [member]]
    return out


@pytest.mark.parametrize("source", ["shop", "blog"])
def test_generated_signatures_match_the_runtime_methods(tmp_path: Path, source: str) -> None:
    """Every method a generated Protocol declares exists on the runtime object, with every parameter
    the Protocol names (so the types describe calls that work)."""
    mis = shop_mis() if source == "shop" else blog_mis()
    module = load_module(_write(tmp_path, mis))
    outputs = {"version": "1.4", "data": {"url": "http://127.0.0.1:9/graphql", "aws_region": "us-east-1",
                                          "api_key": "da2-x", "default_authorization_type": "API_KEY",
                                          "model_introspection": mis}}
    checked = 0
    for client in (module.generate_client(config=outputs), module.generate_async_client(config=outputs)):
        prefix = "" if isinstance(client, Client) and not isinstance(client, AsyncClient) else "Async"
        targets: list[tuple[type, Any]] = [(getattr(module, f"{prefix}{m}ModelClient"), client.models[m])
                                           for m in mis["models"]]
        targets += [(getattr(module, f"{prefix}Queries"), client.queries),
                    (getattr(module, f"{prefix}Mutations"), client.mutations)]
        for protocol, runtime in targets:
            for name, sig in _protocol_methods(protocol):
                impl = getattr(runtime, name)
                params = inspect.signature(impl).parameters
                has_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
                for pname, p in sig.parameters.items():
                    if pname == "self" or p.kind is inspect.Parameter.VAR_KEYWORD:
                        continue
                    if p.kind is inspect.Parameter.POSITIONAL_ONLY:
                        assert any(q.kind in (q.POSITIONAL_ONLY, q.POSITIONAL_OR_KEYWORD) for q in params.values()), name
                    else:
                        assert pname in params or has_kwargs, f"{protocol.__name__}.{name}: no parameter {pname}"
                if inspect.iscoroutinefunction(getattr(protocol, name)):
                    call = impl if inspect.isfunction(impl) or inspect.ismethod(impl) else type(impl).__call__
                    assert inspect.iscoroutinefunction(call), f"{protocol.__name__}.{name} is not async at run time"
                checked += 1
        for option in ("auth_mode", "auth_token", "api_key", "headers", "endpoint"):
            assert option in inspect.signature(client.models[next(iter(mis["models"]))].list).parameters
    assert checked > 40


def test_client_options_match_generate_client() -> None:
    from cove.client.types import AsyncClientOptions, ClientOptions

    assert set(ClientOptions.__annotations__) | set(ClientOptions.__optional_keys__) == set(
        inspect.signature(cove.generate_client).parameters)
    assert set(AsyncClientOptions.__optional_keys__) == set(inspect.signature(cove.generate_async_client).parameters)


def _write(tmp_path: Path, mis: dict[str, Any]) -> Path:
    path = tmp_path / f"client_{uuid.uuid4().hex[:6]}.py"
    write_python_client(path, mis)
    return path


def test_a_client_generated_for_another_schema_warns(tmp_path: Path) -> None:
    module = load_module(_write(tmp_path, shop_mis()))
    outputs = {"version": "1.4", "data": {"url": "http://127.0.0.1:9/graphql", "aws_region": "us-east-1",
                                          "default_authorization_type": "API_KEY", "api_key": "da2-x",
                                          "model_introspection": shop_mis()}}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        module.generate_client(config=outputs)  # same schema: silent
    outputs["data"]["model_introspection"] = blog_mis()
    with pytest.warns(SchemaMismatchWarning, match="generated from another schema"):
        module.generate_client(config=outputs)


# -- against a real sandbox -----------------------------------------------------------------------


def test_sandbox_writes_the_typed_client(shop: Any) -> None:
    box, module = shop
    assert module.SCHEMA_FINGERPRINT
    assert module.Client.record_types["Customer"] is module.Customer


def test_typed_sync_client_against_the_sandbox(shop: Any) -> None:
    box, module = shop
    with module.generate_client(config=box.outputs_path) as client:
        created = client.models.Customer.create({"name": "Ann", "tier": "gold",
                                                 "address": {"street": "1 Main St", "city": "Springfield"}})
        assert created.errors == []
        customer = created.data
        assert type(customer) is module.Customer and isinstance(customer, module.CustomerFields)
        assert type(customer.address) is module.Address and customer.address.city == "Springfield"
        assert customer.name == "Ann" and customer["tier"] == "gold"

        placed_at = f"2024-05-0{1 + int(time.time()) % 9}T10:00:00.000Z"
        order = client.models.Order.create({
            "customerId": customer.id, "placedAt": placed_at, "total": 12.5, "currency": "EUR", "status": "open",
            "lines": [{"sku": "a", "quantity": 2, "unitPrice": 6.25}]}).data
        assert type(order) is module.Order and type(order.lines[0]) is module.Line
        assert order.customer().data == customer

        page = client.models.Order.list(customerId=customer.id, placedAt={"beginsWith": "2024"})
        assert [o.placedAt for o in page.data] == [placed_at]
        by_status = client.models.Order.listOrderByStatusAndPlacedAt({"status": "open", "placedAt": {"eq": placed_at}})
        assert customer.id in {o.customerId for o in by_status.data}
        orders = customer.orders()
        assert [type(o) for o in orders.data] == [module.Order]
        assert client.enums.Currency.values() == ["EUR", "USD", "GBP"]

        assert client.queries.orderCount({"customerId": customer.id}).data == 3
        assert client.queries.greet({"names": ["a", "b"]}).data == "hello a, b"
        quote = client.mutations.quote({"lines": [{"sku": "a", "quantity": 2, "unitPrice": 1.5}], "currency": "USD"})
        assert quote.errors == [] and type(quote.data) is module.QuoteReturnType
        assert (quote.data.total, quote.data.currency, quote.data.lineCount) == (3.0, "USD", 1)

        client.models.Order.delete(order)
        assert client.models.Customer.delete(customer).data.id == customer.id


async def test_typed_async_client_against_the_sandbox(shop: Any) -> None:
    box, module = shop
    async with module.generate_async_client(config=box.outputs_path) as client:
        customer = (await client.models.Customer.create({"name": "Bo"})).data
        assert type(customer) is module.AsyncCustomer
        assert (await customer.orders()).data == []
        names = [c.name async for c in client.models.Customer.list_all(filter={"id": {"eq": customer.id}})]
        assert names == ["Bo"]
        assert (await client.queries.orderCount({"customerId": customer.id})).data == 3
        quote = await client.mutations.quote({"lines": [{"sku": "b", "quantity": 1, "unitPrice": 2.0}]})
        assert quote.data.currency == "EUR" and type(quote.data) is module.QuoteReturnType
        await client.models.Customer.delete(customer)


def test_untyped_clients_call_custom_operations_too(shop: Any) -> None:
    box, _ = shop
    with cove.generate_client(config=box.outputs_path) as client:
        _untyped_custom_operations(client)


def _untyped_custom_operations(client: Client) -> None:
    result = client.queries.greet({"names": ["x"]})
    assert result.data == "hello x" and result.errors == []
    quote = client.mutations.quote({"lines": [{"sku": "a", "quantity": 1, "unitPrice": 1.0}]})
    assert isinstance(quote.data, DynamicRecord) and quote.data.lineCount == 1
    assert sorted(client.queries) == ["greet", "orderCount"] and "quote" in client.mutations
    with pytest.raises(ValueError, match="greet requires arguments 'names'"):
        client.queries.greet()
    with pytest.raises(TypeError, match="unexpected argument.*'nmes'.*its arguments are: names"):
        client.queries.greet({"names": [], "nmes": []})
    with pytest.raises(AttributeError, match="no custom query 'refund'.*orderCount, greet"):
        client.queries.refund  # noqa: B018
    errors = client.queries.orderCount({"customerId": None}).errors
    assert errors and "customerId" in errors[0].message


def test_sandbox_regenerates_the_typed_client_on_schema_change(tmp_path: Path, sandbox_factory: Any) -> None:
    schema = tmp_path / "schema.py"
    schema.write_text(_SCHEMA.format(extra=""))
    module = tmp_path / "app" / "typed.py"
    box: Sandbox = sandbox_factory(schema, "--typed-client", str(module))
    assert "title: str" in module.read_text() and "rating" not in module.read_text()
    schema.write_text(_SCHEMA.format(extra='"rating": a.integer(),'))
    deadline = time.monotonic() + 15
    while "rating" not in module.read_text():
        assert time.monotonic() < deadline, "".join(box.lines)
        time.sleep(0.05)
    assert "rating: int | None" in module.read_text()
    fingerprint = load_module(module).SCHEMA_FINGERPRINT
    from cove.client._schema import mis_fingerprint

    assert fingerprint == mis_fingerprint(box.outputs["data"]["model_introspection"])


_SCHEMA = """
from cove import a, define_data

schema = a.schema({{
    "Note": a.model({{"title": a.string().required(), {extra}}}),
}}).authorization(lambda allow: [allow.public_api_key()])
data = define_data(schema=schema)
"""


def test_generated_module_runs_under_python_with_warnings_as_errors(tmp_path: Path) -> None:
    path = _write(tmp_path, blog_mis())
    proc = subprocess.run([sys.executable, "-W", "error", "-c", f"import runpy; runpy.run_path({str(path)!r})"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
