-- One row per account with one known group, the partition of the interaction network.
-- An account tied to several groups takes the group of its strongest tie (official account,
-- then listed, bio marker, amplification); when its strongest tie is to two groups at once the
-- group is unknown and the account is left out of the network rather than guessed.
-- grain: account_id
-- not_null: account_id, group_id
WITH ranked AS (
    SELECT account_id, group_id, evidence_rank,
           min(evidence_rank) OVER (PARTITION BY account_id) AS best_rank
    FROM int_account_groups
)
SELECT account_id, min(group_id) AS group_id
FROM ranked
WHERE evidence_rank = best_rank
GROUP BY account_id
HAVING count(*) = 1
