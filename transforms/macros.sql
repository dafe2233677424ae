-- DuckDB macros shared by the models. The runner loads this file before any model.
-- Statements are separated by ';' at the end of a line.

-- ---- ratios and intervals ------------------------------------------------------------------------

-- a / b, or NULL when b is 0 or NULL: 0/0 is "no data", never 0.
CREATE OR REPLACE MACRO safe_div(a, b) AS
    CASE WHEN b IS NULL OR b = 0 THEN NULL ELSE a::DOUBLE / b::DOUBLE END;

-- z for a two-sided 95% interval: the 0.975 quantile of the standard normal.
CREATE OR REPLACE MACRO wilson_z() AS 1.959963984540054::DOUBLE;

-- Wilson score interval for k successes in n trials (Wilson 1927). NULL when n = 0.
-- The bound is exactly 0 at k = 0 (and the upper bound exactly 1 at k = n); those cases are
-- returned exactly rather than with rounding noise, and the rest clamped to [0, 1] for the same reason.
CREATE OR REPLACE MACRO wilson_lo(k, n) AS
    CASE WHEN n > 0 AND k = 0 THEN 0.0
         WHEN n > 0 THEN greatest(0.0,
        (k::DOUBLE / n + wilson_z() ^ 2 / (2.0 * n)
         - wilson_z() * sqrt((k::DOUBLE / n) * (1 - k::DOUBLE / n) / n + wilson_z() ^ 2 / (4.0 * n * n)))
        / (1 + wilson_z() ^ 2 / n)) END;

CREATE OR REPLACE MACRO wilson_hi(k, n) AS
    CASE WHEN n > 0 AND k = n THEN 1.0
         WHEN n > 0 THEN least(1.0,
        (k::DOUBLE / n + wilson_z() ^ 2 / (2.0 * n)
         + wilson_z() * sqrt((k::DOUBLE / n) * (1 - k::DOUBLE / n) / n + wilson_z() ^ 2 / (4.0 * n * n)))
        / (1 + wilson_z() ^ 2 / n)) END;

-- ---- Fisher's exact test -------------------------------------------------------------------------

-- log of the binomial coefficient C(n, k).
CREATE OR REPLACE MACRO log_choose(n, k) AS
    lgamma(n + 1.0) - lgamma(k + 1.0) - lgamma(n - k + 1.0);

-- log P(X = x) for the top-left cell of a 2x2 table with row sums r1, r2 and first column sum c1.
CREATE OR REPLACE MACRO hypergeom_logpmf(x, r1, r2, c1) AS
    log_choose(r1, x) + log_choose(r2, c1 - x) - log_choose(r1 + r2, c1);

-- Two-sided p-value of Fisher's exact test on [[a, b], [c, d]]: the total probability of every
-- table with the same margins that is no more likely than the observed one. "No more likely"
-- allows a relative tolerance of 1e-7 (as R's fisher.test does) so that tables whose
-- probabilities are equal in exact arithmetic are not split by rounding in lgamma.
CREATE OR REPLACE MACRO fisher_p(a, b, c, d) AS
    CASE
        WHEN a IS NULL OR b IS NULL OR c IS NULL OR d IS NULL OR least(a, b, c, d) < 0 THEN NULL
        ELSE least(1.0, list_sum(list_transform(
            list_filter(
                range(greatest(0, a - d)::BIGINT, least(a + b, a + c)::BIGINT + 1),
                lambda x: hypergeom_logpmf(x, a + b, c + d, a + c)
                          <= hypergeom_logpmf(a, a + b, c + d, a + c) + 1e-7),
            lambda x: exp(hypergeom_logpmf(x, a + b, c + d, a + c)))))
    END;

-- ---- entropy -------------------------------------------------------------------------------------

-- p * log2(p) with the limit 0 at p = 0, so a sum over categories never meets log(0).
CREATE OR REPLACE MACRO p_log2_p(p) AS
    CASE WHEN p > 0 THEN p * log2(p) ELSE 0.0 END;

-- ---- periods -------------------------------------------------------------------------------------

-- Calendar period label of a UTC timestamp: '2026' (year), '2026-03' (month), '2026-W09' (ISO
-- week), '2026-03-05' (day). Labels sort in time order within one unit.
CREATE OR REPLACE MACRO period_label(ts, unit) AS
    CASE unit
        WHEN 'year' THEN strftime(timezone('UTC', ts), '%Y')
        WHEN 'month' THEN strftime(timezone('UTC', ts), '%Y-%m')
        WHEN 'week' THEN strftime(timezone('UTC', ts), '%G-W%V')
        WHEN 'day' THEN strftime(timezone('UTC', ts), '%Y-%m-%d')
    END;

CREATE OR REPLACE MACRO period_start(ts, unit) AS
    date_trunc(unit, timezone('UTC', ts))::DATE;

-- ---- text ----------------------------------------------------------------------------------------

CREATE OR REPLACE MACRO strip_urls(t) AS
    regexp_replace(coalesce(t, ''), '(?:https?://|www\.)\S+', ' ', 'g');

-- '@alice' and '@alice@social.example' at the start of a word.
CREATE OR REPLACE MACRO strip_mentions(t) AS
    regexp_replace(coalesce(t, ''), '(?:^|\s)@\S+', ' ', 'g');

CREATE OR REPLACE MACRO fold_ws(t) AS
    trim(regexp_replace(coalesce(t, ''), '\s+', ' ', 'g'));

-- Whether `term` occurs in `t` as a whole word: case-insensitive, whitespace folded, and on a side
-- where the term starts/ends with a letter, digit or '_' the neighbouring character must not be
-- one ('Org A' matches "Org A's", not 'Org Army'; '🚩' matches anywhere). The same rule as
-- transforms/terms.py. Built from substring search and constant patterns because a regex that
-- varies per row is compiled per row in DuckDB: with Unicode classes that costs milliseconds a
-- row, minutes for 100k posts. The text is split at every occurrence of the term; occurrence i
-- sits between parts i and i + 1 and counts when its neighbours pass the boundary rule.
CREATE OR REPLACE MACRO is_word_char(c) AS
    c <> '' AND regexp_matches(c, '^[\pL\pN_]$');

CREATE OR REPLACE MACRO _term_occurs_between(parts, needs_left, needs_right) AS
    coalesce(list_bool_or(list_transform(range(1, len(parts)),
        lambda i: (NOT needs_left OR NOT is_word_char(right(parts[i], 1)))
              AND (NOT needs_right OR NOT is_word_char(left(parts[i + 1], 1))))), false);

CREATE OR REPLACE MACRO contains_term(t, term) AS
    contains(lower(fold_ws(t)), lower(fold_ws(term)))
    AND _term_occurs_between(
        string_split(lower(fold_ws(t)), lower(fold_ws(term))),
        is_word_char(left(fold_ws(term), 1)),
        is_word_char(right(fold_ws(term), 1)));

-- Words: maximal runs of letters, digits and underscores, lower case ("don't" is two words).
CREATE OR REPLACE MACRO word_tokens(t) AS
    regexp_extract_all(lower(coalesce(t, '')), '[\pL\pN_]+');

-- Tokens joined as ' a  b  c ': every token has its own pair of spaces, so counting a term's
-- key ' a  b ' with replace() finds back-to-back occurrences too.
CREATE OR REPLACE MACRO token_key(tokens) AS
    ' ' || array_to_string(tokens, '  ') || ' ';

-- Non-overlapping occurrences of needle in haystack (0 for an empty needle).
CREATE OR REPLACE MACRO count_occurrences(haystack, needle) AS
    CASE WHEN length(needle) = 0 THEN 0
         ELSE (length(haystack) - length(replace(haystack, needle, ''))) // length(needle) END;
