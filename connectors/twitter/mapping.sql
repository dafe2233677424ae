-- X/Twitter raw records -> canonical posts and accounts (contract: docs/architecture.md,
-- "Normalisation contract"). Reads only the view `raw`.
--
-- record_type 'archive_tweet': {"tweet": <a tweets.js tweet (v1.1-like, counts as strings)>,
--                               "account": <the archive owner: accountId, username, ...>}
-- record_type 'tweet':         an API v2 tweet flattened as twarc does: `author`, `in_reply_to_user`,
--                              mentions merged with users, `referenced_tweets` items merged with the
--                              included tweets (each with its `author`).
-- record_type 'account':       the public fields of the archive's account.js.
--
-- Decisions:
-- * ids: 'twitter:' || numeric id. A handle whose id is nowhere in the data (a lone tweets.js
--   imported with options.username only; a quoted author known only from the quote's URL) becomes
--   'twitter:' || lower(handle), the id configuration's 'twitter:<handle>' falls back to.
-- * both inputs are first brought to one row shape (`unified`), then mapped once.
-- * kind: 'repost' (a retweet: v2 referenced_tweets 'retweeted'; in the archive, text starting
--   'RT @user:'), else 'reply', else 'quote' (v2 'quoted'; in the archive, a link to a tweet on
--   twitter.com or x.com), else 'post'. A reply that quotes keeps its quote_of_* columns.
-- * a retweet is a pure repost: text '', no links, mentions, hashtags, lang or counts (a v2
--   retweet's public_metrics are the original's). The v2 original (and a quoted tweet) included
--   in the record is a post of its own. The archive has no id for the retweeted tweet:
--   repost_of_post_id stays NULL there; its author comes from the mention of the RT's @user.
-- * text: t.co links replaced by their full URL (unwound_url when twarc has it), the links to a
--   quoted tweet and to attached media removed (the platform shows them as embeds, not text),
--   &lt; &gt; &amp; decoded (both the archive and API v2 escape them). v2 long tweets (note_tweet)
--   use the full text.
-- * links: expanded (or unwound) URLs minus links to tweets and media; link_title: the v2 URL
--   card title. lang: NULL for X's non-language codes (und, zxx, qam, qct, qht, qme, qst).
-- * accounts: v2 users (author, reply target, referenced tweets' authors) are full profiles
--   (detail 1) as are the archive owner and account.js; mentions give partial ones (detail 0).

-- name: posts
WITH
records AS (
    SELECT record_type, source, fetched_at, run_id, md5(payload) AS version_rank_key, CAST(payload AS JSON) AS j
    FROM raw
    WHERE record_type IN ('archive_tweet', 'tweet', 'account')
),
known_users AS (   -- (handle, numeric id) pairs seen anywhere in the data
    SELECT account_handle(j ->> '$.username', NULL) AS handle, j ->> '$.accountId' AS id, fetched_at
    FROM records WHERE record_type = 'account'
    UNION ALL
    SELECT account_handle(j ->> '$.account.username', NULL), j ->> '$.account.accountId', fetched_at
    FROM records WHERE record_type = 'archive_tweet'
    UNION ALL
    SELECT account_handle(m.screen_name, NULL), m.id_str, r.fetched_at
    FROM records AS r,
        unnest(coalesce(from_json(r.j -> '$.tweet.entities.user_mentions',
                                  '[{"screen_name":"VARCHAR","id_str":"VARCHAR"}]'), [])) AS u(m)
    WHERE r.record_type = 'archive_tweet'
    UNION ALL
    SELECT account_handle(j ->> '$.author.username', NULL), j ->> '$.author.id', fetched_at FROM records WHERE record_type = 'tweet'
    UNION ALL
    SELECT account_handle(m.username, NULL), m.id, r.fetched_at
    FROM records AS r,
        unnest(coalesce(from_json(r.j -> '$.entities.mentions', '[{"username":"VARCHAR","id":"VARCHAR"}]'), [])) AS u(m)
    WHERE r.record_type = 'tweet'
    UNION ALL
    SELECT account_handle(x.author.username, NULL), x.author.id, r.fetched_at
    FROM records AS r,
        unnest(coalesce(from_json(r.j -> '$.referenced_tweets',
                                  '[{"author":{"username":"VARCHAR","id":"VARCHAR"}}]'), [])) AS u(x)
    WHERE r.record_type = 'tweet'
),
user_ids AS (
    SELECT handle, arg_max(id, fetched_at) AS id
    FROM known_users
    WHERE handle IS NOT NULL AND handle <> '' AND regexp_full_match(coalesce(id, ''), '[0-9]+')
    GROUP BY handle
),
-- ---- the archive, in the unified shape ----
archive AS (
    SELECT
        source, fetched_at, run_id, version_rank_key,
        j -> '$.tweet' AS t,
        coalesce(nullif(j ->> '$.account.accountId', ''), account_handle(j ->> '$.account.username', NULL)) AS owner_id,
        account_handle(j ->> '$.account.username', NULL) AS owner_handle,
        coalesce(from_json(j -> '$.tweet.entities.urls', '[{"url":"VARCHAR","expanded_url":"VARCHAR"}]'), [])
            AS urls,
        coalesce(from_json(j -> '$.tweet.entities.media', '[{"url":"VARCHAR"}]'), []) AS media,
        coalesce(from_json(j -> '$.tweet.entities.user_mentions', '[{"screen_name":"VARCHAR","id_str":"VARCHAR"}]'),
                 []) AS user_mentions,
        coalesce(from_json(j -> '$.tweet.entities.hashtags', '[{"text":"VARCHAR"}]'), []) AS tags
    FROM records
    WHERE record_type = 'archive_tweet'
),
archive_quotes AS (
    SELECT
        *,
        regexp_extract(
            list_filter(urls, lambda u: regexp_matches(coalesce(u.expanded_url, ''),
                '^https?://(?:www\.|mobile\.|m\.)?(?:twitter|x)\.com/(?:#!/)?(?:i/web/|[A-Za-z0-9_]{1,15}/)status(?:es)?/[0-9]+'))[1].expanded_url,
            '^https?://(?:www\.|mobile\.|m\.)?(?:twitter|x)\.com/(?:#!/)?(?:i/web/|([A-Za-z0-9_]{1,15})/)status(?:es)?/([0-9]+)',
            ['handle', 'id']) AS quote_link,
        lower(regexp_extract(coalesce(t ->> '$.full_text', t ->> '$.text'), '^RT @([A-Za-z0-9_]{1,15}):', 1)) AS rt_handle
    FROM archive
),
archive_unified AS (
    SELECT
        source, fetched_at, run_id, version_rank_key,
        t ->> '$.id_str' AS id,
        owner_id AS author_id,
        owner_handle AS author_handle,
        try_strptime(t ->> '$.created_at', '%a %b %d %H:%M:%S %z %Y') AS created_at,
        coalesce(t ->> '$.full_text', t ->> '$.text') AS raw_text,
        t ->> '$.lang' AS lang,
        [{'url': u.url, 'target': u.expanded_url, 'title': CAST(NULL AS VARCHAR), 'is_media': false} FOR u IN urls]
            || [{'url': m.url, 'target': CAST(NULL AS VARCHAR), 'title': CAST(NULL AS VARCHAR), 'is_media': true}
                FOR m IN media] AS url_entities,
        [{'handle': account_handle(m.screen_name, NULL), 'id': m.id_str} FOR m IN user_mentions] AS mention_list,
        [h.text FOR h IN tags] AS tag_list,
        nullif(t ->> '$.in_reply_to_status_id_str', '') AS reply_to_id,
        nullif(t ->> '$.in_reply_to_user_id_str', '') AS reply_to_user_id,
        rt_handle <> '' AS is_repost,
        CAST(NULL AS VARCHAR) AS rt_id,
        list_filter(user_mentions, lambda m: account_handle(m.screen_name, NULL) = rt_handle)[1].id_str AS rt_author_id,
        nullif(rt_handle, '') AS rt_handle,
        nullif(quote_link.id, '') AS quote_id,
        CAST(NULL AS VARCHAR) AS quote_author_id,
        nullif(lower(quote_link.handle), '') AS quote_handle,
        TRY_CAST(t ->> '$.favorite_count' AS BIGINT) AS like_count,
        TRY_CAST(t ->> '$.retweet_count' AS BIGINT) AS repost_count,
        CAST(NULL AS BIGINT) AS reply_count
    FROM archive_quotes
),
-- ---- twarc2 / API v2, in the unified shape ----
v2_records AS (
    SELECT source, fetched_at, run_id, version_rank_key, j AS t FROM records WHERE record_type = 'tweet'
),
v2_tweets AS (     -- each record's tweet, plus the retweeted and quoted tweets included in it
    SELECT * FROM v2_records
    UNION ALL
    SELECT r.source, r.fetched_at, r.run_id, r.version_rank_key, ref
    FROM v2_records AS r, unnest(json_extract(r.t, '$.referenced_tweets[*]')) AS u(ref)
    WHERE ref ->> '$.type' IN ('retweeted', 'quoted')
      AND ref ->> '$.text' IS NOT NULL AND ref ->> '$.author_id' IS NOT NULL AND ref ->> '$.created_at' IS NOT NULL
),
v2_fields AS (
    SELECT
        *,
        t ->> '$.note_tweet.text' IS NOT NULL AS is_note,
        CASE WHEN t ->> '$.note_tweet.text' IS NOT NULL THEN t -> '$.note_tweet.entities' ELSE t -> '$.entities' END
            AS ents,
        coalesce(from_json(t -> '$.referenced_tweets', '[{"type":"VARCHAR","id":"VARCHAR","author_id":"VARCHAR"}]'), [])
            AS refs
    FROM v2_tweets
),
v2_parts AS (
    SELECT
        *,
        coalesce(from_json(ents -> '$.urls',
            '[{"url":"VARCHAR","expanded_url":"VARCHAR","unwound_url":"VARCHAR","title":"VARCHAR","media_key":"VARCHAR"}]'),
            []) AS urls,
        coalesce(from_json(ents -> '$.mentions', '[{"username":"VARCHAR","id":"VARCHAR"}]'), []) AS mentions,
        coalesce(from_json(ents -> '$.hashtags', '[{"tag":"VARCHAR"}]'), []) AS tags,
        list_filter(refs, lambda r: r.type = 'retweeted')[1] AS rt,
        list_filter(refs, lambda r: r.type = 'quoted')[1] AS qt,
        list_filter(refs, lambda r: r.type = 'replied_to')[1] AS rp,
        lower(regexp_extract(t ->> '$.text', '^RT @([A-Za-z0-9_]{1,15}):', 1)) AS rt_text_handle
    FROM v2_fields
),
v2_unified AS (
    SELECT
        source, fetched_at, run_id, version_rank_key,
        t ->> '$.id' AS id,
        t ->> '$.author_id' AS author_id,
        account_handle(t ->> '$.author.username', NULL) AS author_handle,
        TRY_CAST(t ->> '$.created_at' AS TIMESTAMPTZ) AS created_at,
        CASE WHEN is_note THEN t ->> '$.note_tweet.text' ELSE t ->> '$.text' END AS raw_text,
        t ->> '$.lang' AS lang,
        [{'url': u.url, 'target': coalesce(u.unwound_url, u.expanded_url), 'title': u.title,
          'is_media': u.media_key IS NOT NULL} FOR u IN urls] AS url_entities,
        [{'handle': account_handle(m.username, NULL), 'id': m.id} FOR m IN mentions] AS mention_list,
        [h.tag FOR h IN tags] AS tag_list,
        rp.id AS reply_to_id,
        t ->> '$.in_reply_to_user_id' AS reply_to_user_id,
        rt.id IS NOT NULL AS is_repost,
        rt.id AS rt_id,
        coalesce(rt.author_id, list_filter(mentions, lambda m: account_handle(m.username, NULL) = rt_text_handle)[1].id)
            AS rt_author_id,
        nullif(rt_text_handle, '') AS rt_handle,
        qt.id AS quote_id,
        qt.author_id AS quote_author_id,
        nullif(lower(regexp_extract(
            list_filter([coalesce(u.unwound_url, u.expanded_url) FOR u IN urls],
                        lambda x: regexp_matches(coalesce(x, ''), '/status(?:es)?/' || qt.id || '(?:[^0-9]|$)'))[1],
            '^https?://(?:www\.|mobile\.|m\.)?(?:twitter|x)\.com/(?:#!/)?(?:i/web/|([A-Za-z0-9_]{1,15})/)status', 1)),
            '') AS quote_handle,
        TRY_CAST(t ->> '$.public_metrics.like_count' AS BIGINT) AS like_count,
        TRY_CAST(t ->> '$.public_metrics.retweet_count' AS BIGINT) AS repost_count,
        TRY_CAST(t ->> '$.public_metrics.reply_count' AS BIGINT) AS reply_count
    FROM v2_parts
),
unified AS (
    SELECT * FROM archive_unified
    UNION ALL BY NAME
    SELECT * FROM v2_unified
),
resolved AS (
    SELECT
        u.*,
        [e FOR e IN u.url_entities
            IF regexp_matches(coalesce(e.target, ''), '^https?://')
               AND NOT e.is_media
               AND NOT regexp_matches(e.target,
                   '^https?://(?:www\.|mobile\.|m\.)?(?:twitter|x)\.com/(?:#!/)?(?:i/web/|[A-Za-z0-9_]{1,15}/)status(?:es)?/[0-9]+')]
            AS link_entities,
        -- t.co -> full URL; links to tweets (quotes) and media dropped from the text
        trim(replace(replace(replace(
            list_reduce(
                [e FOR e IN u.url_entities IF coalesce(e.url, '') <> ''],
                lambda acc, e: replace(acc, e.url,
                    CASE WHEN e.is_media OR regexp_matches(coalesce(e.target, ''),
                            '^https?://(?:www\.|mobile\.|m\.)?(?:twitter|x)\.com/(?:#!/)?(?:i/web/|[A-Za-z0-9_]{1,15}/)status(?:es)?/[0-9]+')
                         THEN '' ELSE coalesce(e.target, e.url) END),
                coalesce(u.raw_text, '')),
            '&lt;', '<'), '&gt;', '>'), '&amp;', '&')) AS clean_text,
        'twitter:' || coalesce(nullif(u.rt_author_id, '-1'), rt_user.id, u.rt_handle) AS rt_author,
        'twitter:' || coalesce(u.quote_author_id, quote_user.id, nullif(u.quote_handle, 'i')) AS quote_author
    FROM unified AS u
    LEFT JOIN user_ids AS rt_user ON rt_user.handle = u.rt_handle
    LEFT JOIN user_ids AS quote_user ON quote_user.handle = u.quote_handle AND u.quote_handle <> 'i'
)
SELECT
    'twitter:' || r.id AS post_id,
    'twitter' AS platform,
    'twitter:' || r.author_id AS author_id,
    r.created_at,
    CASE WHEN r.is_repost THEN '' ELSE r.clean_text END AS text,
    CASE WHEN r.is_repost OR r.lang IN ('und', 'zxx', 'qam', 'qct', 'qht', 'qme', 'qst') THEN NULL ELSE r.lang END
        AS lang,
    'https://x.com/' || coalesce(nullif(r.author_handle, ''), 'i/web') || '/status/' || r.id AS url,
    CASE
        WHEN r.is_repost THEN 'repost'
        WHEN r.reply_to_id IS NOT NULL THEN 'reply'
        WHEN r.quote_id IS NOT NULL THEN 'quote'
        ELSE 'post'
    END AS kind,
    CASE WHEN NOT r.is_repost THEN 'twitter:' || r.reply_to_id END AS reply_to_post_id,
    CASE WHEN NOT r.is_repost THEN 'twitter:' || r.reply_to_user_id END AS reply_to_author_id,
    CASE WHEN r.is_repost THEN 'twitter:' || r.rt_id END AS repost_of_post_id,
    CASE WHEN r.is_repost THEN r.rt_author END AS repost_of_author_id,
    CASE WHEN NOT r.is_repost THEN 'twitter:' || r.quote_id END AS quote_of_post_id,
    CASE WHEN NOT r.is_repost AND r.quote_id IS NOT NULL THEN r.quote_author END AS quote_of_author_id,
    CASE WHEN NOT r.is_repost THEN [e.title FOR e IN r.link_entities IF coalesce(e.title, '') <> ''][1] END
        AS link_title,
    CASE WHEN NOT r.is_repost THEN r.like_count END AS like_count,
    CASE WHEN NOT r.is_repost THEN r.repost_count END AS repost_count,
    CASE WHEN NOT r.is_repost THEN r.reply_count END AS reply_count,
    r.source, r.fetched_at, r.run_id, r.version_rank_key,
    CASE WHEN r.is_repost THEN CAST([] AS VARCHAR[]) ELSE list_distinct([e.target FOR e IN r.link_entities]) END
        AS links,
    CASE WHEN r.is_repost THEN CAST([] AS STRUCT(account_id VARCHAR, handle VARCHAR)[])
        ELSE list_distinct([
            {'account_id': 'twitter:' || coalesce(CASE WHEN regexp_full_match(coalesce(m.id, ''), '[0-9]+') THEN m.id END,
                                                  m.handle),
             'handle': m.handle}
            FOR m IN r.mention_list IF coalesce(m.handle, '') <> ''])
    END AS mentions,
    CASE WHEN r.is_repost THEN CAST([] AS VARCHAR[])
        ELSE list_distinct([lower(ltrim(h, '#')) FOR h IN r.tag_list IF coalesce(ltrim(h, '#'), '') <> ''])
    END AS hashtags
FROM resolved AS r;

-- name: accounts
WITH
records AS (
    SELECT record_type, fetched_at, CAST(payload AS JSON) AS j
    FROM raw
    WHERE record_type IN ('archive_tweet', 'tweet', 'account')
),
owners AS (        -- account.js and the owner embedded in each archive tweet
    SELECT j AS a, fetched_at FROM records WHERE record_type = 'account'
    UNION ALL
    SELECT j -> '$.account', fetched_at FROM records WHERE record_type = 'archive_tweet'
),
archive_mentions AS (
    SELECT m.id_str AS id, account_handle(m.screen_name, NULL) AS handle, m.name AS name, r.fetched_at
    FROM records AS r,
        unnest(coalesce(from_json(r.j -> '$.tweet.entities.user_mentions',
                                  '[{"screen_name":"VARCHAR","id_str":"VARCHAR","name":"VARCHAR"}]'), [])) AS u(m)
    WHERE r.record_type = 'archive_tweet'
),
v2_users AS (      -- full user objects from includes.users, as twarc inlines them
    SELECT j -> '$.author' AS u, fetched_at FROM records WHERE record_type = 'tweet'
    UNION ALL
    SELECT j -> '$.in_reply_to_user', fetched_at FROM records WHERE record_type = 'tweet'
    UNION ALL
    SELECT x -> '$.author', r.fetched_at
    FROM records AS r, unnest(json_extract(r.j, '$.referenced_tweets[*]')) AS t(x)
    WHERE r.record_type = 'tweet'
),
v2_mentions AS (
    SELECT m.id AS id, account_handle(m.username, NULL) AS handle, m.name AS name, r.fetched_at
    FROM records AS r,
        unnest(coalesce(from_json(r.j -> '$.entities.mentions', '[{"username":"VARCHAR","id":"VARCHAR","name":"VARCHAR"}]'),
                        [])) AS t(m)
    WHERE r.record_type = 'tweet'
)
SELECT
    'twitter:' || coalesce(nullif(a ->> '$.accountId', ''), account_handle(a ->> '$.username', NULL)) AS account_id,
    'twitter' AS platform,
    account_handle(a ->> '$.username', NULL) AS handle,
    a ->> '$.accountDisplayName' AS display_name,
    CAST(NULL AS VARCHAR) AS bio,
    CAST(NULL AS BIGINT) AS followers,
    CAST(NULL AS BIGINT) AS following,
    TRY_CAST(a ->> '$.createdAt' AS TIMESTAMPTZ) AS created_at,
    fetched_at,
    1 AS detail
FROM owners
WHERE coalesce(a ->> '$.accountId', a ->> '$.username', '') <> ''
UNION ALL
SELECT
    'twitter:' || (u ->> '$.id'),
    'twitter',
    account_handle(u ->> '$.username', NULL),
    u ->> '$.name',
    u ->> '$.description',
    TRY_CAST(u ->> '$.public_metrics.followers_count' AS BIGINT),
    TRY_CAST(u ->> '$.public_metrics.following_count' AS BIGINT),
    TRY_CAST(u ->> '$.created_at' AS TIMESTAMPTZ),
    fetched_at,
    1
FROM v2_users
WHERE regexp_full_match(coalesce(u ->> '$.id', ''), '[0-9]+') AND coalesce(u ->> '$.username', '') <> ''
UNION ALL
SELECT
    'twitter:' || id, 'twitter', handle, name, CAST(NULL AS VARCHAR), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT),
    CAST(NULL AS TIMESTAMPTZ), fetched_at, 0
FROM (SELECT * FROM archive_mentions UNION ALL SELECT * FROM v2_mentions)
WHERE regexp_full_match(coalesce(id, ''), '[0-9]+') AND coalesce(handle, '') <> ''
