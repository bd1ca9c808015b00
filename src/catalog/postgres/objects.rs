//! What `pg_catalog` says about each relation: Sluice's tables, materialized views and
//! sources (from the live catalog, with the column types as declared) and the system
//! relations of `pg_catalog`, `information_schema` and `sluice_catalog`, each with its
//! OID ([`super::oids`]), kind, columns, primary key and view query.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::catalog::SchemaProvider;
use datafusion::sql::sqlparser::ast::{
    CharacterLength, ColumnOption, DataType as SqlType, ExactNumberInfo, Expr, Statement, Value,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use pgwire::api::Type;

use super::oids;
use crate::catalog::{Catalog, DEFAULT_SCHEMA, Relation};

/// `pg_class.relkind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelKind {
    Table,
    View,
    MaterializedView,
    /// Sources: rows that come from outside, as PostgreSQL's foreign tables.
    ForeignTable,
    Index,
}

impl RelKind {
    pub fn code(self) -> &'static str {
        match self {
            RelKind::Table => "r",
            RelKind::View => "v",
            RelKind::MaterializedView => "m",
            RelKind::ForeignTable => "f",
            RelKind::Index => "i",
        }
    }
}

/// A column as `pg_attribute` describes it.
#[derive(Debug, Clone)]
pub struct PgColumn {
    pub name: String,
    pub type_oid: i32,
    /// `atttypmod`: `varchar(n)` → n + 4, `numeric(p,s)` → (p << 16 | s) + 4, else -1.
    pub typmod: i32,
    pub not_null: bool,
    /// The `DEFAULT` expression as written.
    pub default: Option<String>,
}

/// A primary key: its index and constraint, both named `<table>_pkey`.
#[derive(Debug, Clone)]
pub struct PrimaryKey {
    pub name: String,
    pub index_oid: i32,
    pub constraint_oid: i32,
    /// Column numbers (1-based), in key order.
    pub columns: Vec<i16>,
}

/// One relation.
#[derive(Debug, Clone)]
pub struct PgRelation {
    pub oid: i32,
    /// The catalog id of a user relation (`None`: a system relation).
    pub id: Option<u64>,
    pub name: String,
    pub namespace: i32,
    pub kind: RelKind,
    pub columns: Vec<PgColumn>,
    pub primary_key: Option<PrimaryKey>,
    /// A materialized view's query.
    pub query: Option<String>,
}

impl PgRelation {
    pub fn namespace_name(&self) -> &'static str {
        namespace_name(self.namespace)
    }
}

/// The name of namespace `oid` (one of [`NAMESPACES`]).
pub fn namespace_name(oid: i32) -> &'static str {
    NAMESPACES
        .iter()
        .find(|(o, _)| *o == oid)
        .map_or("", |(_, name)| name)
}

/// The OID of namespace `name`, if it is one of [`NAMESPACES`].
pub fn namespace_named(name: &str) -> Option<i32> {
    NAMESPACES
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(oid, _)| *oid)
}

/// Every namespace, with its OID.
pub const NAMESPACES: [(i32, &str); 4] = [
    (oids::PG_CATALOG, "pg_catalog"),
    (oids::PUBLIC, DEFAULT_SCHEMA),
    (oids::INFORMATION_SCHEMA, "information_schema"),
    (oids::SLUICE_CATALOG, crate::catalog::system::SYSTEM_SCHEMA),
];

/// The views among `pg_catalog`'s relations (the others are tables).
const PG_CATALOG_VIEWS: [&str; 9] = [
    "pg_matviews",
    "pg_replication_slots",
    "pg_roles",
    "pg_settings",
    "pg_stat_gssapi",
    "pg_stat_user_tables",
    "pg_tables",
    "pg_user",
    "pg_views",
];

/// Where a system relation's columns come from.
#[derive(Debug, Clone)]
pub enum Columns {
    /// Its schema provider's table.
    Provider(Arc<dyn SchemaProvider>),
    /// A schema known beforehand.
    Fixed(SchemaRef),
}

/// The system relations, by (namespace, name), numbered for their OIDs. They do not
/// change while the server runs.
#[derive(Debug)]
pub struct SystemRelations {
    /// (namespace OID, name, columns), sorted by namespace name then name.
    relations: Vec<(i32, String, Columns)>,
}

impl SystemRelations {
    /// The relations of each (namespace OID, provider), and `fixed` ones.
    pub fn new(
        schemas: Vec<(i32, Arc<dyn SchemaProvider>)>,
        fixed: Vec<(i32, String, SchemaRef)>,
    ) -> SystemRelations {
        let mut relations: Vec<_> = schemas
            .into_iter()
            .flat_map(|(namespace, provider)| {
                let names = provider.table_names();
                names
                    .into_iter()
                    .map(move |name| (namespace, name, Columns::Provider(provider.clone())))
            })
            .chain(
                fixed
                    .into_iter()
                    .map(|(namespace, name, schema)| (namespace, name, Columns::Fixed(schema))),
            )
            .collect();
        relations.sort_by(|a, b| (namespace_name(a.0), &a.1).cmp(&(namespace_name(b.0), &b.1)));
        SystemRelations { relations }
    }

    /// Whether namespace `namespace` has a system relation named `name`.
    pub fn contains(&self, namespace: i32, name: &str) -> bool {
        self.relations
            .iter()
            .any(|(n, relation, _)| *n == namespace && relation == name)
    }

    /// The namespace of the system relation `oid`, if it is one.
    pub fn namespace_of(&self, oid: i32) -> Option<i32> {
        self.name_of(oid).map(|(namespace, _)| namespace)
    }

    /// The namespace and name of the system relation `oid`, if it is one.
    pub fn name_of(&self, oid: i32) -> Option<(i32, &str)> {
        let n = usize::try_from(oid.checked_sub(oids::system_relation(0))?).ok()?;
        self.relations
            .get(n)
            .map(|(namespace, name, _)| (*namespace, name.as_str()))
    }

    /// The OID of the system relation `name` in namespace `namespace`, if there is one.
    pub fn oid_of(&self, namespace: i32, name: &str) -> Option<i32> {
        self.relations
            .iter()
            .position(|(n, relation, _)| *n == namespace && relation == name)
            .map(oids::system_relation)
    }

    /// The relations with their columns. `schema_of` answers first for the tables
    /// this module builds itself (so that describing them does not build them).
    pub async fn describe(
        &self,
        schema_of: impl Fn(i32, &str) -> Option<SchemaRef>,
    ) -> datafusion::error::Result<Vec<PgRelation>> {
        let mut out = Vec::with_capacity(self.relations.len());
        for (n, (namespace, name, columns)) in self.relations.iter().enumerate() {
            let schema = match (schema_of(*namespace, name), columns) {
                (Some(schema), _) => schema,
                (None, Columns::Fixed(schema)) => schema.clone(),
                (None, Columns::Provider(provider)) => match provider.table(name).await? {
                    Some(table) => table.schema(),
                    None => continue,
                },
            };
            let kind = if *namespace == oids::PG_CATALOG && !PG_CATALOG_VIEWS.contains(&&**name) {
                RelKind::Table
            } else {
                RelKind::View
            };
            out.push(PgRelation {
                oid: oids::system_relation(n),
                id: None,
                name: name.clone(),
                namespace: *namespace,
                kind,
                columns: columns_of(&schema, &HashMap::new(), kind),
                primary_key: None,
                query: None,
            });
        }
        Ok(out)
    }
}

/// Sluice's own relations.
pub fn user_relations(catalog: &Catalog) -> Vec<PgRelation> {
    catalog.relations().iter().map(describe).collect()
}

/// How `pg_catalog` describes `relation` (its CREATE TABLE read for declared types).
pub fn describe(relation: &Relation) -> PgRelation {
    let entry = relation.entry();
    let schema = relation.schema();
    let (kind, declared, query) = match relation {
        Relation::Table(_) => (RelKind::Table, declared_columns(&entry.definition), None),
        Relation::View(_) => (
            RelKind::MaterializedView,
            HashMap::new(),
            view_query(&entry.definition),
        ),
        Relation::Source(_) => (RelKind::ForeignTable, HashMap::new(), None),
    };
    let primary_key = match relation {
        Relation::Table(table) if !table.store().layout().primary_key.is_empty() => {
            Some(PrimaryKey {
                name: format!("{}_pkey", entry.name),
                index_oid: oids::primary_key_index(entry.id),
                constraint_oid: oids::primary_key_constraint(entry.id),
                columns: table
                    .store()
                    .layout()
                    .primary_key
                    .iter()
                    .map(|i| *i as i16 + 1)
                    .collect(),
            })
        }
        _ => None,
    };
    PgRelation {
        oid: oids::relation(entry.id),
        id: Some(entry.id),
        name: entry.name.clone(),
        namespace: oids::PUBLIC,
        kind,
        columns: columns_of(&schema, &declared, kind),
        primary_key,
        query,
    }
}

/// A column as declared in `CREATE TABLE`: its type and typmod, and its default.
#[derive(Debug, Default)]
struct Declared {
    type_and_typmod: Option<(i32, i32)>,
    default: Option<String>,
}

fn columns_of(
    schema: &SchemaRef,
    declared: &HashMap<String, Declared>,
    kind: RelKind,
) -> Vec<PgColumn> {
    schema
        .fields()
        .iter()
        .map(|field| {
            let declared = declared.get(field.name());
            let (type_oid, typmod) = declared
                .and_then(|d| d.type_and_typmod)
                .unwrap_or_else(|| (type_oid(field.data_type()), -1));
            PgColumn {
                name: field.name().clone(),
                type_oid,
                typmod,
                // A view's columns are never NOT NULL in PostgreSQL's catalog.
                not_null: !field.is_nullable() && kind != RelKind::MaterializedView,
                default: declared.and_then(|d| d.default.clone()),
            }
        })
        .collect()
}

/// The PostgreSQL type of values of `data_type`, as the wire protocol reports it.
pub fn type_oid(data_type: &DataType) -> i32 {
    let data_type = crate::sql::types::arrow_pg_type(data_type);
    arrow_pg::datatypes::into_pg_type(&data_type).map_or(Type::TEXT.oid(), |t| t.oid()) as i32
}

/// The columns' declared types and defaults, read from a `CREATE TABLE` statement
/// (empty for `CREATE TABLE AS`, whose columns have the query's types).
fn declared_columns(definition: &str) -> HashMap<String, Declared> {
    let Ok(mut statements) = Parser::parse_sql(&PostgreSqlDialect {}, definition) else {
        return HashMap::new();
    };
    let Some(Statement::CreateTable(create)) = statements.pop() else {
        return HashMap::new();
    };
    create
        .columns
        .iter()
        .map(|column| {
            let default = column.options.iter().find_map(|o| match &o.option {
                ColumnOption::Default(expr) => Some(default_text(expr, &column.data_type)),
                _ => None,
            });
            let declared = Declared {
                type_and_typmod: declared_type(&column.data_type),
                default,
            };
            (column.name.value.clone(), declared)
        })
        .collect()
}

/// A default as PostgreSQL shows it (`pg_get_expr`): a string literal with the cast to
/// the column's type that PostgreSQL stores with it (`'web'::text`), anything else as
/// written.
fn default_text(expr: &Expr, sql_type: &SqlType) -> String {
    let Expr::Value(value) = expr else {
        return expr.to_string();
    };
    if !matches!(value.value, Value::SingleQuotedString(_)) {
        return expr.to_string();
    }
    let type_name = match sql_type {
        SqlType::Varchar(_) | SqlType::CharacterVarying(_) | SqlType::CharVarying(_) => {
            "character varying".to_string()
        }
        other => match crate::sql::types::arrow_type(other) {
            Ok(DataType::Decimal128(..) | DataType::Decimal256(..)) => "numeric".to_string(),
            Ok(data_type) => crate::sql::types::sql_name(&data_type),
            Err(_) => return expr.to_string(),
        },
    };
    format!("{expr}::{type_name}")
}

/// The type and typmod of the declared types whose catalog entry the stored Arrow
/// type does not tell: `varchar(n)`, and `numeric` with or without its precision.
fn declared_type(sql: &SqlType) -> Option<(i32, i32)> {
    let varchar = Type::VARCHAR.oid() as i32;
    let numeric = Type::NUMERIC.oid() as i32;
    match sql {
        SqlType::Varchar(length)
        | SqlType::CharacterVarying(length)
        | SqlType::CharVarying(length) => Some(match length {
            Some(CharacterLength::IntegerLength { length, .. }) => {
                (varchar, i32::try_from(*length).unwrap_or(-4) + 4)
            }
            _ => (varchar, -1),
        }),
        SqlType::Numeric(info) | SqlType::Decimal(info) | SqlType::Dec(info) => {
            let typmod = |p: u64, s: u64| ((p << 16) | s) as i32 + 4;
            Some(match info {
                ExactNumberInfo::None => (numeric, -1),
                ExactNumberInfo::Precision(p) => (numeric, typmod(*p, 0)),
                ExactNumberInfo::PrecisionAndScale(p, s) => (numeric, typmod(*p, *s as u64)),
            })
        }
        _ => None,
    }
}

/// The query of a `CREATE MATERIALIZED VIEW` statement: as sqlparser prints it, or
/// for Sluice's own clauses (`EMIT ON WINDOW CLOSE`) the text after the first `AS`.
fn view_query(definition: &str) -> Option<String> {
    if let Some(Statement::CreateView(view)) = Parser::parse_sql(&PostgreSqlDialect {}, definition)
        .ok()
        .and_then(|mut statements| statements.pop())
    {
        return Some(view.query.to_string());
    }
    let upper = definition.to_ascii_uppercase();
    let at = upper.find(" AS ")?;
    Some(
        definition[at + 4..]
            .trim()
            .trim_end_matches(';')
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_types_give_postgres_typmods() {
        let columns = declared_columns(
            "CREATE TABLE t (a VARCHAR(20), b NUMERIC(10,2), c NUMERIC, d NUMERIC(5), \
             e TEXT DEFAULT 'x', f BIGINT DEFAULT 7)",
        );
        let typmod = |c: &str| columns[c].type_and_typmod;
        assert_eq!(typmod("a"), Some((1043, 24)));
        assert_eq!(typmod("b"), Some((1700, 655366)));
        assert_eq!(typmod("c"), Some((1700, -1)));
        assert_eq!(typmod("d"), Some((1700, 327684)));
        assert_eq!(typmod("e"), None);
        assert_eq!(columns["e"].default.as_deref(), Some("'x'::text"));
        assert_eq!(columns["f"].default.as_deref(), Some("7"));
    }

    #[test]
    fn a_view_query_is_cut_from_its_statement() {
        assert_eq!(
            view_query("CREATE MATERIALIZED VIEW v AS SELECT k, sum(x) AS s FROM t GROUP BY k")
                .as_deref(),
            Some("SELECT k, sum(x) AS s FROM t GROUP BY k")
        );
    }
}
