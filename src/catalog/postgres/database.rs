//! `pg_database`: Sluice's one database, under the two names a client may see.
//!
//! A Sluice server holds one database, `sluice` (what `current_database()` says). A
//! client may name any database when it connects and gets that one, so `postgres`,
//! the name clients default to, is listed too; both rows are the same database, and
//! `pg_database_size` gives each the size of the data directory. There are no
//! `template0` and `template1`: Sluice has no `CREATE DATABASE` to copy them.
//!
//! Text is compared and sorted by its bytes (Arrow's order), which is PostgreSQL's
//! `C` collation: `datcollate` and `datctype` are `C`, with the `libc` provider
//! (`datlocprovider 'c'`), as `lc_collate` says.

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::Result;

use super::oids;
use super::rows::Rows;

/// Sluice's database, by OID and name: the name it has, then the name clients
/// default to.
pub const DATABASES: [(i32, &str); 2] = [(16384, "sluice"), (16385, "postgres")];

/// PostgreSQL's OID of tablespace `pg_default`.
const PG_DEFAULT_TABLESPACE: i32 = 1663;

/// PostgreSQL's number of encoding `UTF8`.
const UTF8: i32 = 6;

/// The OID of the database named `name`, if it is one of [`DATABASES`].
pub fn named(name: &str) -> Option<i32> {
    DATABASES
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(oid, _)| *oid)
}

/// `pg_database`'s rows, in its `schema` (the `pg_catalog` crate's).
pub fn rows(schema: SchemaRef) -> Result<RecordBatch> {
    let mut rows = Rows::new(schema);
    for (oid, name) in DATABASES {
        rows.push(vec![
            ("oid", oid.into()),
            ("datname", name.into()),
            ("datdba", oids::OWNER.into()),
            ("encoding", UTF8.into()),
            ("datlocprovider", "c".into()),
            ("datcollate", "C".into()),
            ("datctype", "C".into()),
            ("datistemplate", false.into()),
            ("datallowconn", true.into()),
            ("datconnlimit", (-1).into()),
            ("datlastsysoid", 100000.into()),
            ("datfrozenxid", 1.into()),
            ("datminmxid", 1.into()),
            ("dattablespace", PG_DEFAULT_TABLESPACE.into()),
        ]);
    }
    rows.finish()
}
