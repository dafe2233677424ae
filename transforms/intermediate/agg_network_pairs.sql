-- One row per (calendar period, interaction kind, source account, target account): the distinct
-- directed pairs of the interaction network between accounts with one known group
-- (int_node_groups), with those groups. Kinds are reply, repost, quote, mention; network_mixing
-- takes the distinct pairs over kinds for 'all' kinds and over periods for period 'all', so the
-- pairs are kept as a table brought up to date by period, never recounted from every post.
-- incremental: period
-- grain: period, interaction_kind, source_id, target_id
-- not_null: period, interaction_kind, source_id, target_id, source_group, target_group
-- accepted: interaction_kind reply repost quote mention
SELECT DISTINCT i.period, i.kind AS interaction_kind, i.source_id, i.target_id,
       s.group_id AS source_group, t.group_id AS target_group
FROM int_interactions AS i
JOIN int_node_groups AS s ON s.account_id = i.source_id
JOIN int_node_groups AS t ON t.account_id = i.target_id
