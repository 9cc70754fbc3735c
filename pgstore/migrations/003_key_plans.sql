-- commit() and delete_stream() reach streams, events, unique keys and snapshots
-- by key only. PL/pgSQL plans each statement once per connection and keeps the
-- plan: planned while a new store is still empty, a check of the streams became
-- a sequential scan, and stayed one as the tables grew, until autovacuum's next
-- ANALYZE. Measured on 2 cores, 8 clients: 8,500 commits/s on a fresh store
-- fell to 2,000/s within 16,000 commits. Without sequential scans in these two
-- functions every plan stays on the primary keys, whatever the statistics say.
ALTER FUNCTION {{schema}}.commit SET enable_seqscan = off;
ALTER FUNCTION {{schema}}.delete_stream SET enable_seqscan = off;
