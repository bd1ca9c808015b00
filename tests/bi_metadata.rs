//! Metadata queries that BI tools and drivers send, replayed against Sluice and
//! PostgreSQL 15 holding the same schema (issue 15).
//!
//! Each query below is copied verbatim from the tool's source (the comment above it
//! names the project, file and commit); where the tool builds the text from parts, the
//! parts are filled in as it fills them for PostgreSQL 15, and where it binds a
//! parameter (`?`), the replay puts in the value the tool would have read on that
//! server (the OID of schema `public` or of table `orders`). Each replay runs on both
//! servers and must give the same columns (names and type OIDs, as a prepared
//! statement's description says) and the same rows, but for:
//!
//! - OIDs of the test's objects, which each server assigns its own way: a cell holding
//!   the OID of one of the schema's relations or constraints reads as that object's
//!   name on both sides ([`labels`]);
//! - column types that still differ ([`Replay::types`], each checked to still
//!   differ), columns whose cells are masked ([`Replay::masked`]) and rows left out
//!   ([`Replay::only_in`], each checked to match a row), per replay, each with its
//!   reason;
//! - Npgsql's type list, where Sluice (which has fewer types) must answer a subset of
//!   PostgreSQL's rows, equal row for row, holding every type the schema uses, arrays
//!   after their elements.
//!
//! Replays that Sluice refuses are in [`KNOWN_FAILURES`], each checked to still fail
//! with its words (a clear `0A000`, never a wrong answer).
//!
//! Superset reflects through SQLAlchemy, whose inspector `tests/bi_clients.rs` checks;
//! pgjdbc's `DatabaseMetaData` (DBeaver's generic driver, Metabase's sync) is in
//! `tests/jdbc_metadata.rs`.

mod common;

use std::collections::HashMap;

use common::Both;
use common::postgres::BI_SCHEMA;
use tokio_postgres::{Client, SimpleQueryMessage};

// ---- Npgsql: npgsql/npgsql src/Npgsql/PostgresDatabaseInfo.cs, commit
// 00ee7a8a47cc61b9419dd334851ec5184ab5bcdd. Sent at every connection open (before
// the first command), in one batch after `SELECT version();`.

/// `GenerateLoadTypesQuery(withRange: true, withMultirange: true,
/// loadTableComposites: false)`, as Npgsql builds it for PostgreSQL 14 and later.
const NPGSQL_TYPES: &str = "
SELECT ns.nspname, t.oid, t.typname, t.typtype, t.typnotnull, t.elemtypoid
FROM (
    -- Arrays have typtype=b - this subquery identifies them by their typreceive and converts their typtype to a
    -- We first do this for the type (innerest-most subquery), and then for its element type
    -- This also returns the array element, range subtype and domain base type as elemtypoid
    SELECT
        typ.oid, typ.typnamespace, typ.typname, typ.typtype, typ.typrelid, typ.typnotnull, typ.relkind,
        elemtyp.oid AS elemtypoid, elemtyp.typname AS elemtypname, elemcls.relkind AS elemrelkind,
        CASE WHEN elemproc.proname='array_recv' THEN 'a' ELSE elemtyp.typtype END AS elemtyptype
    FROM (
        SELECT typ.oid, typnamespace, typname, typrelid, typnotnull, relkind, typelem AS elemoid,
            CASE WHEN proc.proname='array_recv' THEN 'a' ELSE typ.typtype END AS typtype,
            CASE
                WHEN proc.proname='array_recv' THEN typ.typelem
                WHEN typ.typtype='r' THEN rngsubtype
                WHEN typ.typtype='m' THEN (SELECT rngtypid FROM pg_range WHERE rngmultitypid = typ.oid)
                WHEN typ.typtype='d' THEN typ.typbasetype
            END AS elemtypoid
        FROM pg_type AS typ
        LEFT JOIN pg_class AS cls ON (cls.oid = typ.typrelid)
        LEFT JOIN pg_proc AS proc ON proc.oid = typ.typreceive
        LEFT JOIN pg_range ON (pg_range.rngtypid = typ.oid)
    ) AS typ
    LEFT JOIN pg_type AS elemtyp ON elemtyp.oid = elemtypoid
    LEFT JOIN pg_class AS elemcls ON (elemcls.oid = elemtyp.typrelid)
    LEFT JOIN pg_proc AS elemproc ON elemproc.oid = elemtyp.typreceive
) AS t
JOIN pg_namespace AS ns ON (ns.oid = typnamespace)
WHERE
    typtype IN ('b', 'r', 'm', 'e', 'd') OR -- Base, range, multirange, enum, domain
    (typtype = 'c' AND relkind='c') OR -- User-defined free-standing composites (not table composites) by default
    (typtype = 'p' AND typname IN ('record', 'void')) OR -- Some special supported pseudo-types
    (typtype = 'a' AND (  -- Array of...
        elemtyptype IN ('b', 'r', 'm', 'e', 'd') OR -- Array of base, range, multirange, enum, domain
        (elemtyptype = 'p' AND elemtypname IN ('record', 'void')) OR -- Arrays of special supported pseudo-types
        (elemtyptype = 'c' AND elemrelkind='c') -- Array of user-defined free-standing composites (not table composites) by default
    ))
ORDER BY CASE
       WHEN typtype IN ('b', 'e', 'p') THEN 0           -- First base types, enums, pseudo-types
       WHEN typtype = 'r' THEN 1                        -- Ranges after
       WHEN typtype = 'm' THEN 2                        -- Multiranges after
       WHEN typtype = 'c' THEN 3                        -- Composites after
       WHEN typtype = 'd' AND elemtyptype <> 'a' THEN 4 -- Domains over non-arrays after
       WHEN typtype = 'a' THEN 5                        -- Arrays after
       WHEN typtype = 'd' AND elemtyptype = 'a' THEN 6  -- Domains over arrays last
END;";

/// `GenerateLoadCompositeTypesQuery(loadTableComposites: false)`.
const NPGSQL_COMPOSITES: &str = "
-- Load field definitions for (free-standing) composite types
SELECT typ.oid, att.attname, att.atttypid
FROM pg_type AS typ
JOIN pg_namespace AS ns ON (ns.oid = typ.typnamespace)
JOIN pg_class AS cls ON (cls.oid = typ.typrelid)
JOIN pg_attribute AS att ON (att.attrelid = typ.typrelid)
WHERE
  (typ.typtype = 'c' AND cls.relkind='c') AND
  attnum > 0 AND     -- Don't load system attributes
  NOT attisdropped
ORDER BY typ.oid, att.attnum;";

/// `GenerateLoadEnumFieldsQuery(withEnumSortOrder: true)`.
const NPGSQL_ENUMS: &str = "
-- Load enum fields
SELECT pg_type.oid, enumlabel
FROM pg_enum
JOIN pg_type ON pg_type.oid=enumtypid
ORDER BY oid, enumsortorder;";

// ---- Grafana's PostgreSQL data source: grafana/grafana
// public/app/plugins/datasource/grafana-postgresql-datasource/postgresMetaQuery.ts,
// commit 12f912ab8d010f4d95a4043a0efaa20fc4ca0100. The query editor's version check,
// schema, table and column pickers.

/// `getVersion()`.
const GRAFANA_VERSION: &str = "SELECT current_setting('server_version_num')::int/100 as version";

/// `getTimescaleDBVersion()`.
const GRAFANA_TIMESCALE: &str = "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'";

/// `showSchemas()`.
const GRAFANA_SCHEMAS: &str = "SELECT schema_name AS \"name\"
    FROM information_schema.schemata
    WHERE schema_name NOT IN ('information_schema',
                              'pg_catalog',
                              'pg_toast',
                              '_timescaledb_cache',
                              '_timescaledb_catalog',
                              '_timescaledb_internal',
                              '_timescaledb_config',
                              'timescaledb_information',
                              'timescaledb_experimental')
    ORDER BY schema_name";

/// `showTables()` (no schema chosen: the tables on the search path unqualified, the
/// others qualified).
const GRAFANA_TABLES: &str = "SELECT
    CASE WHEN 
          quote_ident(table_schema) IN (
          SELECT
            CASE WHEN trim(s[i]) = '\"$user\"' THEN user ELSE trim(s[i]) END
          FROM
            generate_series(
              array_lower(string_to_array(current_setting('search_path'),','),1),
              array_upper(string_to_array(current_setting('search_path'),','),1)
            ) as i,
            string_to_array(current_setting('search_path'),',') s
          )
      THEN quote_ident(table_name)
      ELSE quote_ident(table_schema) || '.' || quote_ident(table_name)
    END AS \"table\"
    FROM information_schema.tables
    WHERE quote_ident(table_schema) NOT IN ('information_schema',
                             'pg_catalog',
                             '_timescaledb_cache',
                             '_timescaledb_catalog',
                             '_timescaledb_internal',
                             '_timescaledb_config',
                             'timescaledb_information',
                             'timescaledb_experimental')
    ORDER BY CASE WHEN 
          quote_ident(table_schema) IN (
          SELECT
            CASE WHEN trim(s[i]) = '\"$user\"' THEN user ELSE trim(s[i]) END
          FROM
            generate_series(
              array_lower(string_to_array(current_setting('search_path'),','),1),
              array_upper(string_to_array(current_setting('search_path'),','),1)
            ) as i,
            string_to_array(current_setting('search_path'),',') s
          ) THEN 0 ELSE 1 END, 1";

/// `showTables('public')`.
const GRAFANA_TABLES_IN_SCHEMA: &str = "SELECT quote_ident(table_name) AS \"table\"
      FROM information_schema.tables
      WHERE quote_ident(table_schema) = 'public'
      ORDER BY 1";

/// `getSchema('orders')`: the column picker for a table chosen unqualified.
const GRAFANA_COLUMNS: &str = "SELECT quote_ident(column_name) AS \"column\", data_type AS \"type\"
    FROM information_schema.columns
    WHERE
      CASE WHEN array_length(parse_ident('orders'),1) = 2
        THEN quote_ident(table_schema) = (parse_ident('orders'))[1]
          AND quote_ident(table_name) = (parse_ident('orders'))[2]
        ELSE quote_ident(table_name) = 'orders'
          AND 
          quote_ident(table_schema) IN (
          SELECT
            CASE WHEN trim(s[i]) = '\"$user\"' THEN user ELSE trim(s[i]) END
          FROM
            generate_series(
              array_lower(string_to_array(current_setting('search_path'),','),1),
              array_upper(string_to_array(current_setting('search_path'),','),1)
            ) as i,
            string_to_array(current_setting('search_path'),',') s
          )
      END";

// ---- Metabase: metabase/metabase src/metabase/driver/postgres.clj, commit
// 008fd6675457cdd62da2265628bed3b725a607ea: database sync. The HoneySQL of
// `get-tables-sql` is given as Metabase 0.55.1 renders it for schema `public` (as sent
// on the wire; the text datafusion-postgres records in its tests/metabase.rs).

/// `current-user-table-privileges` (which tables the user may read and write).
const METABASE_TABLE_PRIVILEGES: &str = r#"with table_privileges as (
         select
           NULL as role,
           t.schemaname as schema,
           t.objectname as table,
           pg_catalog.has_any_column_privilege(current_user, '"' || replace(t.schemaname, '"', '""') || '"' || '.' || '"' || replace(t.objectname, '"', '""') || '"',  'update') as update,
           pg_catalog.has_any_column_privilege(current_user, '"' || replace(t.schemaname, '"', '""') || '"' || '.' || '"' || replace(t.objectname, '"', '""') || '"',  'select') as select,
           pg_catalog.has_any_column_privilege(current_user, '"' || replace(t.schemaname, '"', '""') || '"' || '.' || '"' || replace(t.objectname, '"', '""') || '"',  'insert') as insert,
           pg_catalog.has_table_privilege(     current_user, '"' || replace(t.schemaname, '"', '""') || '"' || '.' || '"' || replace(t.objectname, '"', '""') || '"',  'delete') as delete
         from (
           select schemaname, tablename as objectname from pg_catalog.pg_tables
           union
           select schemaname, viewname as objectname from pg_catalog.pg_views
           union
           select schemaname, matviewname as objectname from pg_catalog.pg_matviews
         ) t
         where t.schemaname !~ '^pg_'
           and t.schemaname <> 'information_schema'
           and pg_catalog.has_schema_privilege(current_user, t.schemaname, 'usage')
        )
        select t.*
        from table_privileges t"#;

/// `get-tables-sql` for schema `public` (`describe-database`).
const METABASE_TABLES: &str = r#"SELECT "n"."nspname" AS "schema", "c"."relname" AS "name", CASE "c"."relkind" WHEN 'r' THEN 'TABLE' WHEN 'p' THEN 'PARTITIONED TABLE' WHEN 'v' THEN 'VIEW' WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE NULL END AS "type", "d"."description" AS "description", "stat"."n_live_tup" AS "estimated_row_count" FROM "pg_catalog"."pg_class" AS "c" INNER JOIN "pg_catalog"."pg_namespace" AS "n" ON "c"."relnamespace" = "n"."oid" LEFT JOIN "pg_catalog"."pg_description" AS "d" ON ("c"."oid" = "d"."objoid") AND ("d"."objsubid" = '0') AND ("d"."classoid" = 'pg_class'::regclass) LEFT JOIN "pg_stat_user_tables" AS "stat" ON ("n"."nspname" = "stat"."schemaname") AND ("c"."relname" = "stat"."relname") WHERE ("c"."relnamespace" = "n"."oid") AND ("n"."nspname" !~ '^pg_') AND ("n"."nspname" <> 'information_schema') AND c.relkind in ('r', 'p', 'v', 'f', 'm') AND ("n"."nspname" IN ('public')) ORDER BY "type" ASC, "schema" ASC, "name" ASC"#;

/// `describe-fks-sql` for schema `public` and table `orders` (foreign keys), rendered
/// from its HoneySQL as `honey.sql/format` with Metabase's quoting (`:ansi`) renders it.
const METABASE_FKS: &str = r#"SELECT "fk_ns"."nspname" AS "fk-table-schema", "fk_table"."relname" AS "fk-table-name", "fk_column"."attname" AS "fk-column-name", "pk_ns"."nspname" AS "pk-table-schema", "pk_table"."relname" AS "pk-table-name", "pk_column"."attname" AS "pk-column-name" FROM "pg_constraint" AS "c" INNER JOIN "pg_class" AS "fk_table" ON "c"."conrelid" = "fk_table"."oid" INNER JOIN "pg_namespace" AS "fk_ns" ON "c"."connamespace" = "fk_ns"."oid" INNER JOIN "pg_attribute" AS "fk_column" ON "c"."conrelid" = "fk_column"."attrelid" INNER JOIN "pg_class" AS "pk_table" ON "c"."confrelid" = "pk_table"."oid" INNER JOIN "pg_namespace" AS "pk_ns" ON "pk_table"."relnamespace" = "pk_ns"."oid" INNER JOIN "pg_attribute" AS "pk_column" ON "c"."confrelid" = "pk_column"."attrelid" WHERE fk_ns.nspname !~ '^information_schema|catalog_history|pg_' AND ("c"."contype" = 'f'::char) AND ("fk_column"."attnum" = ANY(c.conkey)) AND ("pk_column"."attnum" = ANY(c.confkey)) AND ("fk_table"."relname" IN ('orders')) AND ("fk_ns"."nspname" IN ('public')) ORDER BY "fk-table-schema" ASC, "fk-table-name" ASC"#;

/// `describe-indexes-sql` for schema `public` (each index's first column), rendered
/// the same way.
const METABASE_INDEXES: &str = r#"SELECT "tmp"."table-schema", "tmp"."table-name", TRIM(BOTH '"' FROM PG_CATALOG.PG_GET_INDEXDEF("tmp"."ci_oid", "tmp"."pos", FALSE)) AS "field-name" FROM (SELECT "n"."nspname" AS "table-schema", "ct"."relname" AS "table-name", "ci"."oid" AS "ci_oid", (INFORMATION_SCHEMA._PG_EXPANDARRAY("i"."indkey")).n AS "pos" FROM "pg_catalog"."pg_class" AS "ct" INNER JOIN "pg_catalog"."pg_namespace" AS "n" ON "ct"."relnamespace" = "n"."oid" INNER JOIN "pg_catalog"."pg_index" AS "i" ON "ct"."oid" = "i"."indrelid" INNER JOIN "pg_catalog"."pg_class" AS "ci" ON "ci"."oid" = "i"."indexrelid" WHERE (PG_CATALOG.PG_GET_EXPR("i"."indpred", "i"."indrelid") IS NULL) AND n.nspname !~ '^information_schema|catalog_history|pg_' AND ("n"."nspname" IN ('public'))) AS "tmp" WHERE "tmp"."pos" = 1"#;

// ---- DBeaver's PostgreSQL plugin: dbeaver/dbeaver
// plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreSchema.java,
// commit 001f621c651677a0e920556d41f533da67bd638b: the navigator's caches of a
// schema's tables, columns, constraints and indexes. `?` is bound to the schema's or
// the table's OID.

/// `TableCache.prepareLookupStatement` (all of a schema's relations).
const DBEAVER_TABLES: &str = "SELECT c.oid,c.*,d.description,(select array_agg(i.inhparent) from pg_catalog.pg_inherits i where i.inhrelid = c.oid) parents
FROM pg_catalog.pg_class c
LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=c.oid AND d.objsubid=0
WHERE c.relnamespace=? AND c.relkind not in ('i','c')";

/// `sqlTableChild` (one table's columns).
const DBEAVER_TABLE_COLUMNS: &str = "SELECT c.relname,a.*,pg_catalog.pg_get_expr(ad.adbin, ad.adrelid, true) as def_value,dsc.description
FROM pg_catalog.pg_attribute a
INNER JOIN pg_catalog.pg_class c ON (a.attrelid=c.oid)
LEFT OUTER JOIN pg_catalog.pg_attrdef ad ON (a.attrelid=ad.adrelid AND a.attnum = ad.adnum)
LEFT OUTER JOIN pg_catalog.pg_description dsc ON (c.oid=dsc.objoid AND a.attnum = dsc.objsubid)
WHERE NOT a.attisdropped AND c.oid=? ORDER BY a.attnum";

/// `TableCache.prepareChildrenStatement` (every column of a schema's relations).
const DBEAVER_SCHEMA_COLUMNS: &str = "SELECT c.relname,a.*,pg_catalog.pg_get_expr(ad.adbin, ad.adrelid, true) as def_value,dsc.description
FROM pg_catalog.pg_attribute a
INNER JOIN pg_catalog.pg_class c ON (a.attrelid=c.oid)
LEFT OUTER JOIN pg_catalog.pg_attrdef ad ON (a.attrelid=ad.adrelid AND a.attnum = ad.adnum)
LEFT OUTER JOIN pg_catalog.pg_description dsc ON (c.oid=dsc.objoid AND a.attnum = dsc.objsubid)
WHERE NOT a.attisdropped AND c.relnamespace=? AND c.relkind not in ('i','c')  ORDER BY a.attnum";

/// `ConstraintCache.prepareObjectsStatement` for a whole schema.
const DBEAVER_CONSTRAINTS: &str =
    "SELECT c.oid,c.*,t.relname as tabrelname,rt.relnamespace as refnamespace
FROM pg_catalog.pg_constraint c
INNER JOIN pg_catalog.pg_class t ON t.oid=c.conrelid
LEFT OUTER JOIN pg_catalog.pg_class rt ON rt.oid=c.confrelid
WHERE t.relnamespace=?
ORDER BY c.oid";

/// `IndexCache.prepareObjectsStatement` for a whole schema (server 7.4 or later).
const DBEAVER_INDEXES: &str = "SELECT i.*,i.indkey as keys,c.relname,c.relnamespace,c.relam,tc.relname as tabrelname,dsc.description,pg_catalog.pg_get_expr(i.indexprs, i.indrelid, true) as expr
FROM pg_catalog.pg_index i
INNER JOIN pg_catalog.pg_class c ON c.oid=i.indexrelid
INNER JOIN pg_catalog.pg_class tc ON tc.oid=i.indrelid
LEFT OUTER JOIN pg_catalog.pg_description dsc ON i.indexrelid=dsc.objoid
WHERE  c.relnamespace=? ORDER BY c.relname";

/// What a `?` of a DBeaver query is bound to, looked up on each server as DBeaver
/// had looked it up (from the schema and table lists it read before).
const PUBLIC_OID: &str = "SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'public'";
const ORDERS_OID: &str = "SELECT oid FROM pg_catalog.pg_class WHERE relname = 'orders'";

/// `aclitem[]` columns: Sluice has no `aclitem` type and sends the privileges as
/// `text[]`, each item PostgreSQL's text of the `aclitem`.
const ACL: &str = "Sluice has no aclitem type: privileges are text[] of the same text";

/// `int2vector` and `oidvector` columns, which Sluice keeps as arrays.
const VECTOR: &str = "Sluice sends int2vector and oidvector as int2[] and int4[] arrays \
    ({1,2}; PostgreSQL prints '1 2'); DBeaver reads either as a list of numbers";

/// Columns that are NULL on both servers for the test's objects, of types Sluice does
/// not send (`anyarray`) or keeps as text.
const ALWAYS_NULL: &str = "always NULL for Sluice's objects (no foreign keys, exclusion \
    constraints or added columns' defaults), typed text";

/// Which server a difference is on.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Side {
    Sluice,
    Postgres,
}

/// One query replayed, and the documented differences allowed in its answer.
struct Replay {
    name: &'static str,
    sql: &'static str,
    /// Queries whose one value binds each `?` in turn.
    params: &'static [&'static str],
    /// Whether the rows' order is the query's (else both answers are sorted first:
    /// a query without `ORDER BY`, or ordered only by a column with ties).
    ordered: bool,
    /// Columns whose type differs, with why (each checked to still differ).
    types: &'static [(&'static str, &'static str)],
    /// Columns whose cells are not compared, with why.
    masked: &'static [(&'static str, &'static str)],
    /// Rows that only one server has, left out: (side, column, cell prefix, why).
    /// Each must match at least one row, so that a stale entry fails.
    only_in: &'static [(Side, &'static str, &'static str, &'static str)],
}

/// `pg_class` columns that differ by how each server stores a relation, not by what
/// it describes.
const PG_CLASS_STORAGE: &[(&str, &str)] = &[
    (
        "reltype",
        "PostgreSQL makes a row type for every table and view; Sluice has none (0)",
    ),
    (
        "reltoastrelid",
        "PostgreSQL keeps long values of a table in a TOAST table; Sluice has none (0)",
    ),
    (
        "relfilenode",
        "the number of the relation's file: PostgreSQL's storage, not Sluice's",
    ),
    (
        "relpages",
        "planner statistics: PostgreSQL's depend on when VACUUM or ANALYZE last ran",
    ),
    (
        "reltuples",
        "planner statistics: PostgreSQL's depend on when VACUUM or ANALYZE last ran",
    ),
    (
        "relallvisible",
        "planner statistics: PostgreSQL's depend on when VACUUM last ran",
    ),
    (
        "relfrozenxid",
        "a transaction ID of PostgreSQL's; Sluice has no transaction IDs",
    ),
    (
        "relminmxid",
        "a multixact ID of PostgreSQL's; Sluice has none",
    ),
    (
        "relhasrules",
        "PostgreSQL keeps a materialized view's query as a rule (_RETURN, in \
         pg_rewrite); Sluice has no rules (psql's \\d+ would ask pg_get_ruledef)",
    ),
];

/// PostgreSQL's system columns (`ctid`, `xmin`, ... with `attnum` < 0): Sluice's
/// relations have none.
const SYSTEM_COLUMNS: (Side, &str, &str, &str) = (
    Side::Postgres,
    "attnum",
    "-",
    "PostgreSQL's system columns (ctid, xmin, ...); Sluice's relations have none",
);

const REPLAYS: &[Replay] = &[
    Replay {
        name: "npgsql composite types",
        sql: NPGSQL_COMPOSITES,
        params: &[],
        ordered: true,
        types: &[],
        masked: &[],
        only_in: &[],
    },
    Replay {
        name: "npgsql enum labels",
        sql: NPGSQL_ENUMS,
        params: &[],
        ordered: true,
        types: &[],
        masked: &[],
        only_in: &[],
    },
    Replay {
        name: "grafana version",
        sql: GRAFANA_VERSION,
        params: &[],
        ordered: true,
        types: &[],
        masked: &[],
        only_in: &[],
    },
    Replay {
        name: "grafana timescaledb version",
        sql: GRAFANA_TIMESCALE,
        params: &[],
        ordered: true,
        types: &[],
        masked: &[],
        only_in: &[],
    },
    Replay {
        name: "grafana schemas",
        sql: GRAFANA_SCHEMAS,
        params: &[],
        ordered: true,
        types: &[],
        masked: &[],
        only_in: &[(
            Side::Sluice,
            "name",
            "sluice_catalog",
            "Sluice's own schema of system relations",
        )],
    },
    Replay {
        name: "grafana tables",
        sql: GRAFANA_TABLES,
        params: &[],
        ordered: true,
        types: &[],
        masked: &[],
        only_in: &[(
            Side::Sluice,
            "table",
            "sluice_catalog.",
            "Sluice's own system relations",
        )],
    },
    Replay {
        name: "grafana tables in public",
        sql: GRAFANA_TABLES_IN_SCHEMA,
        params: &[],
        ordered: true,
        types: &[],
        masked: &[],
        only_in: &[],
    },
    Replay {
        name: "grafana columns of orders",
        // Without ORDER BY: information_schema.columns' order is the server's.
        sql: GRAFANA_COLUMNS,
        params: &[],
        ordered: false,
        types: &[],
        masked: &[],
        only_in: &[],
    },
    Replay {
        name: "metabase table privileges",
        sql: METABASE_TABLE_PRIVILEGES,
        params: &[],
        ordered: false,
        types: &[(
            "role",
            "a NULL in a WITH query's select list stays unknown (705) in Sluice; \
                 PostgreSQL resolves it to text (always NULL here)",
        )],
        masked: &[],
        only_in: &[(
            Side::Sluice,
            "schema",
            "sluice_catalog",
            "Sluice's own schema of system relations (pg_tables lists them)",
        )],
    },
    Replay {
        name: "metabase tables",
        sql: METABASE_TABLES,
        params: &[],
        ordered: true,
        types: &[],
        masked: &[(
            "estimated_row_count",
            "PostgreSQL's statistics collector counts live rows when it flushes, at \
             no set time",
        )],
        only_in: &[],
    },
    Replay {
        name: "metabase foreign keys",
        sql: METABASE_FKS,
        params: &[],
        ordered: true,
        types: &[],
        masked: &[],
        only_in: &[],
    },
    Replay {
        name: "metabase indexes",
        sql: METABASE_INDEXES,
        params: &[],
        // Without ORDER BY.
        ordered: false,
        types: &[],
        masked: &[],
        only_in: &[],
    },
    Replay {
        name: "dbeaver tables",
        sql: DBEAVER_TABLES,
        params: &[PUBLIC_OID],
        ordered: false,
        types: &[
            (
                "reltuples",
                "float8 in Sluice, float4 in PostgreSQL; the value -1 reads the same",
            ),
            ("relacl", ACL),
            (
                "parents",
                "array_agg of OIDs is int4[] in Sluice (its OIDs are int4 values), oid[] \
                 in PostgreSQL (NULL here: no inheritance)",
            ),
        ],
        masked: PG_CLASS_STORAGE,
        only_in: &[],
    },
    Replay {
        name: "dbeaver columns of orders",
        sql: DBEAVER_TABLE_COLUMNS,
        params: &[ORDERS_OID],
        ordered: true,
        types: &[("attacl", ACL), ("attmissingval", ALWAYS_NULL)],
        masked: &[],
        only_in: &[SYSTEM_COLUMNS],
    },
    Replay {
        name: "dbeaver columns of public",
        sql: DBEAVER_SCHEMA_COLUMNS,
        params: &[PUBLIC_OID],
        // Ordered by attnum only: columns of different relations tie.
        ordered: false,
        types: &[("attacl", ACL), ("attmissingval", ALWAYS_NULL)],
        masked: &[],
        only_in: &[SYSTEM_COLUMNS],
    },
    Replay {
        name: "dbeaver constraints",
        sql: DBEAVER_CONSTRAINTS,
        params: &[PUBLIC_OID],
        // Ordered by OID, which each server assigns its own way.
        ordered: false,
        types: &[
            ("conpfeqop", ALWAYS_NULL),
            ("conppeqop", ALWAYS_NULL),
            ("conffeqop", ALWAYS_NULL),
            ("confdelsetcols", ALWAYS_NULL),
            ("conexclop", ALWAYS_NULL),
        ],
        masked: &[],
        only_in: &[],
    },
    Replay {
        name: "dbeaver indexes",
        sql: DBEAVER_INDEXES,
        params: &[PUBLIC_OID],
        ordered: true,
        types: &[
            ("indkey", VECTOR),
            ("indcollation", VECTOR),
            ("indclass", VECTOR),
            ("indoption", VECTOR),
            ("keys", VECTOR),
        ],
        masked: &[
            ("indkey", VECTOR),
            ("indcollation", VECTOR),
            ("indclass", VECTOR),
            ("indoption", VECTOR),
            ("keys", VECTOR),
        ],
        only_in: &[],
    },
];

/// Replays that still fail on Sluice, with words of the error. Each is checked to
/// fail so: once it works, it must answer as PostgreSQL and leave this list.
const KNOWN_FAILURES: &[(&str, &str)] = &[];

/// A cell as text (the simple query protocol's), or NULL.
type Row = Vec<Option<String>>;

/// One server's answer: the columns (name, type OID) and rows, or the error.
#[derive(Debug)]
enum Answer {
    Rows {
        columns: Vec<(String, u32)>,
        rows: Vec<Row>,
    },
    Error(String),
}

fn error_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

/// The one value `sql` answers, as text.
async fn value(client: &Client, sql: &str) -> String {
    let rows = client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    rows.iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{sql}: no value"))
}

/// `sql` with each `?` replaced by the next parameter's value on this server.
async fn bound(client: &Client, sql: &str, params: &[&str]) -> String {
    let mut text = sql.to_string();
    for param in params {
        let value = value(client, param).await;
        let at = text.find('?').expect("a ? for each parameter");
        text.replace_range(at..at + 1, &value);
    }
    text
}

/// Runs `sql`: its description as a prepared statement (the column types) and its
/// rows through the simple query protocol (text, as Npgsql and psql read them).
async fn answer(client: &Client, sql: &str) -> Answer {
    let statement = match client.prepare(sql).await {
        Ok(statement) => statement,
        Err(e) => return Answer::Error(error_text(&e)),
    };
    let columns = statement
        .columns()
        .iter()
        .map(|c| (c.name().to_string(), c.type_().oid()))
        .collect();
    let messages = match client.simple_query(sql).await {
        Ok(messages) => messages,
        Err(e) => return Answer::Error(error_text(&e)),
    };
    let rows = common::text_rows(&messages);
    Answer::Rows { columns, rows }
}

/// OIDs of the test's objects on one server, by the name they read as in answers:
/// the schema's relations and constraints. (Both servers' objects are owned by
/// `postgres`, OID 10.)
async fn labels(client: &Client) -> HashMap<String, String> {
    let sql = "SELECT c.oid::text, 'relation ' || c.relname FROM pg_catalog.pg_class c
            JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'
        UNION ALL SELECT c.oid::text, 'constraint ' || c.conname FROM pg_catalog.pg_constraint c
            JOIN pg_catalog.pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = 'public'";
    let messages = client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some((
                row.get(0).unwrap_or_default().to_string(),
                format!("<{}>", row.get(1).unwrap_or_default()),
            )),
            _ => None,
        })
        .collect()
}

/// `rows` with OIDs of the test's objects named, masked columns starred and the rows
/// only this side has left out (each such entry checked to match a row).
fn normalized(
    replay: &Replay,
    side: Side,
    columns: &[(String, u32)],
    rows: &[Row],
    labels: &HashMap<String, String>,
) -> Vec<Row> {
    let index = |name: &str| {
        columns
            .iter()
            .position(|(c, _)| c == name)
            .unwrap_or_else(|| panic!("{}: no column {name} on {side:?}", replay.name))
    };
    let masked: Vec<usize> = replay.masked.iter().map(|(c, _)| index(c)).collect();
    let mut kept = Vec::new();
    let mut dropped = vec![false; replay.only_in.len()];
    'rows: for row in rows {
        for (n, (only, column, prefix, _)) in replay.only_in.iter().enumerate() {
            if *only == side
                && row[index(column)]
                    .as_deref()
                    .is_some_and(|cell| cell.starts_with(prefix))
            {
                dropped[n] = true;
                continue 'rows;
            }
        }
        kept.push(
            row.iter()
                .enumerate()
                .map(|(i, cell)| {
                    if masked.contains(&i) {
                        return Some("*".to_string());
                    }
                    cell.as_ref()
                        .map(|c| labels.get(c).cloned().unwrap_or_else(|| c.clone()))
                })
                .collect(),
        );
    }
    for (n, (only, column, prefix, _)) in replay.only_in.iter().enumerate() {
        assert!(
            *only != side || dropped[n],
            "{}: no row with {column} starting {prefix:?} on {side:?} any more: take it \
             off the list of known differences",
            replay.name
        );
    }
    if !replay.ordered {
        kept.sort();
    }
    kept
}

/// Whether the two answers' columns have the same names and types, but the types of
/// `types` (documented differences), each of which must still differ.
fn same_columns(
    ours: &[(String, u32)],
    theirs: &[(String, u32)],
    types: &[(&str, &str)],
) -> Result<(), String> {
    let names = |columns: &[(String, u32)]| -> Vec<String> {
        columns.iter().map(|(n, _)| n.clone()).collect()
    };
    if names(ours) != names(theirs) {
        return Err(format!(
            "column names differ\nSluice:     {:?}\nPostgreSQL: {:?}",
            names(ours),
            names(theirs)
        ));
    }
    for (column, _) in types {
        if !ours
            .iter()
            .zip(theirs)
            .any(|(a, b)| a.0 == *column && a.1 != b.1)
        {
            return Err(format!(
                "column {column}'s type no longer differs: take it off the known differences"
            ));
        }
    }
    let differing: Vec<String> = ours
        .iter()
        .zip(theirs)
        .filter(|(a, b)| a.1 != b.1 && !types.iter().any(|(c, _)| *c == a.0))
        .map(|(a, b)| format!("{}: Sluice's type {}, PostgreSQL's {}", a.0, a.1, b.1))
        .collect();
    if differing.is_empty() {
        Ok(())
    } else {
        Err(format!("column types differ: {}", differing.join("; ")))
    }
}

/// The rows that differ, in pairs (or the counts, when they differ).
fn row_differences(mine: &[Row], postgres: &[Row]) -> String {
    if mine.len() != postgres.len() {
        return format!(
            "{} rows on Sluice, {} on PostgreSQL\nSluice:     {mine:?}\nPostgreSQL: {postgres:?}",
            mine.len(),
            postgres.len()
        );
    }
    mine.iter()
        .zip(postgres)
        .filter(|(a, b)| a != b)
        .map(|(a, b)| format!("Sluice:     {a:?}\nPostgreSQL: {b:?}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bi_metadata_queries_answer_as_postgres() {
    let both = Both::start(BI_SCHEMA).await;
    let (ours_labels, theirs_labels) = (labels(&both.ours).await, labels(&both.theirs).await);
    let mut failures = Vec::new();
    for replay in REPLAYS {
        let ours = answer(
            &both.ours,
            &bound(&both.ours, replay.sql, replay.params).await,
        )
        .await;
        let theirs = answer(
            &both.theirs,
            &bound(&both.theirs, replay.sql, replay.params).await,
        )
        .await;
        let Answer::Rows {
            columns: their_columns,
            rows: their_rows,
        } = theirs
        else {
            panic!("PostgreSQL failed {}: {theirs:?}", replay.name);
        };
        if let Some((_, words)) = KNOWN_FAILURES.iter().find(|(n, _)| *n == replay.name) {
            match &ours {
                Answer::Error(e) if e.contains(words) => continue,
                _ => panic!(
                    "{} no longer fails as known ({words}): compare it with PostgreSQL's \
                     and take it off KNOWN_FAILURES.\nSluice: {ours:?}",
                    replay.name
                ),
            }
        }
        let (our_columns, our_rows) = match ours {
            Answer::Rows { columns, rows } => (columns, rows),
            Answer::Error(e) => {
                failures.push(format!("{}: Sluice failed: {e}", replay.name));
                continue;
            }
        };
        if let Err(difference) = same_columns(&our_columns, &their_columns, replay.types) {
            failures.push(format!("{}: {difference}", replay.name));
            continue;
        }
        let mine = normalized(replay, Side::Sluice, &our_columns, &our_rows, &ours_labels);
        let postgres = normalized(
            replay,
            Side::Postgres,
            &their_columns,
            &their_rows,
            &theirs_labels,
        );
        if mine != postgres {
            let names: Vec<&str> = their_columns.iter().map(|(n, _)| n.as_str()).collect();
            failures.push(format!(
                "{}: rows differ (columns {names:?})\n{}",
                replay.name,
                row_differences(&mine, &postgres)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Npgsql's type list: Sluice has fewer types than PostgreSQL, so each row Sluice
/// answers must be PostgreSQL's row for that type, the types the schema's columns use
/// (and their arrays) must be there, and every array must come after its element (Npgsql
/// reads the rows in order and looks each array's element up among those read).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn npgsql_type_list_is_a_subset_of_postgres() {
    let both = Both::start(BI_SCHEMA).await;
    let sql = format!("SELECT version();\n{NPGSQL_TYPES}");
    let version = value(&both.ours, "SELECT version();").await;
    assert!(version.starts_with("PostgreSQL 15."), "{version}");
    let (ours, theirs) = (
        answer(&both.ours, NPGSQL_TYPES).await,
        answer(&both.theirs, NPGSQL_TYPES).await,
    );
    let (
        Answer::Rows {
            columns: ours_c,
            rows: ours,
        },
        Answer::Rows {
            columns: theirs_c,
            rows: theirs,
        },
    ) = (ours, theirs)
    else {
        panic!("Npgsql's type query failed on a server");
    };
    same_columns(
        &ours_c,
        &theirs_c,
        &[(
            "typtype",
            "a CASE of a \"char\" column and a literal is text in Sluice, \"char\" in \
             PostgreSQL; Npgsql reads the first character of either",
        )],
    )
    .unwrap_or_else(|difference| panic!("Npgsql's type query: {difference}"));
    // The batch as Npgsql sends it (simple protocol, two statements) also runs.
    both.ours
        .simple_query(&sql)
        .await
        .unwrap_or_else(|e| panic!("Npgsql's batch: {e:?}"));

    let by_oid: HashMap<&str, &Row> = theirs
        .iter()
        .map(|row| (row[1].as_deref().unwrap_or_default(), row))
        .collect();
    // Matched by schema and name: information_schema's domains (cardinal_number,
    // sql_identifier, ...) get their OIDs when a server's catalog is made, and the
    // pg_catalog crate's come from a later PostgreSQL; for them (and their arrays,
    // whose element is the domain) the OIDs are not compared.
    let by_name: HashMap<(&str, &str), &Row> = theirs
        .iter()
        .map(|row| {
            let name = (
                row[0].as_deref().unwrap_or_default(),
                row[2].as_deref().unwrap_or_default(),
            );
            (name, row)
        })
        .collect();
    let mut seen = std::collections::HashSet::new();
    for row in &ours {
        let oid = row[1].as_deref().unwrap_or_default();
        let schema = row[0].as_deref().unwrap_or_default();
        let name = (schema, row[2].as_deref().unwrap_or_default());
        let Some(postgres) = by_name.get(&name) else {
            panic!("type {name:?} ({row:?}) is not PostgreSQL 15's");
        };
        let oids_assigned = |row: &Row| -> Row {
            let mut row = row.clone();
            if schema == "information_schema" {
                row[1] = None;
                row[5] = None;
            }
            row
        };
        assert_eq!(
            oids_assigned(row),
            oids_assigned(postgres),
            "type {name:?}: Sluice's row, then PostgreSQL's"
        );
        if row[3].as_deref() == Some("a") {
            let element = row[5].as_deref().unwrap_or_default();
            assert!(
                seen.contains(element),
                "array {oid} comes before its element {element}"
            );
        }
        seen.insert(oid.to_string());
    }
    let used = value(
        &both.theirs,
        "SELECT string_agg(DISTINCT t.oid::text || ',' || t.typarray::text, ',')
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
         JOIN pg_type t ON t.oid = a.atttypid
         WHERE c.relname IN ('orders', 'lines', 'spend') AND a.attnum > 0",
    )
    .await;
    for oid in used.split(',').filter(|oid| *oid != "0") {
        assert!(
            seen.contains(oid),
            "type {oid} ({:?}) of the schema is not in Sluice's list",
            by_oid.get(oid)
        );
    }
}
