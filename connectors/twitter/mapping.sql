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
-- Each payload is parsed once: one json_extract reads every value used below, by path, into the
-- list `v` (one list of paths per record type), and each value is read from its own small JSON
-- text: `v[i] ->> '$'` is what `j ->> path` was (a string's text, a number spelt as `->>` spells
-- it; a STRUCT from json_transform would spell a numeric id of 1e16 '1e+16'), and the entity
-- lists go to the same from_json as before. A v2 tweet's referenced tweets are each parsed once
-- more, from their own JSON text, with the tweet's paths.
WITH
records AS (
    SELECT record_type, source, fetched_at, run_id, md5(payload) AS version_rank_key,
           CASE record_type
               WHEN 'account' THEN json_extract(payload, ['$.username', '$.accountId'])
               WHEN 'archive_tweet' THEN json_extract(payload, [
                   '$.account.username', '$.account.accountId', '$.tweet.id_str', '$.tweet.created_at',     -- 1-4
                   '$.tweet.full_text', '$.tweet.text', '$.tweet.lang',                                     -- 5-7
                   '$.tweet.in_reply_to_status_id_str', '$.tweet.in_reply_to_user_id_str',                 -- 8-9
                   '$.tweet.favorite_count', '$.tweet.retweet_count', '$.tweet.entities.urls',              -- 10-12
                   '$.tweet.entities.media', '$.tweet.entities.user_mentions', '$.tweet.entities.hashtags'  -- 13-15
               ])
               -- an API v2 tweet: the same paths as its referenced tweets' (v2_tweets)
               ELSE json_extract(payload, [
                   '$.id', '$.author_id', '$.author.username', '$.created_at',                          -- 1-4
                   '$.note_tweet.text', '$.text', '$.lang', '$.in_reply_to_user_id',                    -- 5-8
                   '$.public_metrics.like_count', '$.public_metrics.retweet_count',                     -- 9-10
                   '$.public_metrics.reply_count', '$.referenced_tweets',                               -- 11-12
                   '$.entities.urls', '$.entities.mentions', '$.entities.hashtags',                     -- 13-15
                   '$.note_tweet.entities.urls', '$.note_tweet.entities.mentions',                      -- 16-17
                   '$.note_tweet.entities.hashtags', '$.type', '$.author.id'                            -- 18-20
               ])
           END AS v
    FROM raw
    WHERE record_type IN ('archive_tweet', 'tweet', 'account')
),
known_users AS (   -- (handle, numeric id) pairs seen anywhere in the data
    SELECT account_handle(v[1] ->> '$', NULL) AS handle, v[2] ->> '$' AS id, fetched_at
    FROM records WHERE record_type = 'account'
    UNION ALL
    SELECT account_handle(v[1] ->> '$', NULL), v[2] ->> '$', fetched_at
    FROM records WHERE record_type = 'archive_tweet'
    UNION ALL
    SELECT account_handle(m.screen_name, NULL), m.id_str, r.fetched_at
    FROM records AS r,
        unnest(coalesce(from_json(r.v[14], '[{"screen_name":"VARCHAR","id_str":"VARCHAR"}]'), [])) AS u(m)
    WHERE r.record_type = 'archive_tweet'
    UNION ALL
    SELECT account_handle(v[3] ->> '$', NULL), v[20] ->> '$', fetched_at FROM records WHERE record_type = 'tweet'
    UNION ALL
    SELECT account_handle(m.username, NULL), m.id, r.fetched_at
    FROM records AS r,
        unnest(coalesce(from_json(r.v[14], '[{"username":"VARCHAR","id":"VARCHAR"}]'), [])) AS u(m)
    WHERE r.record_type = 'tweet'
    UNION ALL
    SELECT account_handle(x.author.username, NULL), x.author.id, r.fetched_at
    FROM records AS r,
        unnest(coalesce(from_json(r.v[12], '[{"author":{"username":"VARCHAR","id":"VARCHAR"}}]'), [])) AS u(x)
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
        source, fetched_at, run_id, version_rank_key, v,
        coalesce(nullif(v[2] ->> '$', ''), account_handle(v[1] ->> '$', NULL)) AS owner_id,
        account_handle(v[1] ->> '$', NULL) AS owner_handle,
        coalesce(from_json(v[12], '[{"url":"VARCHAR","expanded_url":"VARCHAR"}]'), []) AS urls,
        coalesce(from_json(v[13], '[{"url":"VARCHAR"}]'), []) AS media,
        coalesce(from_json(v[14], '[{"screen_name":"VARCHAR","id_str":"VARCHAR"}]'), []) AS user_mentions,
        coalesce(from_json(v[15], '[{"text":"VARCHAR"}]'), []) AS tags
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
        lower(regexp_extract(coalesce(v[5] ->> '$', v[6] ->> '$'), '^RT @([A-Za-z0-9_]{1,15}):', 1)) AS rt_handle
    FROM archive
),
archive_unified AS (
    SELECT
        source, fetched_at, run_id, version_rank_key,
        v[3] ->> '$' AS id,
        owner_id AS author_id,
        owner_handle AS author_handle,
        try_strptime(v[4] ->> '$', '%a %b %d %H:%M:%S %z %Y') AS created_at,
        coalesce(v[5] ->> '$', v[6] ->> '$') AS raw_text,
        v[7] ->> '$' AS lang,
        [{'url': u.url, 'target': u.expanded_url, 'title': CAST(NULL AS VARCHAR), 'is_media': false} FOR u IN urls]
            || [{'url': m.url, 'target': CAST(NULL AS VARCHAR), 'title': CAST(NULL AS VARCHAR), 'is_media': true}
                FOR m IN media] AS url_entities,
        [{'handle': account_handle(m.screen_name, NULL), 'id': m.id_str} FOR m IN user_mentions] AS mention_list,
        [h.text FOR h IN tags] AS tag_list,
        nullif(v[8] ->> '$', '') AS reply_to_id,
        nullif(v[9] ->> '$', '') AS reply_to_user_id,
        rt_handle <> '' AS is_repost,
        CAST(NULL AS VARCHAR) AS rt_id,
        list_filter(user_mentions, lambda m: account_handle(m.screen_name, NULL) = rt_handle)[1].id_str AS rt_author_id,
        nullif(rt_handle, '') AS rt_handle,
        nullif(quote_link.id, '') AS quote_id,
        CAST(NULL AS VARCHAR) AS quote_author_id,
        nullif(lower(quote_link.handle), '') AS quote_handle,
        TRY_CAST(v[10] ->> '$' AS BIGINT) AS like_count,
        TRY_CAST(v[11] ->> '$' AS BIGINT) AS repost_count,
        CAST(NULL AS BIGINT) AS reply_count
    FROM archive_quotes
),
-- ---- twarc2 / API v2, in the unified shape ----
v2_records AS (
    SELECT source, fetched_at, run_id, version_rank_key, v FROM records WHERE record_type = 'tweet'
),
v2_tweets AS (     -- each record's tweet, plus the retweeted and quoted tweets included in it
    SELECT * FROM v2_records
    UNION ALL
    SELECT * FROM (
        SELECT r.source, r.fetched_at, r.run_id, r.version_rank_key,
            json_extract(ref, [
                '$.id', '$.author_id', '$.author.username', '$.created_at',                          -- 1-4
                '$.note_tweet.text', '$.text', '$.lang', '$.in_reply_to_user_id',                    -- 5-8
                '$.public_metrics.like_count', '$.public_metrics.retweet_count',                     -- 9-10
                '$.public_metrics.reply_count', '$.referenced_tweets',                               -- 11-12
                '$.entities.urls', '$.entities.mentions', '$.entities.hashtags',                     -- 13-15
                '$.note_tweet.entities.urls', '$.note_tweet.entities.mentions',                      -- 16-17
                '$.note_tweet.entities.hashtags', '$.type', '$.author.id'                            -- 18-20
            ]) AS v
        FROM v2_records AS r, unnest(json_extract(r.v[12], '$[*]')) AS u(ref)
    )
    WHERE v[19] ->> '$' IN ('retweeted', 'quoted')
      AND v[6] ->> '$' IS NOT NULL AND v[2] ->> '$' IS NOT NULL AND v[4] ->> '$' IS NOT NULL
),
v2_fields AS (
    SELECT
        *,
        v[5] ->> '$' IS NOT NULL AS is_note,
        coalesce(from_json(v[12], '[{"type":"VARCHAR","id":"VARCHAR","author_id":"VARCHAR"}]'), []) AS refs
    FROM v2_tweets
),
v2_parts AS (
    SELECT
        *,
        -- the long text's entities when it has one, else the tweet's
        coalesce(from_json(CASE WHEN is_note THEN v[16] ELSE v[13] END,
            '[{"url":"VARCHAR","expanded_url":"VARCHAR","unwound_url":"VARCHAR","title":"VARCHAR","media_key":"VARCHAR"}]'),
            []) AS urls,
        coalesce(from_json(CASE WHEN is_note THEN v[17] ELSE v[14] END, '[{"username":"VARCHAR","id":"VARCHAR"}]'), [])
            AS mentions,
        coalesce(from_json(CASE WHEN is_note THEN v[18] ELSE v[15] END, '[{"tag":"VARCHAR"}]'), []) AS tags,
        list_filter(refs, lambda r: r.type = 'retweeted')[1] AS rt,
        list_filter(refs, lambda r: r.type = 'quoted')[1] AS qt,
        list_filter(refs, lambda r: r.type = 'replied_to')[1] AS rp,
        lower(regexp_extract(v[6] ->> '$', '^RT @([A-Za-z0-9_]{1,15}):', 1)) AS rt_text_handle
    FROM v2_fields
),
v2_unified AS (
    SELECT
        source, fetched_at, run_id, version_rank_key,
        v[1] ->> '$' AS id,
        v[2] ->> '$' AS author_id,
        account_handle(v[3] ->> '$', NULL) AS author_handle,
        safe_timestamp(v[4] ->> '$') AS created_at,  -- never raises, never a BC date (year 0)
        CASE WHEN is_note THEN v[5] ->> '$' ELSE v[6] ->> '$' END AS raw_text,
        v[7] ->> '$' AS lang,
        [{'url': u.url, 'target': coalesce(u.unwound_url, u.expanded_url), 'title': u.title,
          'is_media': u.media_key IS NOT NULL} FOR u IN urls] AS url_entities,
        [{'handle': account_handle(m.username, NULL), 'id': m.id} FOR m IN mentions] AS mention_list,
        [h.tag FOR h IN tags] AS tag_list,
        rp.id AS reply_to_id,
        v[8] ->> '$' AS reply_to_user_id,
        rt.id IS NOT NULL AS is_repost,
        rt.id AS rt_id,
        coalesce(rt.author_id, list_filter(mentions, lambda m: account_handle(m.username, NULL) = rt_text_handle)[1].id)
            AS rt_author_id,
        nullif(rt_text_handle, '') AS rt_handle,
        qt.id AS quote_id,
        qt.author_id AS quote_author_id,
        -- the quoted tweet's link: one whose /status/<digits> is its id. The id is compared as text,
        -- never spliced into the pattern: an id holding ')' or '(' in raw (an older import) made
        -- an invalid pattern, and that one record stopped the whole normalise
        nullif(lower(regexp_extract(
            list_filter([coalesce(u.unwound_url, u.expanded_url) FOR u IN urls],
                        lambda x: list_contains(regexp_extract_all(coalesce(x, ''), '/status(?:es)?/([0-9]+)', 1),
                                                qt.id))[1],
            '^https?://(?:www\.|mobile\.|m\.)?(?:twitter|x)\.com/(?:#!/)?(?:i/web/|([A-Za-z0-9_]{1,15})/)status', 1)),
            '') AS quote_handle,
        TRY_CAST(v[9] ->> '$' AS BIGINT) AS like_count,
        TRY_CAST(v[10] ->> '$' AS BIGINT) AS repost_count,
        TRY_CAST(v[11] ->> '$' AS BIGINT) AS reply_count
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
-- Parsed once, as in `posts`: `v` holds an owner's four fields (account.js, or an archive tweet's
-- `account`) and the archive's mentions, or a v2 tweet's author and in_reply_to_user (seven
-- fields each, `u` below), referenced tweets and mentions; each referenced tweet's author is read
-- from the tweet's own JSON text.
WITH
records AS (
    SELECT record_type, fetched_at,
           CASE record_type
               WHEN 'account' THEN json_extract(payload, [
                   '$.accountId', '$.username', '$.accountDisplayName', '$.createdAt'
               ])
               WHEN 'archive_tweet' THEN json_extract(payload, [
                   '$.account.accountId', '$.account.username', '$.account.accountDisplayName', '$.account.createdAt',
                   '$.tweet.entities.user_mentions'
               ])
               ELSE json_extract(payload, [
                   '$.author.id', '$.author.username', '$.author.name', '$.author.description',                -- 1-4
                   '$.author.public_metrics.followers_count', '$.author.public_metrics.following_count',       -- 5-6
                   '$.author.created_at',                                                                      -- 7
                   '$.in_reply_to_user.id', '$.in_reply_to_user.username', '$.in_reply_to_user.name',          -- 8-10
                   '$.in_reply_to_user.description', '$.in_reply_to_user.public_metrics.followers_count',      -- 11-12
                   '$.in_reply_to_user.public_metrics.following_count', '$.in_reply_to_user.created_at',       -- 13-14
                   '$.referenced_tweets', '$.entities.mentions'                                                -- 15-16
               ])
           END AS v
    FROM raw
    WHERE record_type IN ('archive_tweet', 'tweet', 'account')
),
owners AS (        -- account.js and the owner embedded in each archive tweet
    SELECT v, fetched_at FROM records WHERE record_type IN ('account', 'archive_tweet')
),
archive_mentions AS (
    SELECT m.id_str AS id, account_handle(m.screen_name, NULL) AS handle, m.name AS name, r.fetched_at
    FROM records AS r,
        unnest(coalesce(from_json(r.v[5], '[{"screen_name":"VARCHAR","id_str":"VARCHAR","name":"VARCHAR"}]'), []))
            AS u(m)
    WHERE r.record_type = 'archive_tweet'
),
v2_users AS (      -- full user objects from includes.users, as twarc inlines them
    SELECT v[1:7] AS u, fetched_at FROM records WHERE record_type = 'tweet'
    UNION ALL
    SELECT v[8:14], fetched_at FROM records WHERE record_type = 'tweet'
    UNION ALL
    SELECT json_extract(x, [
        '$.author.id', '$.author.username', '$.author.name', '$.author.description',
        '$.author.public_metrics.followers_count', '$.author.public_metrics.following_count', '$.author.created_at'
    ]), r.fetched_at
    FROM records AS r, unnest(json_extract(r.v[15], '$[*]')) AS t(x)
    WHERE r.record_type = 'tweet'
),
v2_mentions AS (
    SELECT m.id AS id, account_handle(m.username, NULL) AS handle, m.name AS name, r.fetched_at
    FROM records AS r,
        unnest(coalesce(from_json(r.v[16], '[{"username":"VARCHAR","id":"VARCHAR","name":"VARCHAR"}]'),
                        [])) AS t(m)
    WHERE r.record_type = 'tweet'
)
SELECT
    'twitter:' || coalesce(nullif(v[1] ->> '$', ''), account_handle(v[2] ->> '$', NULL)) AS account_id,
    'twitter' AS platform,
    account_handle(v[2] ->> '$', NULL) AS handle,
    v[3] ->> '$' AS display_name,
    CAST(NULL AS VARCHAR) AS bio,
    CAST(NULL AS BIGINT) AS followers,
    CAST(NULL AS BIGINT) AS following,
    safe_timestamp(v[4] ->> '$') AS created_at,  -- as a tweet's: never a BC date (year 0)
    fetched_at,
    1 AS detail
FROM owners
WHERE coalesce(v[1] ->> '$', v[2] ->> '$', '') <> ''
UNION ALL
SELECT
    'twitter:' || (u[1] ->> '$'),
    'twitter',
    account_handle(u[2] ->> '$', NULL),
    u[3] ->> '$',
    u[4] ->> '$',
    TRY_CAST(u[5] ->> '$' AS BIGINT),
    TRY_CAST(u[6] ->> '$' AS BIGINT),
    safe_timestamp(u[7] ->> '$'),
    fetched_at,
    1
FROM v2_users
WHERE regexp_full_match(coalesce(u[1] ->> '$', ''), '[0-9]+') AND coalesce(u[2] ->> '$', '') <> ''
UNION ALL
SELECT
    'twitter:' || id, 'twitter', handle, name, CAST(NULL AS VARCHAR), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT),
    CAST(NULL AS TIMESTAMPTZ), fetched_at, 0
FROM (SELECT * FROM archive_mentions UNION ALL SELECT * FROM v2_mentions)
WHERE regexp_full_match(coalesce(id, ''), '[0-9]+') AND coalesce(handle, '') <> ''
