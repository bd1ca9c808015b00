//! The OIDs Sluice's objects have in `pg_catalog`, derived from catalog ids so that
//! they stay the same across queries and restarts (drivers cache them, and a table's
//! OID in a RowDescription must join to `pg_class`).
//!
//! | object                                     | OID                           |
//! |--------------------------------------------|-------------------------------|
//! | namespace `pg_catalog` / `public`          | 11 / 2200 (PostgreSQL's)      |
//! | namespace `information_schema`             | 13283 (the static pg_type's)  |
//! | namespace `sluice_catalog`                 | 16384                         |
//! | foreign server `sluice` (of every source)  | 16385                         |
//! | system relation number `n` (sorted by name)| 15000 + n                     |
//! | relation with catalog id `i`               | 16400 + 4·i                   |
//! | its primary key index / constraint         | 16400 + 4·i + 1 / + 2         |
//! | default of its column `a`                  | 1,000,000,000 + 2000·i + a    |
//!
//! OIDs are `int4` here (as in the `pg_catalog` crate's tables); the scheme holds
//! while catalog ids stay below 500,000.

/// `pg_catalog`.
pub const PG_CATALOG: i32 = 11;
/// `public`, as in every PostgreSQL database.
pub const PUBLIC: i32 = 2200;
/// `information_schema`: the namespace its types have in the static `pg_type`.
pub const INFORMATION_SCHEMA: i32 = 13283;
/// `sluice_catalog`.
pub const SLUICE_CATALOG: i32 = 16384;
/// The bootstrap superuser every object is owned by.
pub const OWNER: i32 = 10;
/// `btree`, the access method PostgreSQL's primary key indexes use.
pub const BTREE: i32 = 403;
/// `pg_class`'s own OID, the `classoid` of relations' descriptions.
pub const PG_CLASS: i32 = 1259;
/// The foreign server every source belongs to (`pg_foreign_server`): Sluice's
/// connectors, as one server named `sluice`.
pub const SOURCE_SERVER: i32 = 16385;

/// The default btree operator class (`pg_opclass`, PostgreSQL 15's OIDs, which the
/// `pg_catalog` crate's rows share) for values of type `type_oid`, as a primary key
/// index's `pg_index.indclass` names it; 0 for a type without one.
pub fn default_opclass(type_oid: i32) -> i32 {
    match type_oid {
        16 => 10003,                 // bool_ops
        17 => 10006,                 // bytea_ops
        20 => 3124,                  // int8_ops
        21 => 1979,                  // int2_ops
        23 => 1978,                  // int4_ops
        25 | 1043 => 3126,           // text_ops (varchar has none of its own)
        26 => 1981,                  // oid_ops
        700 => 10012,                // float4_ops
        701 => 3123,                 // float8_ops
        1042 => 10004,               // bpchar_ops
        1082 => 3122,                // date_ops
        1114 => 3128,                // timestamp_ops
        1184 => 3127,                // timestamptz_ops
        1186 => 10022,               // interval_ops
        1700 => 3125,                // numeric_ops
        t if array_type(t) => 10000, // array_ops
        _ => 0,
    }
}

fn array_type(type_oid: i32) -> bool {
    u32::try_from(type_oid)
        .ok()
        .and_then(pgwire::api::Type::from_oid)
        .is_some_and(|t| matches!(t.kind(), postgres_types::Kind::Array(_)))
}

const FIRST_SYSTEM_RELATION: i32 = 15000;
const FIRST_RELATION: i64 = 16400;
const FIRST_DEFAULT: i64 = 1_000_000_000;

/// The OID of the `n`th system relation.
pub fn system_relation(n: usize) -> i32 {
    FIRST_SYSTEM_RELATION + n as i32
}

/// The OID of the relation with catalog id `id`.
pub fn relation(id: u64) -> i32 {
    (FIRST_RELATION + 4 * id as i64) as i32
}

/// The OID of the function with catalog id `id` (in `pg_proc`; a function's id is
/// never a relation's, so the relation OID of its id is free).
pub fn function(id: u64) -> i32 {
    relation(id)
}

/// The OID of the primary key index of relation `id`.
pub fn primary_key_index(id: u64) -> i32 {
    relation(id) + 1
}

/// The OID of the primary key constraint of relation `id`.
pub fn primary_key_constraint(id: u64) -> i32 {
    relation(id) + 2
}

/// The OID of the `pg_attrdef` row of column `attnum` of relation `id`.
pub fn column_default(id: u64, attnum: i16) -> i32 {
    (FIRST_DEFAULT + 2000 * id as i64 + i64::from(attnum)) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relation_oids_are_user_oids_apart_from_each_other() {
        assert_eq!(relation(0), 16400);
        assert!(relation(1) > primary_key_constraint(0));
        assert!(system_relation(1383) < SLUICE_CATALOG);
        assert!(column_default(499_999, 1600) > 0);
    }
}
