-- One row per (period, interaction_kind): how much the interaction network mixes groups.
-- interaction_kind is reply, repost, quote, mention, or 'all' (a tie of any kind).
-- Nodes: accounts with one known group (members and official accounts, see int_node_groups: an
-- account whose strongest tie is to two groups is left out) that have at least one edge of the
-- kind in the period; isolated accounts change neither statistic. Edges: distinct directed
-- (source, target) pairs between such accounts, self-loops excluded, unweighted.
-- With m edges, e_gg = edges inside g / m, a_g = edges leaving nodes of g / m, b_g = edges
-- arriving at nodes of g / m:
--   modularity    Q = sum_g e_gg - sum_g a_g b_g            (networkx community.modularity, DiGraph)
--   assortativity r = (sum_g e_gg - sum_g a_g b_g) / (1 - sum_g a_g b_g)
--                                              (networkx attribute_assortativity_coefficient)
-- Both NULL without edges; assortativity NULL when every edge lies inside one group (0/0).
-- The edges are agg_network_pairs' distinct pairs: of a period and kind as kept there, of all
-- kinds or of the whole range as the distinct pairs over them (never a recount of posts).
-- grain: period, interaction_kind
-- not_null: period, interaction_kind, nodes, edges, in_group_edges, groups
-- accepted: interaction_kind reply repost quote mention all
-- range: modularity -1 1; assortativity -1 1; in_group_edge_share 0 1
-- check: in_group_edges <= edges AND (edges = 0) = (modularity IS NULL)
WITH kinds AS (
    SELECT unnest(['reply', 'repost', 'quote', 'mention', 'all']) AS interaction_kind
),
spine AS (
    SELECT p.period, p.period_start, k.interaction_kind
    FROM int_periods AS p CROSS JOIN kinds AS k
),
edges AS (
    -- the distinct directed pairs of each bucket, from the period table of pairs: a pair of any
    -- kind for 'all' kinds, of any period for period 'all'
    SELECT period, interaction_kind, source_id, target_id, source_group, target_group
    FROM agg_network_pairs
    UNION
    SELECT period, 'all' AS interaction_kind, source_id, target_id, source_group, target_group
    FROM agg_network_pairs
    UNION
    SELECT 'all' AS period, interaction_kind, source_id, target_id, source_group, target_group
    FROM agg_network_pairs
    UNION
    SELECT 'all' AS period, 'all' AS interaction_kind, source_id, target_id, source_group, target_group
    FROM agg_network_pairs
),
totals AS (
    SELECT
        period,
        interaction_kind,
        count(*) AS edges,
        count(*) FILTER (WHERE source_group = target_group) AS in_group_edges
    FROM edges
    GROUP BY period, interaction_kind
),
node_stats AS (
    SELECT period, interaction_kind, count(DISTINCT node) AS nodes, count(DISTINCT node_group) AS groups
    FROM (
        SELECT period, interaction_kind, source_id AS node, source_group AS node_group FROM edges
        UNION ALL
        SELECT period, interaction_kind, target_id, target_group FROM edges
    ) AS n
    GROUP BY period, interaction_kind
),
leaving AS (
    SELECT period, interaction_kind, source_group AS group_id, count(*) AS k
    FROM edges GROUP BY period, interaction_kind, source_group
),
arriving AS (
    SELECT period, interaction_kind, target_group AS group_id, count(*) AS k
    FROM edges GROUP BY period, interaction_kind, target_group
),
out_in AS (
    -- integer arithmetic: exact, so the result does not depend on summation order
    SELECT l.period, l.interaction_kind, sum(l.k * a.k)::DOUBLE AS sum_out_in
    FROM leaving AS l
    JOIN arriving AS a
        ON a.period = l.period AND a.interaction_kind = l.interaction_kind AND a.group_id = l.group_id
    GROUP BY l.period, l.interaction_kind
),
fractions AS (
    SELECT
        t.period,
        t.interaction_kind,
        t.edges,
        t.in_group_edges,
        t.in_group_edges::DOUBLE / t.edges AS e_in,
        coalesce(o.sum_out_in, 0) / (t.edges::DOUBLE * t.edges) AS sum_ab
    FROM totals AS t
    LEFT JOIN out_in AS o ON o.period = t.period AND o.interaction_kind = t.interaction_kind
)
SELECT
    s.period,
    s.period_start,
    s.interaction_kind,
    coalesce(n.nodes, 0) AS nodes,
    coalesce(f.edges, 0) AS edges,
    coalesce(n.groups, 0) AS groups,
    coalesce(f.in_group_edges, 0) AS in_group_edges,
    f.e_in AS in_group_edge_share,
    f.e_in - f.sum_ab AS modularity,
    CASE WHEN f.sum_ab < 1 THEN (f.e_in - f.sum_ab) / (1 - f.sum_ab) END AS assortativity
FROM spine AS s
LEFT JOIN fractions AS f ON f.period = s.period AND f.interaction_kind = s.interaction_kind
LEFT JOIN node_stats AS n ON n.period = s.period AND n.interaction_kind = s.interaction_kind
