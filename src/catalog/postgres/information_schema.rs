//! The schema `information_schema`, with PostgreSQL 15's columns, for Sluice's
//! objects and the system relations: `schemata`, `tables`, `columns`, `views`,
//! `table_constraints` and `key_column_usage` (DataFusion's own has other columns and
//! Arrow type names). As in PostgreSQL, `tables` and `columns` list tables, views and
//! foreign tables (sources) but not materialized views (`pg_matviews` and
//! `pg_attribute` describe those), and `table_constraints` holds a `CHECK` row per
//! `NOT NULL` column.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::SchemaProvider;
use datafusion::datasource::{MemTable, TableProvider};
use datafusion::error::Result;
use pgwire::api::Type;
use postgres_types::Kind;

use super::PgObjects;
use super::objects::{PgColumn, PgRelation, RelKind};
use super::rows::{Row, Rows, Value};
use crate::catalog::DEFAULT_DATABASE;

/// The relations and their columns (text unless marked `:i`, an `integer`).
const RELATIONS: [(&str, &str); 6] = [
    (
        "schemata",
        "catalog_name schema_name schema_owner default_character_set_catalog \
         default_character_set_schema default_character_set_name sql_path",
    ),
    (
        "tables",
        "table_catalog table_schema table_name table_type self_referencing_column_name \
         reference_generation user_defined_type_catalog user_defined_type_schema \
         user_defined_type_name is_insertable_into is_typed commit_action",
    ),
    (
        "columns",
        "table_catalog table_schema table_name column_name ordinal_position:i \
         column_default is_nullable data_type character_maximum_length:i \
         character_octet_length:i numeric_precision:i numeric_precision_radix:i \
         numeric_scale:i datetime_precision:i interval_type interval_precision:i \
         character_set_catalog character_set_schema character_set_name collation_catalog \
         collation_schema collation_name domain_catalog domain_schema domain_name \
         udt_catalog udt_schema udt_name scope_catalog scope_schema scope_name \
         maximum_cardinality:i dtd_identifier is_self_referencing is_identity \
         identity_generation identity_start identity_increment identity_maximum \
         identity_minimum identity_cycle is_generated generation_expression is_updatable",
    ),
    (
        "views",
        "table_catalog table_schema table_name view_definition check_option is_updatable \
         is_insertable_into is_trigger_updatable is_trigger_deletable \
         is_trigger_insertable_into",
    ),
    (
        "table_constraints",
        "constraint_catalog constraint_schema constraint_name table_catalog table_schema \
         table_name constraint_type is_deferrable initially_deferred enforced nulls_distinct",
    ),
    (
        "key_column_usage",
        "constraint_catalog constraint_schema constraint_name table_catalog table_schema \
         table_name column_name ordinal_position:i position_in_unique_constraint:i",
    ),
];

fn schema_of(columns: &str) -> SchemaRef {
    let fields: Vec<Field> = columns
        .split_whitespace()
        .map(|column| match column.strip_suffix(":i") {
            Some(name) => Field::new(name, DataType::Int32, true),
            None => Field::new(column, DataType::Utf8, true),
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// The relations' names and schemas.
pub fn relation_schemas() -> Vec<(String, SchemaRef)> {
    RELATIONS
        .iter()
        .map(|(name, columns)| (name.to_string(), schema_of(columns)))
        .collect()
}

/// The schema provider.
#[derive(Debug)]
pub struct InformationSchema {
    objects: Arc<PgObjects>,
}

impl InformationSchema {
    pub fn new(objects: Arc<PgObjects>) -> InformationSchema {
        InformationSchema { objects }
    }
}

#[async_trait]
impl SchemaProvider for InformationSchema {
    fn table_names(&self) -> Vec<String> {
        RELATIONS.iter().map(|(name, _)| name.to_string()).collect()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let lower = name.to_ascii_lowercase();
        let Some((name, columns)) = RELATIONS.iter().find(|(n, _)| *n == lower) else {
            return Ok(None);
        };
        let schema = schema_of(columns);
        let relations = self.objects.relations().await?;
        let batch = rows(name, schema.clone(), &relations)?;
        Ok(Some(Arc::new(MemTable::try_new(
            schema,
            vec![vec![batch]],
        )?)))
    }

    fn table_exist(&self, name: &str) -> bool {
        let lower = name.to_ascii_lowercase();
        RELATIONS.iter().any(|(n, _)| *n == lower)
    }
}

fn yes_no(yes: bool) -> Value {
    if yes { "YES" } else { "NO" }.into()
}

fn rows(
    name: &str,
    schema: SchemaRef,
    relations: &[PgRelation],
) -> Result<datafusion::arrow::array::RecordBatch> {
    let mut rows = Rows::new(schema);
    let database = || Value::from(DEFAULT_DATABASE);
    // PostgreSQL's information_schema leaves materialized views (and indexes) out.
    let listed = relations.iter().filter(|r| {
        matches!(
            r.kind,
            RelKind::Table | RelKind::View | RelKind::ForeignTable
        )
    });
    match name {
        "schemata" => {
            for (_, schema) in super::objects::NAMESPACES {
                rows.push(vec![
                    ("catalog_name", database()),
                    ("schema_name", schema.into()),
                    // PostgreSQL 15's `public` belongs to pg_database_owner.
                    (
                        "schema_owner",
                        if schema == crate::catalog::DEFAULT_SCHEMA {
                            "pg_database_owner"
                        } else {
                            super::tables::OWNER_NAME
                        }
                        .into(),
                    ),
                ]);
            }
        }
        "tables" => {
            for relation in listed {
                let table_type = match relation.kind {
                    RelKind::Table => "BASE TABLE",
                    RelKind::ForeignTable => "FOREIGN",
                    _ => "VIEW",
                };
                rows.push(vec![
                    ("table_catalog", database()),
                    ("table_schema", relation.namespace_name().into()),
                    ("table_name", relation.name.as_str().into()),
                    ("table_type", table_type.into()),
                    (
                        "is_insertable_into",
                        yes_no(relation.kind == RelKind::Table),
                    ),
                    ("is_typed", yes_no(false)),
                ]);
            }
        }
        "columns" => {
            for relation in listed {
                for (i, column) in relation.columns.iter().enumerate() {
                    let mut row = vec![
                        ("table_catalog", database()),
                        ("table_schema", relation.namespace_name().into()),
                        ("table_name", relation.name.as_str().into()),
                        ("column_name", column.name.as_str().into()),
                        ("ordinal_position", Value::Int(i as i64 + 1)),
                        ("column_default", column.default.clone().into()),
                        ("is_nullable", yes_no(!column.not_null)),
                        ("udt_catalog", database()),
                        ("udt_schema", "pg_catalog".into()),
                        ("dtd_identifier", (i + 1).to_string().into()),
                        ("is_self_referencing", yes_no(false)),
                        ("is_identity", yes_no(false)),
                        ("identity_cycle", yes_no(false)),
                        ("is_generated", "NEVER".into()),
                        ("is_updatable", yes_no(relation.kind == RelKind::Table)),
                    ];
                    row.extend(type_columns(column));
                    rows.push(row);
                }
            }
        }
        "views" => {
            for relation in relations.iter().filter(|r| r.kind == RelKind::View) {
                rows.push(vec![
                    ("table_catalog", database()),
                    ("table_schema", relation.namespace_name().into()),
                    ("table_name", relation.name.as_str().into()),
                    ("check_option", "NONE".into()),
                    ("is_updatable", yes_no(false)),
                    ("is_insertable_into", yes_no(false)),
                    ("is_trigger_updatable", yes_no(false)),
                    ("is_trigger_deletable", yes_no(false)),
                    ("is_trigger_insertable_into", yes_no(false)),
                ]);
            }
        }
        "table_constraints" => {
            for relation in relations.iter().filter(|r| r.kind == RelKind::Table) {
                let constraint = |name: String, kind: &str| -> Row {
                    vec![
                        ("constraint_catalog", database()),
                        ("constraint_schema", relation.namespace_name().into()),
                        ("constraint_name", name.into()),
                        ("table_catalog", database()),
                        ("table_schema", relation.namespace_name().into()),
                        ("table_name", relation.name.as_str().into()),
                        ("constraint_type", kind.into()),
                        ("is_deferrable", yes_no(false)),
                        ("initially_deferred", yes_no(false)),
                        ("enforced", yes_no(true)),
                    ]
                };
                if let Some(key) = &relation.primary_key {
                    rows.push(constraint(key.name.clone(), "PRIMARY KEY"));
                }
                for (i, column) in relation.columns.iter().enumerate() {
                    if column.not_null {
                        // PostgreSQL's name for a NOT NULL column's check.
                        let name =
                            format!("{}_{}_{}_not_null", relation.namespace, relation.oid, i + 1);
                        rows.push(constraint(name, "CHECK"));
                    }
                }
            }
        }
        "key_column_usage" => {
            for relation in relations.iter().filter(|r| r.kind == RelKind::Table) {
                let Some(key) = &relation.primary_key else {
                    continue;
                };
                for (position, number) in key.columns.iter().enumerate() {
                    let Some(column) = relation.columns.get(*number as usize - 1) else {
                        continue;
                    };
                    rows.push(vec![
                        ("constraint_catalog", database()),
                        ("constraint_schema", relation.namespace_name().into()),
                        ("constraint_name", key.name.as_str().into()),
                        ("table_catalog", database()),
                        ("table_schema", relation.namespace_name().into()),
                        ("table_name", relation.name.as_str().into()),
                        ("column_name", column.name.as_str().into()),
                        ("ordinal_position", Value::Int(position as i64 + 1)),
                    ]);
                }
            }
        }
        _ => {}
    }
    rows.finish()
}

/// `data_type`, `udt_name` and the lengths, precisions and scales of a column's type,
/// as PostgreSQL's `information_schema.columns` gives them.
fn type_columns(column: &PgColumn) -> Row {
    let Some(t) = Type::from_oid(column.type_oid as u32) else {
        return vec![("data_type", "USER-DEFINED".into())];
    };
    let mut row: Row = vec![("udt_name", t.name().into())];
    if let Kind::Array(_) = t.kind() {
        row.push(("data_type", "ARRAY".into()));
        return row;
    }
    let data_type = match t {
        Type::BOOL => "boolean",
        Type::INT2 => "smallint",
        Type::INT4 => "integer",
        Type::INT8 => "bigint",
        Type::FLOAT4 => "real",
        Type::FLOAT8 => "double precision",
        Type::NUMERIC => "numeric",
        Type::TEXT => "text",
        Type::VARCHAR => "character varying",
        Type::BPCHAR => "character",
        Type::BYTEA => "bytea",
        Type::DATE => "date",
        Type::TIMESTAMP => "timestamp without time zone",
        Type::TIMESTAMPTZ => "timestamp with time zone",
        Type::INTERVAL => "interval",
        Type::OID => "oid",
        _ => "USER-DEFINED",
    };
    row.push(("data_type", data_type.into()));
    let precision = |bits: i64| {
        [
            ("numeric_precision", Value::Int(bits)),
            ("numeric_precision_radix", Value::Int(2)),
        ]
    };
    match t {
        Type::INT2 | Type::INT4 | Type::INT8 => {
            let bits = match t {
                Type::INT2 => 16,
                Type::INT4 => 32,
                _ => 64,
            };
            row.extend(precision(bits));
            row.push(("numeric_scale", Value::Int(0)));
        }
        Type::FLOAT4 => row.extend(precision(24)),
        Type::FLOAT8 => row.extend(precision(53)),
        Type::NUMERIC => {
            row.push(("numeric_precision_radix", Value::Int(10)));
            if column.typmod >= 4 {
                let modifier = i64::from(column.typmod - 4);
                row.push(("numeric_precision", Value::Int(modifier >> 16)));
                row.push(("numeric_scale", Value::Int(modifier & 0xffff)));
            }
        }
        Type::TEXT | Type::VARCHAR | Type::BPCHAR => {
            // Characters take up to 4 bytes in UTF8; unlimited text is 1 GB.
            let octets = if column.typmod >= 4 {
                row.push((
                    "character_maximum_length",
                    Value::Int(i64::from(column.typmod - 4)),
                ));
                i64::from(column.typmod - 4) * 4
            } else {
                1_073_741_824
            };
            row.push(("character_octet_length", Value::Int(octets)));
        }
        Type::DATE => row.push(("datetime_precision", Value::Int(0))),
        Type::TIMESTAMP | Type::TIMESTAMPTZ | Type::INTERVAL => {
            row.push(("datetime_precision", Value::Int(6)))
        }
        _ => {}
    }
    row
}
