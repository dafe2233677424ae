-- incremental: lookups account_map status_authors
-- (a post reads two lookups across records, both from `lookups` below: a reply's parent author
-- by the instance's local account id, and a ShallowQuote's author by the quoted status's id; every
-- other output row comes from one raw record. See dissentry/normalise.py, "incremental".)
-- Mastodon raw records -> the canonical posts and accounts (contract: docs/architecture.md).
--
-- Ids inside a Status (its own, in_reply_to_id, accounts', mentions') are local to the instance that
-- served it, which the connector stores as raw.origin. So a post is 'mastodon:<origin host>:<id>'
-- (the host with its port when the instance has one: 'mastodon:localhost:3000:<id>'),
-- while accounts are global: 'mastodon:<user>@<host>' in lower case, where an `acct` without '@' is
-- a local account of the origin instance. `account_handle` (dissentry/normalise.py) spells every
-- handle one way: NFKC, no zero-width or bidi characters, lower case, the host IDNA-encoded.
--
-- One status record can carry several posts: a boost (`reblog` set) is a 'repost' post and the
-- boosted status is a post of its own; a quote (Mastodon 4.4+ `quote.quoted_status`, or the plain
-- Status some forks put in `quote`) also emits the quoted status. A ShallowQuote
-- (`quote.quoted_status_id`) gives only the quoted post's id; its author is filled in when that
-- status is in `raw` too.

-- name: lookups
-- (lookup, key, value, fetched_at): every value a record offers for a key; normalise keeps the
-- latest fetch of each key (a tie goes to the greatest value) as the relation `lookups` that `posts`
-- reads. Keys are '<host>/<local id>': a host never holds a '/'. Only the fields these need are
-- parsed, and only the places `posts` reads them from (the record, its reblog, and the status each
-- of those quotes).
WITH
records AS (
    SELECT
        r.record_type, r.fetched_at,
        json_transform(r.payload, '{
            "id": "VARCHAR", "acct": "VARCHAR",
            "account": {"id": "VARCHAR", "acct": "VARCHAR"}, "mentions": [{"id": "VARCHAR", "acct": "VARCHAR"}],
            "quote": {
                "id": "VARCHAR", "account": {"id": "VARCHAR", "acct": "VARCHAR"},
                "mentions": [{"id": "VARCHAR", "acct": "VARCHAR"}],
                "quoted_status": {
                    "id": "VARCHAR", "account": {"id": "VARCHAR", "acct": "VARCHAR"},
                    "mentions": [{"id": "VARCHAR", "acct": "VARCHAR"}]
                }
            },
            "reblog": {
                "id": "VARCHAR", "account": {"id": "VARCHAR", "acct": "VARCHAR"},
                "mentions": [{"id": "VARCHAR", "acct": "VARCHAR"}],
                "quote": {
                    "id": "VARCHAR", "account": {"id": "VARCHAR", "acct": "VARCHAR"},
                    "mentions": [{"id": "VARCHAR", "acct": "VARCHAR"}],
                    "quoted_status": {
                        "id": "VARCHAR", "account": {"id": "VARCHAR", "acct": "VARCHAR"},
                        "mentions": [{"id": "VARCHAR", "acct": "VARCHAR"}]
                    }
                }
            }
        }') AS j,
        CASE WHEN r.record_type = 'status' THEN json_type(r.payload, [
            '$.reblog', '$.quote.quoted_status', '$.quote', '$.quote.account',
            '$.reblog.quote.quoted_status', '$.reblog.quote', '$.reblog.quote.account'
        ]) END AS t,
        canonical_host(CASE WHEN lower(r.origin) LIKE 'https:%'
            THEN regexp_replace(regexp_extract(r.origin, '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/]*@)?([^/?#]+)', 1), ':(?:443)?$', '')
            ELSE regexp_replace(regexp_extract(r.origin, '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/]*@)?([^/?#]+)', 1), ':(?:80)?$', '')
        END) AS host
    FROM raw AS r
    WHERE r.record_type IN ('status', 'account')
),
wrappers AS (SELECT fetched_at, host, j AS s, t, coalesce(t[1] = 'OBJECT', false) AS is_boost
             FROM records WHERE record_type = 'status'),
shown AS (      -- as in `posts`: k, where the status's quote types are in t
    SELECT fetched_at, host, s, t, 0 AS k FROM wrappers WHERE NOT is_boost
    UNION ALL
    SELECT fetched_at, host, s.reblog, t, 1 FROM wrappers WHERE is_boost
),
content AS (    -- the statuses `posts` maps, each with the fields the lookups read
    SELECT fetched_at, host, s.id AS id, s.account AS account, s.mentions AS mentions FROM shown
    UNION ALL
    SELECT fetched_at, host, s.quote.quoted_status.id, s.quote.quoted_status.account, s.quote.quoted_status.mentions
    FROM shown WHERE t[2 + 3 * k] = 'OBJECT'
    UNION ALL
    SELECT fetched_at, host, s.quote.id, s.quote.account, s.quote.mentions
    FROM shown WHERE NOT coalesce(t[2 + 3 * k] = 'OBJECT', false) AND t[3 + 3 * k] = 'OBJECT' AND t[4 + 3 * k] = 'OBJECT'
),
-- local account id -> acct, from every account object and mention on the same instance
account_refs AS (
    SELECT host, fetched_at, j.id AS local_id, j.acct AS acct FROM records WHERE record_type = 'account'
    UNION ALL
    SELECT host, fetched_at, s.account.id, s.account.acct FROM wrappers
    UNION ALL
    SELECT host, fetched_at, account.id, account.acct FROM content
    UNION ALL
    SELECT host, fetched_at, m.id, m.acct
    FROM (SELECT host, fetched_at, unnest(coalesce(mentions, [])) AS m FROM content)
)
SELECT 'account_map' AS lookup, host || '/' || local_id AS key, acct AS value, fetched_at
FROM account_refs
WHERE host IS NOT NULL AND local_id IS NOT NULL AND coalesce(acct, '') <> ''
UNION ALL
-- for ShallowQuotes, which name only the quoted status's id
SELECT 'status_authors', host || '/' || id, account.acct, fetched_at
FROM content
WHERE host IS NOT NULL AND id IS NOT NULL AND account.acct IS NOT NULL;

-- name: posts
-- Each payload is parsed once (twice counting json_type): json_transform reads every field used
-- below into one STRUCT `j` (a field reads as `->>` does: a string's text, any other value's JSON),
-- and json_type says which nested values are objects, which a STRUCT cannot tell (it reads a string
-- and an empty object alike as all fields NULL). `t[1]` is the type of `reblog`; then, for each of
-- the six places a status can sit (0 the record, 1 its reblog, 2 its quote.quoted_status, 3 its
-- quote, 4 the reblog's quote.quoted_status, 5 the reblog's quote), the types of that status's
-- quote.quoted_status, quote and quote.account at t[2 + 3k], t[3 + 3k], t[4 + 3k].
WITH
records AS (
    SELECT
        r.record_type, r.record_id, r.origin, r.source, r.fetched_at, r.run_id,
        -- the version's digest, the tie-break between rows of one fetch: once per record, and the
        -- payload goes no further (every CTE below would carry a copy of it)
        md5(r.payload) AS version,
        json_transform(r.payload, '{
            "id": "VARCHAR", "created_at": "VARCHAR", "content": "VARCHAR", "spoiler_text": "VARCHAR", "language": "VARCHAR",
            "url": "VARCHAR", "uri": "VARCHAR", "in_reply_to_id": "VARCHAR", "in_reply_to_account_id": "VARCHAR",
            "favourites_count": "VARCHAR", "reblogs_count": "VARCHAR", "replies_count": "VARCHAR",
            "account": {"id": "VARCHAR", "acct": "VARCHAR"}, "card": {"title": "VARCHAR", "url": "VARCHAR"},
            "mentions": [{"id": "VARCHAR", "acct": "VARCHAR", "url": "VARCHAR"}], "tags": [{"url": "VARCHAR", "name": "VARCHAR"}],
            "quote": {
                "id": "VARCHAR", "created_at": "VARCHAR", "content": "VARCHAR", "spoiler_text": "VARCHAR", "language": "VARCHAR",
                "url": "VARCHAR", "uri": "VARCHAR", "in_reply_to_id": "VARCHAR", "in_reply_to_account_id": "VARCHAR",
                "favourites_count": "VARCHAR", "reblogs_count": "VARCHAR", "replies_count": "VARCHAR",
                "account": {"id": "VARCHAR", "acct": "VARCHAR"}, "card": {"title": "VARCHAR", "url": "VARCHAR"},
                "mentions": [{"id": "VARCHAR", "acct": "VARCHAR", "url": "VARCHAR"}], "tags": [{"url": "VARCHAR", "name": "VARCHAR"}],
                "quote": {
                    "id": "VARCHAR", "url": "VARCHAR", "uri": "VARCHAR", "account": {"acct": "VARCHAR"},
                    "quoted_status": {"id": "VARCHAR", "url": "VARCHAR", "uri": "VARCHAR", "account": {"acct": "VARCHAR"}},
                    "quoted_status_id": "VARCHAR"
                },
                "quoted_status": {
                    "id": "VARCHAR", "created_at": "VARCHAR", "content": "VARCHAR", "spoiler_text": "VARCHAR", "language": "VARCHAR",
                    "url": "VARCHAR", "uri": "VARCHAR", "in_reply_to_id": "VARCHAR", "in_reply_to_account_id": "VARCHAR",
                    "favourites_count": "VARCHAR", "reblogs_count": "VARCHAR", "replies_count": "VARCHAR",
                    "account": {"id": "VARCHAR", "acct": "VARCHAR"}, "card": {"title": "VARCHAR", "url": "VARCHAR"},
                    "mentions": [{"id": "VARCHAR", "acct": "VARCHAR", "url": "VARCHAR"}], "tags": [{"url": "VARCHAR", "name": "VARCHAR"}],
                    "quote": {
                        "id": "VARCHAR", "url": "VARCHAR", "uri": "VARCHAR", "account": {"acct": "VARCHAR"},
                        "quoted_status": {"id": "VARCHAR", "url": "VARCHAR", "uri": "VARCHAR", "account": {"acct": "VARCHAR"}},
                        "quoted_status_id": "VARCHAR"
                    }
                },
                "quoted_status_id": "VARCHAR"
            },
            "reblog": {
                "id": "VARCHAR", "created_at": "VARCHAR", "content": "VARCHAR", "spoiler_text": "VARCHAR", "language": "VARCHAR",
                "url": "VARCHAR", "uri": "VARCHAR", "in_reply_to_id": "VARCHAR", "in_reply_to_account_id": "VARCHAR",
                "favourites_count": "VARCHAR", "reblogs_count": "VARCHAR", "replies_count": "VARCHAR",
                "account": {"id": "VARCHAR", "acct": "VARCHAR"}, "card": {"title": "VARCHAR", "url": "VARCHAR"},
                "mentions": [{"id": "VARCHAR", "acct": "VARCHAR", "url": "VARCHAR"}], "tags": [{"url": "VARCHAR", "name": "VARCHAR"}],
                "quote": {
                    "id": "VARCHAR", "created_at": "VARCHAR", "content": "VARCHAR", "spoiler_text": "VARCHAR", "language": "VARCHAR",
                    "url": "VARCHAR", "uri": "VARCHAR", "in_reply_to_id": "VARCHAR", "in_reply_to_account_id": "VARCHAR",
                    "favourites_count": "VARCHAR", "reblogs_count": "VARCHAR", "replies_count": "VARCHAR",
                    "account": {"id": "VARCHAR", "acct": "VARCHAR"}, "card": {"title": "VARCHAR", "url": "VARCHAR"},
                    "mentions": [{"id": "VARCHAR", "acct": "VARCHAR", "url": "VARCHAR"}], "tags": [{"url": "VARCHAR", "name": "VARCHAR"}],
                    "quote": {
                        "id": "VARCHAR", "url": "VARCHAR", "uri": "VARCHAR", "account": {"acct": "VARCHAR"},
                        "quoted_status": {"id": "VARCHAR", "url": "VARCHAR", "uri": "VARCHAR", "account": {"acct": "VARCHAR"}},
                        "quoted_status_id": "VARCHAR"
                    },
                    "quoted_status": {
                        "id": "VARCHAR", "created_at": "VARCHAR", "content": "VARCHAR", "spoiler_text": "VARCHAR", "language": "VARCHAR",
                        "url": "VARCHAR", "uri": "VARCHAR", "in_reply_to_id": "VARCHAR", "in_reply_to_account_id": "VARCHAR",
                        "favourites_count": "VARCHAR", "reblogs_count": "VARCHAR", "replies_count": "VARCHAR",
                        "account": {"id": "VARCHAR", "acct": "VARCHAR"}, "card": {"title": "VARCHAR", "url": "VARCHAR"},
                        "mentions": [{"id": "VARCHAR", "acct": "VARCHAR", "url": "VARCHAR"}], "tags": [{"url": "VARCHAR", "name": "VARCHAR"}],
                        "quote": {
                            "id": "VARCHAR", "url": "VARCHAR", "uri": "VARCHAR", "account": {"acct": "VARCHAR"},
                            "quoted_status": {"id": "VARCHAR", "url": "VARCHAR", "uri": "VARCHAR", "account": {"acct": "VARCHAR"}},
                            "quoted_status_id": "VARCHAR"
                        }
                    },
                    "quoted_status_id": "VARCHAR"
                }
            },
            "acct": "VARCHAR"
        }') AS j,
        CASE WHEN r.record_type = 'status' THEN json_type(r.payload, [
            '$.reblog',
            '$.quote.quoted_status',
            '$.quote',
            '$.quote.account',
            '$.reblog.quote.quoted_status',
            '$.reblog.quote',
            '$.reblog.quote.account',
            '$.quote.quoted_status.quote.quoted_status',
            '$.quote.quoted_status.quote',
            '$.quote.quoted_status.quote.account',
            '$.quote.quote.quoted_status',
            '$.quote.quote',
            '$.quote.quote.account',
            '$.reblog.quote.quoted_status.quote.quoted_status',
            '$.reblog.quote.quoted_status.quote',
            '$.reblog.quote.quoted_status.quote.account',
            '$.reblog.quote.quote.quoted_status',
            '$.reblog.quote.quote',
            '$.reblog.quote.quote.account'
        ]) END AS t,
        -- host[:port]: two instances on one host (localhost:3000, localhost:3001) are two namespaces;
        -- the scheme's default port is no part of it
        canonical_host(CASE WHEN lower(r.origin) LIKE 'https:%'
            THEN regexp_replace(regexp_extract(r.origin, '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/]*@)?([^/?#]+)', 1), ':(?:443)?$', '')
            ELSE regexp_replace(regexp_extract(r.origin, '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/]*@)?([^/?#]+)', 1), ':(?:80)?$', '')
        END) AS host
    FROM raw AS r
    WHERE r.record_type IN ('status', 'account')
),
wrappers AS (   -- status records as fetched; is_boost when they boost another status
    -- (a status with no `reblog` key at all, as some exports write it, is no boost)
    SELECT record_id, origin, source, fetched_at, run_id, version, host, j AS s, t,
           coalesce(t[1] = 'OBJECT', false) AS is_boost
    FROM records
    WHERE record_type = 'status'
),
-- `shown` and `quoting` are read three times (by `content`) but are not materialised: each read
-- only extracts fields of the parsed `records` (which is), and a materialised copy of every
-- status's STRUCT was a third of the memory this query held
shown AS NOT MATERIALIZED (      -- statuses with content of their own: plain records and the statuses boosted
    -- k: where the status sits (see t above); qk: where its quote.quoted_status sits (its quote: qk + 1)
    SELECT record_id, origin, source, fetched_at, run_id, version, host, s, t, 0 AS k, 2 AS qk FROM wrappers WHERE NOT is_boost
    UNION ALL
    SELECT record_id, origin, source, fetched_at, run_id, version, host, s.reblog, t, 1, 4 FROM wrappers WHERE is_boost
),
quoting AS NOT MATERIALIZED (    -- quoted: 1 when the status quotes quote.quoted_status, 2 when quote is the status itself
    SELECT
        *,
        CASE
            WHEN t[2 + 3 * k] = 'OBJECT' THEN 1
            WHEN t[3 + 3 * k] = 'OBJECT' AND t[4 + 3 * k] = 'OBJECT' THEN 2
        END AS quoted
    FROM shown
),
content AS (    -- ... plus the statuses they quote, one level deep as Mastodon embeds them
    SELECT record_id, origin, source, fetched_at, run_id, version, host, s, t, k FROM quoting
    UNION ALL
    SELECT record_id, origin, source, fetched_at, run_id, version, host, s.quote.quoted_status, t, qk FROM quoting WHERE quoted = 1
    UNION ALL
    SELECT record_id, origin, source, fetched_at, run_id, version, host, s.quote, t, qk + 1 FROM quoting WHERE quoted = 2
),
-- the lookups across records (the query above, latest fetch of each key, over every raw record)
account_map AS (SELECT key, value AS acct FROM lookups WHERE lookup = 'account_map'),
status_authors AS (SELECT key, value AS acct FROM lookups WHERE lookup = 'status_authors'),
fields AS (
    SELECT
        c.record_id, c.origin, c.source, c.fetched_at, c.run_id, c.version, c.host, c.s,
        account_handle(c.s.account.acct, c.host) AS author,
        CASE   -- the status quoted, when embedded: as `quoting` tells it
            WHEN c.t[2 + 3 * c.k] = 'OBJECT' THEN 1
            WHEN c.t[3 + 3 * c.k] = 'OBJECT' AND c.t[4 + 3 * c.k] = 'OBJECT' THEN 2
        END AS q,
        -- Mastodon prepends <p class="quote-inline">RE: <a>…</a></p> to quotes for old clients;
        -- clients are told to hide it, and it is neither the author's words nor a shared link
        regexp_replace(coalesce(c.s.content, ''), '(?s)<p[^>]*\bquote-inline\b[^>]*>.*?</p>', '', 'g') AS html,
        coalesce(list_transform(c.s.mentions, lambda m: m.url), [])
            || coalesce(list_transform(c.s.tags, lambda g: g.url), [])
            AS tag_and_mention_urls
    FROM content AS c
),
quotes AS (
    SELECT
        f.*,
        coalesce(
            CASE f.q WHEN 1 THEN f.s.quote.quoted_status.id WHEN 2 THEN f.s.quote.id END,
            f.s.quote.quoted_status_id
        ) AS quote_id,
        CASE f.q WHEN 1 THEN f.s.quote.quoted_status.account.acct WHEN 2 THEN f.s.quote.account.acct END AS quote_acct,
        CASE f.q
            WHEN 1 THEN [f.s.quote.quoted_status.url, f.s.quote.quoted_status.uri]
            WHEN 2 THEN [f.s.quote.url, f.s.quote.uri]
            ELSE [NULL, NULL]
        END AS quote_urls
    FROM fields AS f
),
anchors AS (
    SELECT
        *,
        list_transform(
            regexp_extract_all(html, '<a\s[^>]*>', 0),
            lambda a: {
                'href': replace(replace(replace(replace(replace(replace(
                            regexp_extract(a, 'href\s*=\s*["'']([^"'']*)["'']', 1),
                            '&lt;', '<'), '&gt;', '>'), '&quot;', '"'), '&#39;', ''''), '&#x27;', ''''), '&amp;', '&'),
                'class': regexp_extract(a, 'class\s*=\s*["'']([^"'']*)["'']', 1),
                'rel': regexp_extract(a, 'rel\s*=\s*["'']([^"'']*)["'']', 1)
            }
        ) AS links_in_html
    FROM quotes
),
content_posts AS (
    SELECT
        'mastodon:' || a.host || ':' || a.s.id AS post_id,
        'mastodon' AS platform,
        'mastodon:' || a.author AS author_id,
        safe_timestamp(a.s.created_at) AS created_at,
        CASE
            WHEN coalesce(a.s.spoiler_text, '') <> ''
                THEN a.s.spoiler_text || chr(10) || chr(10) || html_to_text(a.html)
            ELSE html_to_text(a.html)
        END AS text,
        a.s.language AS lang,
        coalesce(a.s.url, a.s.uri) AS url,
        CASE
            WHEN a.quote_id IS NOT NULL THEN 'quote'
            WHEN a.s.in_reply_to_id IS NOT NULL THEN 'reply'
            ELSE 'post'
        END AS kind,
        CASE WHEN a.s.in_reply_to_id IS NOT NULL
            THEN 'mastodon:' || a.host || ':' || a.s.in_reply_to_id END AS reply_to_post_id,
        CASE WHEN account_handle(reply_author.acct, a.host) IS NOT NULL
            THEN 'mastodon:' || account_handle(reply_author.acct, a.host) END AS reply_to_author_id,
        CAST(NULL AS VARCHAR) AS repost_of_post_id,
        CAST(NULL AS VARCHAR) AS repost_of_author_id,
        CASE WHEN a.quote_id IS NOT NULL THEN 'mastodon:' || a.host || ':' || a.quote_id END AS quote_of_post_id,
        CASE
            WHEN coalesce(a.quote_acct, quoted_author.acct) IS NULL THEN NULL
            ELSE 'mastodon:' || account_handle(coalesce(a.quote_acct, quoted_author.acct), a.host)
        END AS quote_of_author_id,
        a.s.card.title AS link_title,
        TRY_CAST(a.s.favourites_count AS BIGINT) AS like_count,
        TRY_CAST(a.s.reblogs_count AS BIGINT) AS repost_count,
        TRY_CAST(a.s.replies_count AS BIGINT) AS reply_count,
        a.source, a.fetched_at, a.run_id,
        a.version AS version_rank_key,
        -- which raw record the row came from, and the lookup keys it read (hit or miss): an
        -- increment re-maps a post from its records when a key it read changes
        a.record_id AS raw_record_id, a.origin AS raw_origin,
        list_filter([
            {'lookup': 'account_map', 'key': a.host || '/' || a.s.in_reply_to_account_id},
            {'lookup': 'status_authors', 'key': CASE WHEN a.q IS NULL THEN a.host || '/' || a.quote_id END}
        ], lambda r: r.key IS NOT NULL) AS lookup_reads,
        list_distinct(list_filter(
            list_transform(
                list_filter(
                    a.links_in_html,
                    lambda l: regexp_matches(l.href, '^https?://')
                        AND NOT regexp_matches(coalesce(l.class, ''), '(^|\s)(mention|hashtag)(\s|$)')
                        AND NOT regexp_matches(coalesce(l.rel, ''), '(^|\s)tag(\s|$)')
                        AND NOT list_contains(a.tag_and_mention_urls, l.href)
                        AND NOT list_contains(a.quote_urls, l.href)
                ),
                lambda l: l.href
            ) || [a.s.card.url],
            lambda u: regexp_matches(coalesce(u, ''), '^https?://')
        )) AS links,
        list_distinct(list_transform(
            list_filter(
                coalesce(a.s.mentions, []),
                lambda m: coalesce(m.acct, '') <> ''
            ),
            lambda m: {
                'account_id': 'mastodon:' || account_handle(m.acct, a.host),
                'handle': account_handle(m.acct, a.host)
            }
        )) AS mentions,
        list_distinct(list_transform(
            list_filter(
                coalesce(a.s.tags, []),
                lambda t: coalesce(ltrim(t.name, '#'), '') <> ''
            ),
            lambda t: lower(ltrim(t.name, '#'))
        )) AS hashtags
    FROM anchors AS a
    LEFT JOIN account_map AS reply_author
        ON reply_author.key = a.host || '/' || a.s.in_reply_to_account_id
    LEFT JOIN status_authors AS quoted_author
        ON a.q IS NULL AND quoted_author.key = a.host || '/' || a.quote_id
),
boost_posts AS (
    SELECT
        'mastodon:' || w.host || ':' || w.s.id AS post_id,
        'mastodon' AS platform,
        'mastodon:' || account_handle(w.s.account.acct, w.host) AS author_id,
        safe_timestamp(w.s.created_at) AS created_at,
        '' AS text,
        CAST(NULL AS VARCHAR) AS lang,
        coalesce(w.s.url, w.s.uri) AS url,
        'repost' AS kind,
        CAST(NULL AS VARCHAR) AS reply_to_post_id,
        CAST(NULL AS VARCHAR) AS reply_to_author_id,
        'mastodon:' || w.host || ':' || w.s.reblog.id AS repost_of_post_id,
        'mastodon:' || account_handle(w.s.reblog.account.acct, w.host) AS repost_of_author_id,
        CAST(NULL AS VARCHAR) AS quote_of_post_id,
        CAST(NULL AS VARCHAR) AS quote_of_author_id,
        CAST(NULL AS VARCHAR) AS link_title,
        TRY_CAST(w.s.favourites_count AS BIGINT) AS like_count,
        TRY_CAST(w.s.reblogs_count AS BIGINT) AS repost_count,
        TRY_CAST(w.s.replies_count AS BIGINT) AS reply_count,
        w.source, w.fetched_at, w.run_id,
        w.version AS version_rank_key,
        w.record_id AS raw_record_id, w.origin AS raw_origin,
        CAST([] AS STRUCT(lookup VARCHAR, "key" VARCHAR)[]) AS lookup_reads,
        CAST([] AS VARCHAR[]) AS links,
        CAST([] AS STRUCT(account_id VARCHAR, handle VARCHAR)[]) AS mentions,
        CAST([] AS VARCHAR[]) AS hashtags
    FROM wrappers AS w
    WHERE w.is_boost
)
SELECT * FROM content_posts
UNION ALL BY NAME
SELECT * FROM boost_posts;

-- name: accounts
WITH
records AS (
    SELECT
        r.record_type, r.fetched_at,
        -- parsed once, as in `posts`: every field used below (an account record's own at the top),
        -- and the types of reblog, quote.quoted_status, quote, quote.account and the reblog's
        json_transform(r.payload, '{
            "acct": "VARCHAR", "display_name": "VARCHAR", "note": "VARCHAR", "followers_count": "VARCHAR",
            "following_count": "VARCHAR", "created_at": "VARCHAR",
            "account": {
                "acct": "VARCHAR", "display_name": "VARCHAR", "note": "VARCHAR", "followers_count": "VARCHAR",
                "following_count": "VARCHAR", "created_at": "VARCHAR"
            },
            "quote": {"account": {
                "acct": "VARCHAR", "display_name": "VARCHAR", "note": "VARCHAR", "followers_count": "VARCHAR",
                "following_count": "VARCHAR", "created_at": "VARCHAR"
            }, "quoted_status": {"account": {
                "acct": "VARCHAR", "display_name": "VARCHAR", "note": "VARCHAR", "followers_count": "VARCHAR",
                "following_count": "VARCHAR", "created_at": "VARCHAR"
            }}},
            "reblog": {
                "account": {
                    "acct": "VARCHAR", "display_name": "VARCHAR", "note": "VARCHAR", "followers_count": "VARCHAR",
                    "following_count": "VARCHAR", "created_at": "VARCHAR"
                },
                "quote": {"account": {
                    "acct": "VARCHAR", "display_name": "VARCHAR", "note": "VARCHAR", "followers_count": "VARCHAR",
                    "following_count": "VARCHAR", "created_at": "VARCHAR"
                }, "quoted_status": {"account": {
                    "acct": "VARCHAR", "display_name": "VARCHAR", "note": "VARCHAR", "followers_count": "VARCHAR",
                    "following_count": "VARCHAR", "created_at": "VARCHAR"
                }}}
            }
        }') AS j,
        CASE WHEN r.record_type = 'status' THEN json_type(r.payload, [
            '$.reblog', '$.quote.quoted_status', '$.quote', '$.quote.account',
            '$.reblog.quote.quoted_status', '$.reblog.quote', '$.reblog.quote.account'
        ]) END AS t,
        -- host[:port]: two instances on one host (localhost:3000, localhost:3001) are two namespaces;
        -- the scheme's default port is no part of it
        canonical_host(CASE WHEN lower(r.origin) LIKE 'https:%'
            THEN regexp_replace(regexp_extract(r.origin, '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/]*@)?([^/?#]+)', 1), ':(?:443)?$', '')
            ELSE regexp_replace(regexp_extract(r.origin, '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/]*@)?([^/?#]+)', 1), ':(?:80)?$', '')
        END) AS host
    FROM raw AS r
    WHERE r.record_type IN ('status', 'account')
),
statuses AS (   -- status records and the statuses they boost; k: where the status's quote types are in t
    SELECT host, fetched_at, j AS s, t, 0 AS k FROM records WHERE record_type = 'status'
    UNION ALL
    SELECT host, fetched_at, j.reblog, t, 1 FROM records
    WHERE record_type = 'status' AND t[1] = 'OBJECT'
),
quoted AS (
    SELECT
        host, fetched_at,
        CASE
            WHEN t[2 + 3 * k] = 'OBJECT' THEN s.quote.quoted_status.account
            WHEN t[3 + 3 * k] = 'OBJECT' AND t[4 + 3 * k] = 'OBJECT' THEN s.quote.account
        END AS a
    FROM statuses
),
-- a Status embeds its author's full Account, so every copy is a full profile (detail 1)
account_objects AS (
    SELECT host, fetched_at, {
        'acct': j.acct, 'display_name': j.display_name, 'note': j.note, 'followers_count': j.followers_count,
        'following_count': j.following_count, 'created_at': j.created_at
    } AS a FROM records WHERE record_type = 'account'
    UNION ALL
    SELECT host, fetched_at, s.account FROM statuses
    UNION ALL
    SELECT host, fetched_at, a FROM quoted WHERE a IS NOT NULL
),
-- every status embeds its author, so a few accounts appear in every payload: the fields (and the
-- HTML of each bio) are computed once per distinct account (the fields read, not the whole object:
-- the same rows) and joined back to each copy, which keeps its own fetched_at (forget traces every
-- record that carries an account by it); an `a` that is no object has no acct, so it goes here
distinct_objects AS (
    SELECT DISTINCT host, a FROM account_objects WHERE coalesce(a.acct, '') <> ''
),
object_fields AS (
    SELECT
        host, a,
        account_handle(a.acct, host) AS acct_full,
        a.display_name AS display_name,
        html_to_text(coalesce(a.note, '')) AS bio,
        TRY_CAST(a.followers_count AS BIGINT) AS followers,
        TRY_CAST(a.following_count AS BIGINT) AS following,
        safe_timestamp(a.created_at) AS created_at
    FROM distinct_objects
)
SELECT DISTINCT
    'mastodon:' || f.acct_full AS account_id,
    'mastodon' AS platform,
    f.acct_full AS handle,
    f.display_name,
    f.bio,
    f.followers,
    f.following,
    f.created_at,
    o.fetched_at,
    1 AS detail
FROM account_objects AS o
JOIN object_fields AS f ON f.host IS NOT DISTINCT FROM o.host AND f.a IS NOT DISTINCT FROM o.a;
