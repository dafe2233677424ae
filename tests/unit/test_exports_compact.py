"""A JSON line kept as read (connectors.exports: msgspec's fast path) is exactly the payload the
stdlib would have written, and a line it cannot vouch for goes the stdlib's way unchanged.

The raw layer's payload is `json.dumps(json.loads(line), ensure_ascii=False, separators=(",", ":"))`;
the import keeps the line itself when msgspec reads it and writes it back byte for byte. That is
only sound while msgspec and the stdlib write every string alike and no float slips through in a
form `repr` would not give back: both are checked here, the strings for every code point.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from dissentry.connectors.base import Reject
from dissentry.connectors.exports import _compact_line, iter_json_texts


def _stdlib(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def test_msgspec_escapes_every_code_point_as_the_stdlib_does() -> None:
    # one string of every code point but the surrogates (which neither writes as UTF-8), in chunks
    points = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    for start in range(0, len(points), 4096):
        chunk = points[start : start + 4096]
        assert msgspec.json.encode(chunk) == _stdlib(chunk).encode("utf-8"), f"code points from {ord(chunk[0]):#x}"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_a_compact_line_is_kept_only_when_it_is_what_json_dumps_writes(obj: dict[str, object]) -> None:
    for line in (_stdlib(obj), json.dumps(obj), json.dumps(obj, ensure_ascii=True, separators=(",", ":"))):
        got = _compact_line(line.encode("utf-8", "surrogatepass") + b"\n")
        if got is None:
            continue  # the stdlib reads it, as before
        value, text = got
        assert text == line
        assert text == _stdlib(json.loads(line))
        assert value == json.loads(line)


def test_lines_the_stdlib_would_rewrite_are_left_to_it() -> None:
    kept = '{"a":1,"b":"caf\u00e9 \U0001f600","c":[1.5,-0.0,0.1,100000.0,12345678901234567890123],"d":null}'
    assert _compact_line(kept.encode() + b"\r\n") == (json.loads(kept), kept)
    for line in (
        '{"a": 1}',  # whitespace
        '{"a":"caf\\u00e9"}',  # an escape json.dumps does not write
        '{"a":"http:\\/\\/x"}',
        '{"a":"\\u001F"}',  # json.dumps writes \\u001f
        '{"a":1e16}', '{"a":1E5}', '{"a":2.5e-07}', '{"a":1.10}', '{"a":1e400}',  # floats written otherwise
        '{"a":-0}',
        '{"a":NaN}', '{"a":-Infinity}',
        '{"a":1,"a":2}',  # a repeated key
        '{"a":"\\ud800"}',  # a lone surrogate
        ' {"a":1}', '\ufeff{"a":1}', '{"a":1} ', '[{"a":1}]',
    ):
        assert _compact_line(line.encode("utf-8") + b"\n") is None, line


def test_the_reader_yields_the_text_beside_the_same_values_and_rejects(tmp_path: Path) -> None:
    lines = ['{"id":"1","x":1.5}', '{"id": "2"}', 'not json', '{"id":"3","x":NaN}', "", '{"id":"4"}']
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    got = list(iter_json_texts(path))
    assert [loc for loc, _, _ in got] == [f"{path}:{n}" for n in (1, 2, 3, 4, 6)]
    assert [text for _, _, text in got] == ['{"id":"1","x":1.5}', None, None, None, '{"id":"4"}']
    assert isinstance(got[2][1], Reject) and "invalid JSON on line 3" in got[2][1].reason
    assert math.isnan(got[3][1]["x"])
    assert [v for _, v, _ in got if not isinstance(v, Reject) and v.get("id") != "3"] == [
        {"id": "1", "x": 1.5}, {"id": "2"}, {"id": "4"}]
