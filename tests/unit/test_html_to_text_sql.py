"""Issue 12 §2: html_to_text runs in DuckDB SQL for the common shape of Mastodon HTML and gives,
character for character, what selectolax (html_to_text_one) gives; everything else goes to selectolax."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest

from dissentry.normalise import _HTML_SIMPLE, html_to_text_one, new_connection

# pieces of Mastodon HTML, and pieces near them that the SQL must not take (or must take rightly)
TOKENS = [
    "<p>", "</p>", "<br>", "<br/>", "<br />", "<BR>", "<P>", "</P>", "<span>", "</span>", "<a>", "</a>",
    '<a href="https://example.org/a?b=1&amp;c=2" rel="nofollow noopener" target="_blank">',
    '<a href="https://social.example/tags/x" class="mention hashtag" rel="tag">',
    '<span class="h-card" translate="no">', '<span class="invisible">', '<span class="ellipsis">',
    '<p class="quote-inline">', '<p dir="auto">', '<a href="x"class="y">', "<a href='x'>", '<a href="a>b">',
    "<div>", "</div>", "<pre>", "</pre>", "<script>", "</script>", "<style>", "</style>", "<!-- c -->",
    "<table>", "<td>", "<b>", "</b>", "<i>", "</br>", "<p/>", "<span/>", "<textarea>", "<title>",
    "&amp;", "&lt;", "&gt;", "&quot;", "&#39;", "&#x27;", "&apos;", "&nbsp;", "&amp", "&ampx;", "&", "& ",
    "&#65;", "&copy;", "&lt", "<", ">", " < ", "a<b", "<3", "</", "<a", "<p ", "/>",
    " ", "  ", "\n", "\t", "\r", "\r\n", "\f", "\v", "\x00", "\x01", "\x1f", "\x7f", "\x85", "\xa0",
    "\u2003", "\u2028", "\u3000", "\ufeff", "\ufffe", "\u200b", "\u00ad",
    "hello", "world", "Café", "☕ Coffee", "😀", "日本語", "x y", "#tag", "@alice", "https://example.org/",
    "'", '"', "=", "/", "-",
]


# what the SQL path takes: drawn from these alone, most values go through it (the test counts them)
SIMPLE = [
    "<p>", "</p>", "<br>", "<br/>", "<br />", "<span>", "</span>", "<a>", "</a>", "<p/>",
    '<a href="https://social.example/tags/x" class="mention hashtag" rel="tag">', '<p class="quote-inline">',
    '<span class="invisible">', "&amp;", "&lt;", "&gt;", "&quot;", "&#39;", ">", " ", "  ", "\n", "\t", "\n\n",
    "\u200b", "hello", "Café", "😀", "#tag", "'", '"', "=", "/", "x y",
]


def _random_html(rng: random.Random, tokens: list[str]) -> str:
    return "".join(rng.choice(tokens) for _ in range(rng.randint(0, 14)))


def _sql_texts(values: list[str | None]) -> list[str | None]:
    con = new_connection()
    try:
        con.register("v", pa.table({"i": pa.array(range(len(values))), "h": pa.array(values, type=pa.string())}))
        return [r[0] for r in con.execute("SELECT html_to_text(h) FROM v ORDER BY i").fetchall()]
    finally:
        con.close()


def test_sql_html_to_text_equals_selectolax_on_random_html() -> None:
    rng = random.Random(12)
    values: list[str | None] = [None, "", " ", "<p></p>", "<p> a </p>"]
    values += [_random_html(rng, TOKENS) for _ in range(15_000)] + [_random_html(rng, SIMPLE) for _ in range(15_000)]
    expected = [html_to_text_one(v) for v in values]
    got = _sql_texts(values)
    wrong = [(v, e, g) for v, e, g in zip(values, expected, got, strict=True) if e != g]
    assert not wrong, wrong[:5]
    con = new_connection()
    try:
        con.register("v", pa.table({"h": pa.array(values, type=pa.string())}))
        in_sql = con.execute("SELECT count(*) FROM v WHERE regexp_full_match(h, ?) AND regexp_matches(h, '[<&]')",
                             [_HTML_SIMPLE]).fetchone()[0]
    finally:
        con.close()
    assert in_sql > 10_000  # the comparison covers the SQL path, not only the fallback


@pytest.mark.parametrize("html", [
    '<p>☕ Coffee first. <a href="https://social.example/tags/schools" class="mention hashtag" rel="tag">'
    "#<span>schools</span></a> Said so &amp; more.</p><p>Second &lt;para&gt;<br>line &#39;two&quot;</p>",
    '<p><span class="h-card" translate="no"><a href="https://x.example/@bob" class="u-url mention">'
    '@<span>bob</span></a></span> see <a href="https://news.example/a?b=1&amp;c=2" rel="nofollow noopener" '
    'target="_blank"><span class="invisible">https://</span><span class="ellipsis">news.example/a</span>'
    '<span class="invisible">?b=1&amp;c=2</span></a></p>',
])
def test_typical_mastodon_html_takes_the_sql_path(html: str) -> None:
    # the SQL path is taken (no selectolax call) for what Mastodon writes, and agrees with selectolax
    con = new_connection()
    try:
        assert con.execute("SELECT regexp_full_match(?, ?)", [html, _HTML_SIMPLE]).fetchone()[0]
    finally:
        con.close()
    assert _sql_texts([html]) == [html_to_text_one(html)]
