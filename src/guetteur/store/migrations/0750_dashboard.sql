-- 0750: dashboard counts (owner: console dashboard, see docs/console.md). Runs as the database
-- owner, in one transaction.
--
-- `GET /api/v1/dashboard/alert-counts` counts the alerts not closed per status and severity on
-- every dashboard refresh: this partial index answers it by an index-only scan, whatever the
-- number of closed alerts kept. The activity histograms and the heatmap read the alerts active
-- in their window through `alerts_last_seen` (0700); coverage reads hits through
-- `hits_created_brin` (0100).
CREATE INDEX alerts_not_closed_severity ON alerts (status, severity) WHERE status <> 'closed';
