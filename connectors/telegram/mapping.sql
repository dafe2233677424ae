-- Telegram raw records -> canonical posts and accounts (contract: docs/architecture.md,
-- "Normalisation contract"). Reads only the view `raw`.
--
-- record_type 'message': {"chat": {"id", "name", "type"}, "message": <one entry of a Telegram
--   Desktop export's "messages" array, type "message">}; record_id '<chat id>:<message id>'.
--
-- Decisions:
-- * post_id 'telegram:<chat id>:<message id>'. Channel and supergroup message ids are the channel's
--   own, so two people's exports of one channel dedup; basic groups and one-to-one chats number
--   messages per user account, so their posts dedup only within one person's exports.
-- * author_id 'telegram:' || from_id ('user123', 'channel456': a channel posts as itself). Old
--   exports wrote from_id as a bare user number ('user' is prefixed) and gave channel posts no
--   from_id at all: those are the channel's ('channel' || chat id).
-- * created_at: date_unixtime (UTC epoch seconds). `date` is the exporting computer's local time
--   without an offset; it is used only by exports older than date_unixtime, read as UTC (the
--   offset is unknown: such dates may be off by the exporter's UTC offset).
-- * text entities: text_entities when present, else the `text` list of old exports (plain strings
--   and entity objects), else the `text` string. text is the entities' texts joined; a `link` entity
--   written without a scheme ('orga.example/x') gets 'https://' in the text and in links, so URL
--   stripping downstream removes it like any other URL.
-- * links: `link` entities (the text is the URL) and `text_link` entities (href); http(s) only.
-- * mentions: `mention` entities ('@name'): exports never carry senders' usernames, so a username
--   cannot be tied to a from_id; account_id 'telegram:@name' (the '@' keeps it apart from 'userN'
--   ids), handle 'name'. `mention_name` entities (users without a username) carry the user id:
--   account_id 'telegram:user<id>', handle the mentioned name in lower case, as authors' handles.
-- * hashtags: `hashtag` entities, lower case, no '#'.
-- * kind: 'reply' when reply_to_message_id (the parent is in the same chat unless reply_to_peer_id
--   names another); reply_to_author_id only when the parent is in raw. 'repost' when the message
--   has `forwarded_from` (its text is kept: a forward may carry a caption's worth of text, and it is
--   what the chat saw). repost_of_post_id stays NULL (exports do not keep the original's id);
--   repost_of_author_id is the account whose name equals forwarded_from, when exactly one author
--   or channel chat in raw has that name.
-- * url: 'https://t.me/c/<chat id>/<message id>' for channels and supergroups (opens for members;
--   public usernames are not in the export), NULL otherwise.
-- * like_count: the sum of `reactions` counts (newer exports); NULL when absent.
-- * accounts: one per author (detail 0: the export has only a name), the name of their latest
--   message as display_name, handle lower(name) (from_id when the name is null: deleted accounts).

-- name: posts
-- Each payload is parsed once: one json_extract reads every value used below, by path, into the
-- list `v`, and each is read from its own small JSON text: `v[i] ->> '$'` is what
-- `j -> 'message' ->> 'id'` was (a string's text, a number spelt as `->>` spells it: a STRUCT from
-- json_transform would spell 1e16 '1e+16'), `json_type(v[i])` the value's type, NULL when absent.
WITH records AS (
    SELECT source, fetched_at, run_id, md5(payload) AS version_rank_key,
           json_extract(payload, [
               '$.chat.id', '$.chat.name', '$.chat.type',                                           -- 1-3
               '$.message.id', '$.message.from_id', '$.message.from',                               -- 4-6
               '$.message.date_unixtime', '$.message.date',                                         -- 7-8
               '$.message.text_entities', '$.message.text',                                         -- 9-10
               '$.message.reply_to_message_id', '$.message.reply_to_peer_id',                       -- 11-12
               '$.message.forwarded_from', '$.message.reactions'                                    -- 13-14
           ]) AS v
    FROM raw
    WHERE record_type = 'message'
),
fields AS (
    SELECT
        v[1] ->> '$' AS chat_id,
        v[2] ->> '$' AS chat_name,
        v[3] ->> '$' AS chat_type,
        v,
        v[4] ->> '$' AS msg_id,
        CASE
            WHEN json_type(v[5]) IN ('BIGINT', 'UBIGINT')
                THEN 'user' || (v[5] ->> '$')
            WHEN coalesce(v[5] ->> '$', '') <> '' THEN v[5] ->> '$'
            WHEN v[3] ->> '$' IN ('public_channel', 'private_channel')
                THEN 'channel' || (v[1] ->> '$')
        END AS from_key,
        CASE
            WHEN json_type(v[5]) IS NULL
                AND v[3] ->> '$' IN ('public_channel', 'private_channel')
                THEN coalesce(v[6] ->> '$', v[2] ->> '$')
            ELSE v[6] ->> '$'
        END AS from_name,
        -- read only inside the years 1-9999 (safe_timestamp's range): to_timestamp raises on seconds
        -- beyond DuckDB's range, and one such message in raw (an older import kept it) would stop the
        -- whole normalise; a date that cannot be read is NULL and the message is no post (below)
        coalesce(
            to_timestamp(CASE WHEN unix >= -62135596800 AND unix < 253402214400 THEN unix END),
            CASE WHEN local_date >= TIMESTAMP '0001-01-01' AND local_date < TIMESTAMP '9999-12-31'
                THEN timezone('UTC', local_date) END
        ) AS created_at,
        CASE
            WHEN json_type(v[9]) = 'ARRAY' THEN
                [{'type': e ->> 'type', 'text': coalesce(e ->> 'text', ''), 'href': e ->> 'href',
                  'user_id': e ->> 'user_id'}
                 FOR e IN json_extract(v[9], '$[*]')]
            WHEN json_type(v[10]) = 'ARRAY' THEN
                [CASE WHEN json_type(e) = 'VARCHAR'
                    THEN {'type': 'plain', 'text': json_extract_string(e, '$'), 'href': CAST(NULL AS VARCHAR),
                          'user_id': CAST(NULL AS VARCHAR)}
                    ELSE {'type': e ->> 'type', 'text': coalesce(e ->> 'text', ''), 'href': e ->> 'href',
                          'user_id': e ->> 'user_id'}
                 END
                 FOR e IN json_extract(v[10], '$[*]')]
            ELSE [{'type': 'plain', 'text': coalesce(v[10] ->> '$', ''), 'href': CAST(NULL AS VARCHAR),
                   'user_id': CAST(NULL AS VARCHAR)}]
        END AS raw_entities,
        source, fetched_at, run_id, version_rank_key
    FROM (SELECT *, TRY_CAST(v[7] ->> '$' AS BIGINT) AS unix, TRY_CAST(v[8] ->> '$' AS TIMESTAMP) AS local_date
          FROM records)
),
entities AS (
    SELECT
        * EXCLUDE (raw_entities),
        [struct_insert(e, url := CASE
                  WHEN e.type = 'text_link' THEN e.href
                  WHEN e.type = 'link' AND NOT regexp_matches(e.text, '^[A-Za-z][A-Za-z0-9+.-]*://')
                      THEN 'https://' || e.text
                  WHEN e.type = 'link' THEN e.text
              END)
         FOR e IN raw_entities] AS ents
    FROM fields
),
authors AS (    -- who wrote each message in raw, for reply_to_author_id
    SELECT chat_id, msg_id, arg_max(from_key, fetched_at) AS from_key
    FROM fields
    WHERE from_key IS NOT NULL
    GROUP BY chat_id, msg_id
),
names AS (      -- a display name that belongs to exactly one account, for forwarded_from
    SELECT name, min(from_key) AS from_key
    FROM (
        SELECT from_name AS name, from_key FROM fields WHERE from_key IS NOT NULL
        UNION ALL
        SELECT chat_name, 'channel' || chat_id FROM fields WHERE chat_type IN ('public_channel', 'private_channel')
    )
    WHERE coalesce(name, '') <> ''
    GROUP BY name
    HAVING count(DISTINCT from_key) = 1
),
replies AS (
    SELECT
        *,
        v[11] ->> '$' AS parent_msg_id,
        coalesce(nullif(regexp_extract(v[12] ->> '$', '(\d+)$', 1), ''), chat_id) AS parent_chat_id,
        json_type(v[13]) IS NOT NULL AS forwarded
    FROM entities
)
SELECT
    'telegram:' || r.chat_id || ':' || r.msg_id AS post_id,
    'telegram' AS platform,
    'telegram:' || r.from_key AS author_id,
    r.created_at,
    array_to_string([CASE WHEN e.type = 'link' THEN e.url ELSE e.text END FOR e IN r.ents], '') AS text,
    CAST(NULL AS VARCHAR) AS lang,
    CASE WHEN r.chat_type IN ('public_channel', 'private_channel', 'public_supergroup', 'private_supergroup')
        THEN 'https://t.me/c/' || r.chat_id || '/' || r.msg_id END AS url,
    CASE WHEN r.parent_msg_id IS NOT NULL THEN 'reply' WHEN r.forwarded THEN 'repost' ELSE 'post' END AS kind,
    CASE WHEN r.parent_msg_id IS NOT NULL
        THEN 'telegram:' || r.parent_chat_id || ':' || r.parent_msg_id END AS reply_to_post_id,
    'telegram:' || parent.from_key AS reply_to_author_id,
    CAST(NULL AS VARCHAR) AS repost_of_post_id,
    'telegram:' || forwarded_author.from_key AS repost_of_author_id,
    CAST(NULL AS VARCHAR) AS quote_of_post_id,
    CAST(NULL AS VARCHAR) AS quote_of_author_id,
    CAST(NULL AS VARCHAR) AS link_title,
    CASE WHEN json_type(r.v[14]) = 'ARRAY'
        THEN coalesce(list_sum([TRY_CAST(x ->> 'count' AS BIGINT) FOR x IN json_extract(r.v[14], '$[*]')]), 0)
    END AS like_count,
    CAST(NULL AS BIGINT) AS repost_count,
    CAST(NULL AS BIGINT) AS reply_count,
    r.source, r.fetched_at, r.run_id, r.version_rank_key,
    list_distinct([e.url FOR e IN r.ents IF e.type IN ('link', 'text_link')
                   AND regexp_matches(coalesce(e.url, ''), '^https?://')]) AS links,
    list_distinct(
        -- a username in one spelling (`account_handle`: NFKC, no zero-width or bidi characters)
        [{'account_id': 'telegram:@' || account_handle(e.text, NULL), 'handle': account_handle(e.text, NULL)}
         FOR e IN r.ents IF e.type = 'mention' AND ltrim(e.text, '@') <> '']
        || [{'account_id': 'telegram:user' || e.user_id, 'handle': lower(clean_text(e.text))}
            FOR e IN r.ents IF e.type = 'mention_name' AND coalesce(e.user_id, '') <> '']
    ) AS mentions,
    list_distinct([lower(ltrim(e.text, '#')) FOR e IN r.ents
                   IF e.type = 'hashtag' AND ltrim(e.text, '#') <> '']) AS hashtags
FROM replies AS r
LEFT JOIN authors AS parent ON parent.chat_id = r.parent_chat_id AND parent.msg_id = r.parent_msg_id
LEFT JOIN names AS forwarded_author ON r.forwarded AND forwarded_author.name = r.v[13] ->> '$'
WHERE r.from_key IS NOT NULL;

-- name: accounts
-- Parsed once, as in `posts` (the same paths: v[1] to v[8])
WITH fields AS (
    SELECT
        fetched_at,
        json_extract(payload, [
            '$.chat.id', '$.chat.name', '$.chat.type', '$.message.id', '$.message.from_id', '$.message.from',
            '$.message.date_unixtime', '$.message.date'
        ]) AS v
    FROM raw
    WHERE record_type = 'message'
),
authors AS (
    SELECT
        CASE
            WHEN json_type(v[5]) IN ('BIGINT', 'UBIGINT')
                THEN 'user' || (v[5] ->> '$')
            WHEN coalesce(v[5] ->> '$', '') <> '' THEN v[5] ->> '$'
            WHEN v[3] ->> '$' IN ('public_channel', 'private_channel')
                THEN 'channel' || (v[1] ->> '$')
        END AS from_key,
        CASE
            WHEN json_type(v[5]) IS NULL
                AND v[3] ->> '$' IN ('public_channel', 'private_channel')
                THEN coalesce(v[6] ->> '$', v[2] ->> '$')
            ELSE v[6] ->> '$'
        END AS from_name,
        coalesce(
            TRY_CAST(v[7] ->> '$' AS BIGINT),
            epoch(timezone('UTC', TRY_CAST(v[8] ->> '$' AS TIMESTAMP)))
        ) AS sent_at,
        fetched_at
    FROM fields
)
SELECT
    'telegram:' || from_key AS account_id,
    'telegram' AS platform,
    lower(clean_text(coalesce(nullif(arg_max(from_name, coalesce(sent_at, 0)), ''), from_key))) AS handle,
    arg_max(from_name, coalesce(sent_at, 0)) AS display_name,
    CAST(NULL AS VARCHAR) AS bio,
    CAST(NULL AS BIGINT) AS followers,
    CAST(NULL AS BIGINT) AS following,
    CAST(NULL AS TIMESTAMPTZ) AS created_at,
    max(fetched_at) AS fetched_at,
    0 AS detail
FROM authors
WHERE from_key IS NOT NULL
GROUP BY from_key;
