"""`normalise_url_one`: the canonical form of a link, so the same article counts once (links, own-source
shares and the echo-chamber metrics count by it). Every expected value is worked out by hand from the
rules: scheme and host lowercased, `www.` dropped, default ports dropped, fragment dropped, tracking
parameters (utm_* and the like) dropped, the other parameters kept in their order, a bare `/` path
dropped, anything that is not an http(s) URL with a host refused (None)."""

from __future__ import annotations

import pytest

from dissentry.normalise import normalise_url_one


@pytest.mark.parametrize(("url", "expected"), [
    # scheme and host are case-insensitive; the path is not (servers may treat /Path and /path apart)
    ("HTTPS://News.Example.COM/Politics/Story", "https://news.example.com/Politics/Story"),
    ("Http://EXAMPLE.org/a", "http://example.org/a"),
    # `www.` is the same site
    ("https://www.example.com/a", "https://example.com/a"),
    ("https://WWW.Example.com/a", "https://example.com/a"),
    # the fragment is a place in the page, not another page
    ("https://example.com/a#comments", "https://example.com/a"),
    ("https://example.com/a?id=7#top", "https://example.com/a?id=7"),
    # default ports are the same address; any other port is another server
    ("http://example.com:80/a", "http://example.com/a"),
    ("https://example.com:443/a", "https://example.com/a"),
    ("https://example.com:8443/a", "https://example.com:8443/a"),
    ("http://example.com:8080/a", "http://example.com:8080/a"),
    # utm_* parameters say who sent the reader, whatever their case; the rest keep their order
    ("https://example.com/a?utm_source=tw&utm_medium=social&utm_campaign=x", "https://example.com/a"),
    ("https://example.com/a?id=7&utm_source=tw&page=2", "https://example.com/a?id=7&page=2"),
    ("https://example.com/a?UTM_Source=tw&b=2&a=1", "https://example.com/a?b=2&a=1"),
    ("https://example.com/a?utm_content=&q=", "https://example.com/a?q="),  # blank values kept
    # a bare root is the site itself
    ("https://example.com/", "https://example.com"),
    ("https://example.com", "https://example.com"),
    ("https://example.com/?utm_source=rss", "https://example.com"),
    # surrounding whitespace (pasted links) is not part of the URL
    ("  https://example.com/a \n", "https://example.com/a"),
    # everything at once
    ("HTTPS://WWW.Example.COM:443/Path/?utm_source=x&id=1#frag", "https://example.com/Path/?id=1"),
])
def test_canonical_form(url: str, expected: str) -> None:
    assert normalise_url_one(url) == expected


@pytest.mark.parametrize("url", [
    None, "", "   ",
    "ftp://example.com/file",  # not a web page
    "mailto:someone@example.com",
    "javascript:alert(1)",
    "example.com/a",  # no scheme: a relative path, not a link to a site
    "https:///a",  # no host
    "http://[::1/a",  # unparseable (an unclosed IPv6 bracket)
])
def test_what_is_not_a_web_link_is_refused(url: str | None) -> None:
    assert normalise_url_one(url) is None


def test_the_same_article_counts_once() -> None:
    variants = [
        "https://www.example.com/story?id=42&utm_source=twitter",
        "HTTPS://example.com:443/story?id=42#comments",
        "https://Example.com/story?utm_medium=social&id=42&utm_campaign=spring",
    ]
    assert {normalise_url_one(v) for v in variants} == {"https://example.com/story?id=42"}
    # ... and different articles stay different
    assert normalise_url_one("https://example.com/story?id=43") != normalise_url_one(variants[0])
    assert normalise_url_one("http://example.com/story?id=42") != normalise_url_one(variants[0])
    assert normalise_url_one("https://example.com:8443/story?id=42") != normalise_url_one(variants[0])


def test_canonical_form_is_a_fixed_point() -> None:
    # normalising a normalised link changes nothing (links are normalised again on every normalise run)
    for url in ("https://example.com/Path/?id=1", "http://example.com:8080/a?b=2&a=1", "https://example.com"):
        assert normalise_url_one(normalise_url_one(url)) == normalise_url_one(url)
