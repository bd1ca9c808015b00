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
