-- Indexes for browsing history (es.BrowseStore: the event browser, tools).
-- {{schema}} is replaced by the quoted schema name (Config.Schema).
--
-- Each is built in the migration's transaction, which blocks commits while it
-- runs: instant on a new store, minutes on a large one. To avoid that, create
-- them beforehand with CREATE INDEX CONCURRENTLY under the same names; IF NOT
-- EXISTS then keeps them.
--
-- Not indexed, on purpose: the time of events (a time range walks the log along
-- events_log, newest first) and their command (the events of a command are found
-- through its transaction: commit() writes the command and its events in one, so
-- events_log's xact_id prefix finds them).

-- The log filtered by event type, newest first: one index range per type, in log
-- order. Also lets a rebuild read a rarely used type without walking the log.
CREATE INDEX IF NOT EXISTS events_type_log ON {{schema}}.events (type, xact_id, position);

-- Streams of one aggregate type. Types never change, so updates of a stream's
-- version stay heap-only (HOT).
CREATE INDEX IF NOT EXISTS streams_type ON {{schema}}.streams (type);

-- Commands newest first, by (time, id); of one user; of one flow; issued by
-- workflows because of an event.
CREATE INDEX IF NOT EXISTS commands_time ON {{schema}}.commands (time, id);
CREATE INDEX IF NOT EXISTS commands_user ON {{schema}}.commands (user_id, time, id) WHERE user_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS commands_correlation ON {{schema}}.commands (correlation_id);
CREATE INDEX IF NOT EXISTS commands_causation ON {{schema}}.commands (causation_id) WHERE causation_id IS NOT NULL;
