"""Every mapping parses each payload once (issue 12 §2), and reads each value as `->>` did.

The mappings read the values they use with one `json_extract(payload, [path, ...])` per record and
then `v[i] ->> '$'` on each value's own small JSON text. These tests hold the two things that rest
on: (1) no mapping parses a payload per field again (`payload::JSON`, `payload ->> ...`, a single
path); (2) DuckDB's reading of the list is `->>`'s, value for value, on hostile JSON: numbers spelt
the same (a json_transform STRUCT spells 1e16 '1e+16' where `->>` spells '10000000000000000.0', so
a Twitter or Telegram id sent as a number would change), a key written twice read from its first
copy, absent and null values NULL, types and array elements as before. The rewrite itself was
checked table by table against the old mappings on every raw table the connector, hostile and
contract tests build and on 50,000 mutated records a platform (bench/README.md).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest

from dissentry.connectors.base import RawRecord
from dissentry.normalise import map_records, read_mapping

MAPPINGS = sorted((Path(__file__).resolve().parents[2] / "connectors").glob("*/mapping.sql"))

# values that JSON readers disagree about
HOSTILE = [
    "1e16", "1.5e16", "-1e17", "1e-5", "1.5e-7", "0.0001", "1e308", "12345678901234567890",
    "1234567890123456789012345", "9007199254740993", "-0", "3.0", "1E2", "0", "true", "false", "null",
    '""', '"1e16"', '"x\\u0000y"', '"\\u200b\\ud83d\\ude42"', '"\\u202eevil"', "[]", "{}", "[1e16, \"a\", null]",
    '{"a": 1e16}', '"RT @x: hi"',
]
PATHS = ["$.a", "$.a.b", "$.a[0]", "$.a.\"$type\"", "$.b"]


def test_no_mapping_parses_a_payload_per_field() -> None:
    assert len(MAPPINGS) == 8
    for path in MAPPINGS:
        for name, query in read_mapping(path).items():
            sql = re.sub(r"--[^\n]*", "", query)  # the comments may quote the old way
            where = f"{path.parent.name} {name}"
            assert not re.search(r"payload\s*::\s*JSON|CAST\s*\(\s*(\w+\.)?payload\s+AS\s+JSON", sql, re.I), where
            assert not re.search(r"payload\s*-+>", sql), where
            # a json function on the payload reads a list of paths or a structure, never one path
            for call in re.finditer(r"json_\w+\(\s*(?:\w+\.)?payload\s*,\s*(\S)", sql):
                assert call.group(1) in "['", (where, call.group(0))
                if call.group(1) == "'":
                    assert sql[call.end():].startswith("{"), (where, call.group(0))


def test_a_list_of_paths_reads_each_value_as_the_arrow_operator() -> None:
    con = duckdb.connect()
    docs = [f'{{"a": {v}, "b": {v}}}' for v in HOSTILE]
    docs += [f'{{"a": {{"b": {v}, "$type": {v}}}}}' for v in HOSTILE]
    docs += [f'{{"a": [{v}]}}' for v in HOSTILE]
    docs += [f'{{"a": {v}, "a": 2}}' for v in HOSTILE] + [f'{{"a": 2, "a": {v}}}' for v in HOSTILE]
    docs += ["[]", '"a"', "1e16", "null", "{}"]
    for doc in docs:
        json.loads(doc)  # each is JSON (Python keeps the last of a duplicated key; DuckDB the first)
    paths = ", ".join(f"'{p}'" for p in PATHS)
    con.execute("CREATE TABLE d AS SELECT unnest(?) AS payload", [docs])
    for i, path in enumerate(PATHS, start=1):
        rows = con.execute(f"""
            SELECT payload, payload ->> '{path}', v[{i}] ->> '$',
                   json_type(payload::JSON -> '{path}'), json_type(v[{i}]),
                   json_extract(payload, '{path}[*]'), coalesce(json_extract(v[{i}], '$[*]'), []),
                   json_extract_string(payload, '{path}[*]'), coalesce(json_extract_string(v[{i}], '$[*]'), [])
            FROM (SELECT payload, json_extract(payload, [{paths}]) AS v FROM d)
        """).fetchall()
        for doc, old, new, old_type, new_type, old_items, new_items, old_strings, new_strings in rows:
            assert (new, new_type, new_items, new_strings) == (old, old_type, old_items, old_strings), (path, doc)
    # why not json_transform: it spells a number its own way, and reading a value as `->>` does
    # matters where a numeric id becomes part of a key
    spelt = con.execute("""SELECT '{"a": 1e16}' ->> '$.a', json_transform('{"a": 1e16}', '{"a": "VARCHAR"}').a""")
    assert spelt.fetchone() == ("10000000000000000.0", "1e+16")


@pytest.mark.parametrize(
    ("platform", "record", "post_id"),
    [
        ("telegram", RawRecord("message", "c:1", json.dumps({
            "chat": {"id": 1e16, "name": "C", "type": "public_channel"},
            "message": {"id": 12345678901234567890, "type": "message", "date_unixtime": "1714557600",
                        "from": "C", "from_id": "channel1", "text": "hi"},
        }), "telegram", "t:1"), "telegram:10000000000000000.0:12345678901234567890"),
        ("twitter", RawRecord("tweet", "1", json.dumps({
            "id": 1e16, "author_id": 1.5e16, "text": "hi", "created_at": "2024-05-01T10:00:00.000Z",
            "author": {"id": "2", "username": "someone"},
        }), "twitter", "t:1"), "twitter:10000000000000000.0"),
        ("bluesky", RawRecord("post", "1", json.dumps({
            "uri": 1e16, "author": {"did": "did:plc:x", "handle": "x.example"},
            "record": {"text": 1e-5, "createdAt": "2024-05-01T10:00:00Z"}, "indexedAt": "2024-05-01T10:00:00Z",
        }), "bluesky", "t:1"), "bluesky:10000000000000000.0"),
    ],
)
def test_numeric_ids_keep_the_spelling_they_had(platform: str, record: RawRecord, post_id: str) -> None:
    posts = map_records(platform, [record])["posts"].to_pylist()
    assert [p["post_id"] for p in posts] == [post_id]
    if platform == "bluesky":
        assert posts[0]["text"] == "0.00001"  # not json_transform's '1e-05'
