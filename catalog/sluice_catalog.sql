-- Built-in system relations of schema `sluice_catalog`.
--
-- These statements are the definitions: src/catalog/system.rs parses this file at
-- start-up to get each relation's columns, and fills the rows from the live catalog
-- whenever a query reads them. PostgreSQL's own catalog (`pg_catalog`: pg_class,
-- pg_attribute, pg_type, ... as psql's \d needs them) comes from the
-- datafusion-pg-catalog crate and reflects the same relations.

-- Every relation Sluice knows: its catalog id, name, kind and the statement that
-- created it. SHOW TABLES reads this relation.
CREATE TABLE sluice_catalog.relations (
    id BIGINT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    definition TEXT NOT NULL
);

-- Every column of every relation, in declaration order. SHOW COLUMNS and DESCRIBE
-- read this relation.
CREATE TABLE sluice_catalog.columns (
    relation TEXT NOT NULL,
    position INT NOT NULL,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    nullable BOOLEAN NOT NULL,
    primary_key BOOLEAN NOT NULL
);

-- One row per materialized view (or sink) reading a source (`reader` names it): the
-- state of the reader that feeds it (`backfilling` while a reader of its own catches
-- it up with the source's live reader), the rows it was sent, the errors of its reader.
-- `watermark` is the source watermark by the rule in docs/sources.md: the minimum,
-- over partitions active within the idle timeout, of the largest value of the
-- WATERMARK expression seen. `backlog_rows`: rows sent to the view that it has not
-- processed yet (at most 65,536 plus one batch: the reader waits beyond that).
CREATE TABLE sluice_catalog.source_status (
    source TEXT NOT NULL,
    reader TEXT NOT NULL,
    state TEXT NOT NULL,
    rows_read BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    watermark TIMESTAMP,
    backlog_rows BIGINT NOT NULL
);

-- The readers of each source (docs/sources.md, "Shared readers"): the live reader,
-- which feeds every view that is where it is, and backfill readers, each catching up
-- a view created later (or restored from behind) until it hands the view over.
-- `rows_read`: rows decoded once for all of `views` (comma-separated, in the order
-- they came).
CREATE TABLE sluice_catalog.source_readers (
    source TEXT NOT NULL,
    reader_id BIGINT NOT NULL,
    role TEXT NOT NULL,
    state TEXT NOT NULL,
    rows_read BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    views TEXT NOT NULL
);

-- Progress per view reading a source and partition: the next offset Sluice reads, the
-- partition's end offset from the broker's fetch responses, the lag between them,
-- and the partition's own watermark.
CREATE TABLE sluice_catalog.source_partitions (
    source TEXT NOT NULL,
    reader TEXT NOT NULL,
    partition_id INT NOT NULL,
    next_offset BIGINT,
    high_watermark BIGINT,
    lag BIGINT,
    watermark TIMESTAMP
);

-- The latest messages each source reader skipped (up to 100 per reader), with why.
CREATE TABLE sluice_catalog.source_errors (
    source TEXT NOT NULL,
    reader TEXT NOT NULL,
    partition_id INT NOT NULL,
    message_offset BIGINT NOT NULL,
    reason TEXT NOT NULL,
    payload TEXT NOT NULL,
    seen_at TIMESTAMPTZ NOT NULL
);

-- One row per materialized view: distinct rows held, bytes of operator state (measured
-- at most once a second, and at every FLUSH), bytes of the result, and, for views
-- whose inputs all have watermarks, the view's watermark and the rows dropped because
-- their window had already closed (docs/windows.md).
-- One row per sink (docs/sinks.md): the view it reads, its format and topic; changed
-- rows and messages written and transactions committed since the server started;
-- the last checkpoint whose changes Kafka holds; distinct changed rows waiting to be
-- written; rows the format could not say (a primary key held by two rows, a removal
-- in a PLAIN sink); failed attempts since the last success and the last error.
CREATE TABLE sluice_catalog.sink_status (
    name TEXT NOT NULL,
    view TEXT NOT NULL,
    format TEXT NOT NULL,
    topic TEXT NOT NULL,
    rows_written BIGINT NOT NULL,
    messages_written BIGINT NOT NULL,
    commits BIGINT NOT NULL,
    committed_checkpoint BIGINT,
    backlog_rows BIGINT NOT NULL,
    rejected_rows BIGINT NOT NULL,
    retries BIGINT NOT NULL,
    last_error TEXT
);

CREATE TABLE sluice_catalog.view_status (
    name TEXT NOT NULL,
    rows_held BIGINT NOT NULL,
    operator_bytes BIGINT NOT NULL,
    result_bytes BIGINT NOT NULL,
    watermark TIMESTAMP,
    late_rows BIGINT NOT NULL
);

-- Every model (CREATE MODEL), with the version in force: its number (1 at CREATE,
-- one more at each CREATE OR REPLACE), the SHA-256 of its file, the file Sluice
-- keeps and the one it was copied from, its inputs and outputs as
-- `name type[shape]`, and its WITH settings. SHOW MODELS reads this relation.
CREATE TABLE sluice_catalog.models (
    name TEXT NOT NULL,
    version BIGINT NOT NULL,
    checksum TEXT NOT NULL,
    file TEXT NOT NULL,
    source TEXT NOT NULL,
    inputs TEXT NOT NULL,
    outputs TEXT NOT NULL,
    sessions INT NOT NULL,
    threads INT NOT NULL,
    batch_size INT NOT NULL
);

-- Each input and output tensor of each model, in declaration order: its element
-- type and shape (`batch` marks a symbolic batch dimension). DESCRIBE MODEL reads
-- this relation.
CREATE TABLE sluice_catalog.model_io (
    model TEXT NOT NULL,
    version BIGINT NOT NULL,
    checksum TEXT NOT NULL,
    kind TEXT NOT NULL,
    position INT NOT NULL,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    shape TEXT NOT NULL
);

-- Counters of each model's version in force: rows predicted, batches (one per
-- PREDICT evaluation over a batch of rows), ONNX Runtime calls (batches are cut
-- into chunks of batch_size rows), total time, and the mean time per batch over
-- the latest 100 batches.
CREATE TABLE sluice_catalog.model_stats (
    model TEXT NOT NULL,
    version BIGINT NOT NULL,
    rows BIGINT NOT NULL,
    batches BIGINT NOT NULL,
    calls BIGINT NOT NULL,
    total_ms DOUBLE PRECISION NOT NULL,
    recent_ms DOUBLE PRECISION
);

-- The last complete checkpoint, one row per view in it (docs/storage.md): the
-- checkpoint's id and the global epoch it cuts at, when it was taken and how long
-- it took, the bytes this view wrote for it (runs written by an earlier checkpoint
-- are not written again), and per source the reader's committed position
-- (`source partition=next offset, ...`).
CREATE TABLE sluice_catalog.checkpoints (
    view_name TEXT NOT NULL,
    checkpoint_id BIGINT NOT NULL,
    epoch BIGINT NOT NULL,
    taken_at TIMESTAMPTZ NOT NULL,
    duration_ms BIGINT NOT NULL,
    bytes_written BIGINT NOT NULL,
    source_offsets TEXT
);

-- How checkpoints go: the interval (0: off), the last complete checkpoint, the
-- failed attempts since the server started and the last failure's reason (cleared
-- by the next success), the checkpoints taken since the server started and the
-- bytes they wrote.
CREATE TABLE sluice_catalog.checkpoint_status (
    interval_ms BIGINT NOT NULL,
    last_checkpoint_id BIGINT,
    last_taken_at TIMESTAMPTZ,
    last_duration_ms BIGINT,
    failures BIGINT NOT NULL,
    last_error TEXT,
    checkpoints_taken BIGINT NOT NULL,
    bytes_written BIGINT NOT NULL
);
