"""A backend defined elsewhere (its amplify_outputs.json) served by `cove sandbox`."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from cove.schema.from_mis import schema_from_mis
from cove.schema.mis import to_mis
from cove.schema.model import SchemaError
from cove.schema.sdl import to_sdl
from paths import TESTS

SCHEMAS = TESTS / "schemas"

# What Amplify writes for a TypeScript backend: Blog hasMany Post, Post belongsTo Blog, an enum,
# a custom type, an owner-protected model with public read, and a secondary index.
GEN2_OUTPUTS = {
    "version": "1.4",
    "data": {
        "url": "https://example.appsync-api.eu-west-1.amazonaws.com/graphql",
        "aws_region": "eu-west-1",
        "default_authorization_type": "API_KEY",
        "authorization_types": ["AMAZON_COGNITO_USER_POOLS", "AWS_IAM"],
        "api_key": "da2-xxxxxxxxxxxxxxxxxxxxxxxxxx",
        "model_introspection": {
            "version": 1,
            "models": {
                "Blog": {
                    "name": "Blog", "pluralName": "Blogs", "syncable": True,
                    "fields": {
                        "id": {"name": "id", "isArray": False, "type": "ID", "isRequired": True, "attributes": []},
                        "name": {"name": "name", "isArray": False, "type": "String", "isRequired": True,
                                 "attributes": []},
                        "posts": {"name": "posts", "isArray": True, "type": {"model": "Post"}, "isRequired": False,
                                  "attributes": [], "isArrayNullable": True,
                                  "association": {"connectionType": "HAS_MANY", "associatedWith": ["blogId"]}},
                        "createdAt": {"name": "createdAt", "isArray": False, "type": "AWSDateTime",
                                      "isRequired": False, "attributes": [], "isReadOnly": True},
                        "updatedAt": {"name": "updatedAt", "isArray": False, "type": "AWSDateTime",
                                      "isRequired": False, "attributes": [], "isReadOnly": True},
                    },
                    "attributes": [{"type": "model", "properties": {}},
                                   {"type": "auth", "properties": {"rules": [
                                       {"allow": "public", "provider": "apiKey",
                                        "operations": ["create", "update", "delete", "read"]}]}}],
                    "primaryKeyInfo": {"isCustomPrimaryKey": False, "primaryKeyFieldName": "id",
                                       "sortKeyFieldNames": []},
                },
                "Post": {
                    "name": "Post", "pluralName": "Posts", "syncable": True,
                    "fields": {
                        "id": {"name": "id", "isArray": False, "type": "ID", "isRequired": True, "attributes": []},
                        "title": {"name": "title", "isArray": False, "type": "String", "isRequired": True,
                                  "attributes": []},
                        "status": {"name": "status", "isArray": False, "type": {"enum": "PostStatus"},
                                   "isRequired": False, "attributes": []},
                        "meta": {"name": "meta", "isArray": False, "type": {"nonModel": "PostMeta"},
                                 "isRequired": False, "attributes": []},
                        "blogId": {"name": "blogId", "isArray": False, "type": "ID", "isRequired": False,
                                   "attributes": []},
                        "blog": {"name": "blog", "isArray": False, "type": {"model": "Blog"}, "isRequired": False,
                                 "attributes": [],
                                 "association": {"connectionType": "BELONGS_TO", "targetNames": ["blogId"]}},
                        "createdAt": {"name": "createdAt", "isArray": False, "type": "AWSDateTime",
                                      "isRequired": False, "attributes": [], "isReadOnly": True},
                        "updatedAt": {"name": "updatedAt", "isArray": False, "type": "AWSDateTime",
                                      "isRequired": False, "attributes": [], "isReadOnly": True},
                    },
                    "attributes": [{"type": "model", "properties": {"mutations": {"delete": None}}},
                                   {"type": "key", "properties": {"name": "postsByStatus", "queryField": "listPostByStatus",
                                                                  "fields": ["status"]}},
                                   {"type": "auth", "properties": {"rules": [
                                       {"allow": "public", "provider": "apiKey", "operations": ["read", "create"]},
                                       {"provider": "userPools", "ownerField": "owner", "allow": "owner",
                                        "identityClaim": "cognito:username",
                                        "operations": ["create", "update", "delete", "read"]}]}}],
                    "primaryKeyInfo": {"isCustomPrimaryKey": False, "primaryKeyFieldName": "id",
                                       "sortKeyFieldNames": []},
                },
            },
            "enums": {"PostStatus": {"name": "PostStatus", "values": ["draft", "live"]}},
            "nonModels": {"PostMeta": {"name": "PostMeta", "fields": {
                "words": {"name": "words", "isArray": False, "type": "Int", "isRequired": False, "attributes": []},
                "tags": {"name": "tags", "isArray": True, "type": "String", "isRequired": False, "attributes": [],
                         "isArrayNullable": True}}}},
        },
    },
}


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.data.schema


@pytest.mark.parametrize("name", ["keys_schema.py", "rules_schema.py", "filters_schema.py"])
def test_round_trip_through_mis(name: str) -> None:
    schema = _load(SCHEMAS / name)
    again = schema_from_mis(to_mis(schema))
    assert to_mis(again) == to_mis(schema)
    assert to_sdl(again) == to_sdl(schema)


def test_gen2_outputs_schema() -> None:
    schema = schema_from_mis(GEN2_OUTPUTS["data"]["model_introspection"])
    post = schema.models["Post"]
    assert post.fields["owner"].implicit and post.indexes[0].query_field == "listPostByStatus"
    assert not post.operation_enabled("delete") and post.operation_enabled("create")
    sdl = to_sdl(schema)
    assert "listPostByStatus(status: PostStatus!" in sdl and "deletePost" not in sdl
    assert "posts(filter: ModelPostFilterInput" in sdl and "input PostMetaInput" in sdl


def test_bad_mis_is_refused() -> None:
    with pytest.raises(SchemaError, match="version 1"):
        schema_from_mis({"version": 2})
    bad = json.loads(json.dumps(GEN2_OUTPUTS["data"]["model_introspection"]))
    bad["models"]["Post"]["fields"]["blog"]["type"] = {"model": "Nope"}
    with pytest.raises(SchemaError, match="Nope"):
        schema_from_mis(bad)


def test_sandbox_serves_a_foreign_backend(tmp_path: Path, sandbox_factory) -> None:
    source = tmp_path / "their_outputs.json"
    source.write_text(json.dumps(GEN2_OUTPUTS))
    box = sandbox_factory(source)
    out = box.outputs["data"]
    assert out["url"] == box.url and out["model_introspection"]["models"]["Post"]["pluralName"] == "Posts"
    blog = box.gql('mutation { createBlog(input: {name: "b"}) { id } }')["data"]["createBlog"]
    post = box.gql('mutation ($i: CreatePostInput!) { createPost(input: $i) { id title status meta { words tags } } }',
                   {"i": {"title": "t", "status": "live", "blogId": blog["id"], "meta": {"words": 3, "tags": ["x"]}}})
    assert post["data"]["createPost"]["meta"] == {"words": 3, "tags": ["x"]}
    got = box.gql('query ($id: ID!) { getBlog(id: $id) { name posts { items { title blog { name } } } } }',
                  {"id": blog["id"]})
    assert got == {"data": {"getBlog": {"name": "b", "posts": {"items": [{"title": "t", "blog": {"name": "b"}}]}}}}
    by_status = box.gql('query { listPostByStatus(status: live) { items { title } } }')
    assert by_status == {"data": {"listPostByStatus": {"items": [{"title": "t"}]}}}
    # the API key may read and create posts but not update them (only owners may)
    upd = box.gql('mutation ($i: UpdatePostInput!) { updatePost(input: $i) { id } }',
                  {"i": {"id": post["data"]["createPost"]["id"], "title": "x"}})
    assert upd["errors"][0]["errorType"] == "Unauthorized"


def test_outputs_source_and_target_must_differ(tmp_path: Path) -> None:
    source = tmp_path / "amplify_outputs.json"
    source.write_text(json.dumps(GEN2_OUTPUTS))
    r = subprocess.run([sys.executable, "-m", "cove", "sandbox", str(source), "--outputs", str(source),
                        "--data-dir", str(tmp_path / "d"), "--port", "0"], capture_output=True, text=True, timeout=30,
                       check=False)
    assert r.returncode == 2 and "--outputs" in r.stderr
    assert json.loads(source.read_text()) == GEN2_OUTPUTS  # untouched
