-- One row per (group, calendar period, member person) with a reference labelled critical in the
-- period, with how many. A distinct-key table: dissenters for 'all' are the distinct person_id
-- over every period.
-- incremental: period
-- grain: group_id, period, person_id
-- not_null: group_id, period, person_id, critical_posts
-- check: critical_posts > 0
SELECT r.group_id, r.period, r.person_id, count(*) AS critical_posts
FROM org_references AS r
JOIN reference_stance AS s ON s.post_id = r.post_id AND s.group_id = r.group_id
WHERE s.stance = 'critical'
GROUP BY r.group_id, r.period, r.person_id
