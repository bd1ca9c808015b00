//! The `pg_catalog` relations that describe Sluice's objects — `pg_namespace`,
//! `pg_class`, `pg_attribute`, `pg_attrdef`, `pg_constraint`, `pg_index`,
//! `pg_tables`, `pg_views`, `pg_matviews` (and an empty `pg_policy`) — built from
//! [`PgRelation`]s with PostgreSQL 15's columns (the `pg_catalog` crate's schemas,
//! with `conkey`, `confkey` and `indkey` as real `int2` arrays, `relacl`, `attacl`
//! and `nspacl` as arrays of `aclitem` text, `attfdwoptions` an array of text,
//! `coninhcount` an `int4`, `pg_class`'s last columns in PostgreSQL 15's order, and
//! `pg_tables.hasindexes` named as PostgreSQL names it).

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::Result;
use pgwire::api::Type;
use postgres_types::Kind;

use super::objects::{NAMESPACES, PgColumn, PgRelation, RelKind};
use super::oids;
use super::rows::{Row, Rows, Value};
use crate::catalog::roles::{Privilege, Roles};

/// The relations built here, instead of the `pg_catalog` crate's.
pub const BUILT_HERE: [&str; 12] = [
    "pg_namespace",
    "pg_foreign_server",
    "pg_foreign_table",
    "pg_class",
    "pg_attribute",
    "pg_attrdef",
    "pg_constraint",
    "pg_index",
    "pg_tables",
    "pg_views",
    "pg_matviews",
    // No rows (Sluice has no row security policies), but `polroles` an array of OIDs
    // (psql's `\dp` reads `oid = ANY (polroles)`).
    "pg_policy",
];

/// The name every object's owner has (Sluice has one user so far).
pub const OWNER_NAME: &str = "postgres";

/// `pg_class` columns the crate's schema lacks (psql's `\d+` and `\dp` read them).
fn missing_class_columns() -> Vec<Field> {
    let texts = DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)));
    vec![
        Field::new("reltoastrelid", DataType::Int32, false),
        Field::new("reloftype", DataType::Int32, false),
        Field::new("reloptions", texts.clone(), true),
        Field::new("relacl", texts, true),
    ]
}

/// The schema of relation `name` built here, from the crate's schema for it.
pub fn schema(name: &str, crate_schema: &Schema) -> SchemaRef {
    let int2_arrays: &[&str] = match name {
        "pg_constraint" => &["conkey", "confkey"],
        "pg_index" => &["indkey", "indoption"],
        _ => &[],
    };
    let oid_arrays: &[&str] = match name {
        "pg_index" => &["indclass", "indcollation"],
        "pg_policy" => &["polroles"],
        _ => &[],
    };
    // `aclitem[]` and `text[]` columns the crate makes text: arrays of text, as
    // `relacl` (psql's `\dp` and `\dn+` give them to `array_to_string`).
    let text_arrays: &[&str] = match name {
        "pg_attribute" => &["attacl", "attoptions", "attfdwoptions"],
        "pg_namespace" => &["nspacl"],
        _ => &[],
    };
    let mut fields: Vec<Field> = crate_schema
        .fields()
        .iter()
        .map(|field| {
            if name == "pg_constraint" && field.name() == "coninhcount" {
                // `int4` in PostgreSQL 15 (the crate's comes from a later one).
                Field::new("coninhcount", DataType::Int32, false)
            } else if name == "pg_tables" && field.name() == "hasindex" {
                // The crate's name for PostgreSQL's `hasindexes`.
                Field::new("hasindexes", DataType::Boolean, false)
            } else if int2_arrays.contains(&field.name().as_str()) {
                let item = Arc::new(Field::new_list_field(DataType::Int16, true));
                Field::new(field.name(), DataType::List(item), true)
            } else if oid_arrays.contains(&field.name().as_str()) {
                // oidvector, as the crate's other OID columns: int4 items.
                let item = Arc::new(Field::new_list_field(DataType::Int32, true));
                Field::new(field.name(), DataType::List(item), true)
            } else if text_arrays.contains(&field.name().as_str()) {
                let item = Arc::new(Field::new_list_field(DataType::Utf8, true));
                Field::new(field.name(), DataType::List(item), true)
            } else {
                field.as_ref().clone()
            }
        })
        .collect();
    if name == "pg_class" {
        let missing = missing_class_columns()
            .into_iter()
            .filter(|f| crate_schema.field_with_name(f.name()).is_err());
        fields.extend(missing);
        // PostgreSQL 15's order at the end (`SELECT c.*` shows it, as DBeaver reads).
        let last = ["relacl", "reloptions", "relpartbound"];
        fields.sort_by_key(|f| last.iter().position(|name| name == f.name()));
    }
    Arc::new(Schema::new(fields))
}

/// Every schema's privileges, as `aclitem` text: `USAGE` and `CREATE` for the owner,
/// `USAGE` for everyone (PostgreSQL's `public` has the same, under
/// `pg_database_owner`, a role Sluice does not have).
const SCHEMA_ACL: [&str; 2] = ["postgres=UC/postgres", "=U/postgres"];

/// The rows of relation `name` (one of [`BUILT_HERE`]) describing `relations`, with
/// the privileges granted on them in `roles` (`pg_class.relacl`).
pub fn rows(
    name: &str,
    schema: SchemaRef,
    relations: &[PgRelation],
    roles: &Roles,
) -> Result<RecordBatch> {
    let mut rows = Rows::new(schema);
    match name {
        "pg_namespace" => {
            for (oid, name) in NAMESPACES {
                rows.push(vec![
                    ("oid", oid.into()),
                    ("nspname", name.into()),
                    ("nspowner", oids::OWNER.into()),
                    // Everyone may use every schema; creating in one takes a
                    // superuser (see `has_schema_privilege`).
                    (
                        "nspacl",
                        Value::Texts(SCHEMA_ACL.map(String::from).to_vec()),
                    ),
                ]);
            }
        }
        // Sources are foreign tables of one server, `sluice`, without options: psql's
        // `\d` of a foreign table names its server.
        "pg_foreign_server" => rows.push(vec![
            ("oid", oids::SOURCE_SERVER.into()),
            ("srvname", "sluice".into()),
            ("srvowner", oids::OWNER.into()),
            ("srvfdw", oids::SOURCE_SERVER.into()),
        ]),
        "pg_foreign_table" => {
            for relation in relations.iter().filter(|r| r.kind == RelKind::ForeignTable) {
                rows.push(vec![
                    ("ftrelid", relation.oid.into()),
                    ("ftserver", oids::SOURCE_SERVER.into()),
                ]);
            }
        }
        "pg_class" => relations
            .iter()
            .for_each(|r| class_rows(r, access_list(r, roles), &mut rows)),
        "pg_attribute" => relations.iter().for_each(|r| attribute_rows(r, &mut rows)),
        "pg_attrdef" => {
            for relation in relations {
                for (number, column) in numbered(&relation.columns) {
                    if let (Some(default), Some(id)) = (&column.default, relation.id) {
                        rows.push(vec![
                            ("oid", oids::column_default(id, number).into()),
                            ("adrelid", relation.oid.into()),
                            ("adnum", Value::Int(number.into())),
                            ("adbin", default.as_str().into()),
                        ]);
                    }
                }
            }
        }
        "pg_constraint" => {
            for relation in relations {
                if let Some(key) = &relation.primary_key {
                    rows.push(vec![
                        ("oid", key.constraint_oid.into()),
                        ("conname", key.name.as_str().into()),
                        ("connamespace", relation.namespace.into()),
                        ("contype", "p".into()),
                        ("convalidated", true.into()),
                        ("conrelid", relation.oid.into()),
                        ("conindid", key.index_oid.into()),
                        ("confupdtype", " ".into()),
                        ("confdeltype", " ".into()),
                        ("confmatchtype", " ".into()),
                        ("conislocal", true.into()),
                        ("connoinherit", true.into()),
                        ("conkey", Value::Int2s(key.columns.clone())),
                    ]);
                }
            }
        }
        "pg_index" => {
            for relation in relations {
                if let Some(key) = &relation.primary_key {
                    let count = Value::Int(key.columns.len() as i64);
                    rows.push(vec![
                        ("indexrelid", key.index_oid.into()),
                        ("indrelid", relation.oid.into()),
                        ("indnatts", count.clone()),
                        ("indnkeyatts", count),
                        ("indisunique", true.into()),
                        ("indisprimary", true.into()),
                        ("indimmediate", true.into()),
                        ("indisvalid", true.into()),
                        ("indisready", true.into()),
                        ("indislive", true.into()),
                        ("indkey", Value::Int2s(key.columns.clone())),
                        (
                            "indclass",
                            Value::Ints(key_types(relation, oids::default_opclass)),
                        ),
                        ("indcollation", Value::Ints(key_types(relation, collation))),
                        ("indoption", Value::Int2s(vec![0; key.columns.len()])),
                    ]);
                }
            }
        }
        "pg_tables" => {
            for relation in relations.iter().filter(|r| r.kind == RelKind::Table) {
                rows.push(vec![
                    ("schemaname", relation.namespace_name().into()),
                    ("tablename", relation.name.as_str().into()),
                    ("tableowner", OWNER_NAME.into()),
                    ("tablespace", Value::Null),
                    ("hasindexes", relation.primary_key.is_some().into()),
                ]);
            }
        }
        "pg_views" => {
            for relation in relations.iter().filter(|r| r.kind == RelKind::View) {
                rows.push(vec![
                    ("schemaname", relation.namespace_name().into()),
                    ("viewname", relation.name.as_str().into()),
                    ("viewowner", OWNER_NAME.into()),
                    ("definition", Value::Null),
                ]);
            }
        }
        "pg_matviews" => {
            for relation in relations
                .iter()
                .filter(|r| r.kind == RelKind::MaterializedView)
            {
                rows.push(vec![
                    ("schemaname", relation.namespace_name().into()),
                    ("matviewname", relation.name.as_str().into()),
                    ("matviewowner", OWNER_NAME.into()),
                    ("tablespace", Value::Null),
                    ("hasindexes", false.into()),
                    ("ispopulated", true.into()),
                    ("definition", view_definition(relation).into()),
                ]);
            }
        }
        _ => {}
    }
    rows.finish()
}

/// A materialized view's query as `pg_get_viewdef` and `pg_matviews` show it: on
/// its own lines, led by a space and ended by `;` as PostgreSQL prints it.
pub fn view_definition(relation: &PgRelation) -> Option<String> {
    relation.query.as_ref().map(|query| format!(" {query};"))
}

/// `f` of the type of each of `relation`'s primary key columns, in key order
/// (`pg_index.indclass`, `indcollation`).
fn key_types(relation: &PgRelation, f: impl Fn(i32) -> i32) -> Vec<i64> {
    let Some(key) = &relation.primary_key else {
        return Vec::new();
    };
    key.columns
        .iter()
        .map(|number| {
            let column = usize::try_from(*number - 1)
                .ok()
                .and_then(|i| relation.columns.get(i));
            i64::from(column.map_or(0, |c| f(c.type_oid)))
        })
        .collect()
}

/// The collation of values of type `type_oid`: the default (100) for text types and
/// arrays of them, else none.
fn collation(type_oid: i32) -> i32 {
    TypeLayout::of(type_oid).collation
}

fn numbered(columns: &[PgColumn]) -> impl Iterator<Item = (i16, &PgColumn)> {
    columns.iter().enumerate().map(|(i, c)| (i as i16 + 1, c))
}

/// `relacl`: NULL (the owner's default privileges) until something is granted, then
/// the owner's privileges and each grantee's, in PostgreSQL's `aclitem` text form
/// (`bi=r/postgres`; `=r/postgres` for PUBLIC).
fn access_list(relation: &PgRelation, roles: &Roles) -> Value {
    let granted = relation
        .id
        .map(|id| roles.grants_on(id))
        .unwrap_or_default();
    if granted.is_empty() {
        return Value::Null;
    }
    let owner = format!("{OWNER_NAME}=arwdDxt/{OWNER_NAME}");
    let items = granted.into_iter().map(|(grantee, privileges)| {
        let letters: String = [
            (Privilege::Insert, 'a'),
            (Privilege::Select, 'r'),
            (Privilege::Update, 'w'),
            (Privilege::Delete, 'd'),
        ]
        .into_iter()
        .filter(|(p, _)| privileges.contains(p))
        .map(|(_, letter)| letter)
        .collect();
        format!("{}={letters}/{OWNER_NAME}", grantee.unwrap_or_default())
    });
    Value::Texts(std::iter::once(owner).chain(items).collect())
}

fn class_rows(relation: &PgRelation, acl: Value, rows: &mut Rows) {
    let stored = matches!(relation.kind, RelKind::Table | RelKind::MaterializedView);
    rows.push(class_row(
        relation.oid,
        &relation.name,
        relation.namespace,
        relation.kind,
        relation.columns.len(),
        vec![
            ("relam", Value::Int(if stored { 2 } else { 0 })),
            ("relhasindex", relation.primary_key.is_some().into()),
            ("relreplident", if stored { "d" } else { "n" }.into()),
            ("relacl", acl),
        ],
    ));
    if let Some(key) = &relation.primary_key {
        rows.push(class_row(
            key.index_oid,
            &key.name,
            relation.namespace,
            RelKind::Index,
            key.columns.len(),
            vec![("relam", oids::BTREE.into()), ("relreplident", "n".into())],
        ));
    }
}

fn class_row(
    oid: i32,
    name: &str,
    namespace: i32,
    kind: RelKind,
    columns: usize,
    mut extra: Row,
) -> Row {
    let mut row: Row = vec![
        ("oid", oid.into()),
        ("relname", name.into()),
        ("relnamespace", namespace.into()),
        ("relowner", oids::OWNER.into()),
        ("relfilenode", oid.into()),
        ("reltuples", Value::Float(-1.0)),
        ("relpersistence", "p".into()),
        ("relkind", kind.code().into()),
        ("relnatts", Value::Int(columns as i64)),
        ("relispopulated", true.into()),
        ("relpartbound", Value::Null),
        // Not a typed table, not rewritten by ALTER TABLE: 0, as PostgreSQL says.
        ("reloftype", Value::Int(0)),
        ("relrewrite", Value::Int(0)),
    ];
    row.append(&mut extra);
    row
}

fn attribute_rows(relation: &PgRelation, rows: &mut Rows) {
    for (number, column) in numbered(&relation.columns) {
        rows.push(attribute_row(relation.oid, number, column));
    }
    if let Some(key) = &relation.primary_key {
        for (position, column) in key.columns.iter().enumerate() {
            if let Some(column) = relation.columns.get(*column as usize - 1) {
                let index_column = PgColumn {
                    default: None,
                    not_null: false,
                    ..column.clone()
                };
                rows.push(attribute_row(
                    key.index_oid,
                    position as i16 + 1,
                    &index_column,
                ));
            }
        }
    }
}

fn attribute_row(relation: i32, number: i16, column: &PgColumn) -> Row {
    let layout = TypeLayout::of(column.type_oid);
    vec![
        ("attrelid", relation.into()),
        ("attname", column.name.as_str().into()),
        ("atttypid", column.type_oid.into()),
        ("attstattarget", Value::Int(-1)),
        ("attlen", Value::Int(layout.len.into())),
        ("attnum", Value::Int(number.into())),
        ("attndims", Value::Int(layout.dims.into())),
        ("attcacheoff", Value::Int(-1)),
        ("atttypmod", column.typmod.into()),
        ("attbyval", layout.by_value.into()),
        ("attalign", layout.align.into()),
        ("attstorage", layout.storage.into()),
        ("attcompression", "".into()),
        ("attnotnull", column.not_null.into()),
        ("atthasdef", column.default.is_some().into()),
        ("attislocal", true.into()),
        ("attcollation", layout.collation.into()),
    ]
}

/// `pg_type.typlen` of type `type_oid`: its width in bytes, or -1 for a type of
/// varying width (as RowDescription reports it).
pub fn type_length(type_oid: u32) -> i16 {
    match type_oid {
        // `name` (NAMEDATALEN) and `"char"`: fixed lengths, which result descriptions
        // of catalog columns carry (psycopg2's `internal_size`).
        19 => 64,
        18 => 1,
        _ => TypeLayout::of(type_oid as i32).len,
    }
}

/// How PostgreSQL stores values of a type: `pg_type`'s typlen, typbyval, typalign and
/// typstorage, and its collation.
struct TypeLayout {
    len: i16,
    by_value: bool,
    align: &'static str,
    storage: &'static str,
    collation: i32,
    dims: i32,
}

impl TypeLayout {
    fn of(type_oid: i32) -> TypeLayout {
        let t = Type::from_oid(type_oid as u32);
        let element = match t.as_ref().map(Type::kind) {
            Some(Kind::Array(element)) => Some(element.clone()),
            _ => None,
        };
        let collatable = |t: &Type| matches!(*t, Type::TEXT | Type::VARCHAR | Type::BPCHAR);
        let collation = if t.iter().chain(element.iter()).any(collatable) {
            100
        } else {
            0
        };
        let fixed = |len, align| TypeLayout {
            len,
            by_value: len <= 8,
            align,
            storage: "p",
            collation,
            dims: 0,
        };
        match (t, element) {
            (_, Some(element)) => TypeLayout {
                len: -1,
                by_value: false,
                align: if TypeLayout::of(element.oid() as i32).align == "d" {
                    "d"
                } else {
                    "i"
                },
                storage: "x",
                collation,
                dims: 1,
            },
            (Some(Type::BOOL), _) => fixed(1, "c"),
            (Some(Type::INT2), _) => fixed(2, "s"),
            (
                Some(
                    Type::INT4
                    | Type::FLOAT4
                    | Type::DATE
                    | Type::OID
                    | Type::REGCLASS
                    | Type::REGNAMESPACE
                    | Type::REGTYPE,
                ),
                _,
            ) => fixed(4, "i"),
            (Some(Type::INT8 | Type::FLOAT8 | Type::TIMESTAMP | Type::TIMESTAMPTZ), _) => {
                fixed(8, "d")
            }
            (Some(Type::INTERVAL), _) => TypeLayout {
                by_value: false,
                ..fixed(16, "d")
            },
            (Some(Type::NUMERIC), _) => TypeLayout {
                len: -1,
                by_value: false,
                align: "i",
                storage: "m",
                collation,
                dims: 0,
            },
            _ => TypeLayout {
                len: -1,
                by_value: false,
                align: "i",
                storage: "x",
                collation,
                dims: 0,
            },
        }
    }
}
