//! The functions that describe relations, answered from [`PgObjects`] as PostgreSQL
//! answers them: `pg_table_is_visible(oid)` (true for `pg_catalog` and `public`, the
//! search path), `pg_get_viewdef(oid | name [, pretty])`, `pg_get_expr(expr, relid
//! [, pretty])` (a column default as written), `pg_get_indexdef(oid [, column,
//! pretty])` and `pg_get_constraintdef(oid [, pretty])` for primary keys. An OID that
//! names nothing gives NULL, as in PostgreSQL. `pg_encoding_to_char(n)` names the
//! encoding as PostgreSQL does (`UTF8`), `pg_collation_is_visible(oid)` is true for
//! the collations in `pg_collation` (all in `pg_catalog`), `pg_function_is_visible(oid)`
//! is true (every function is in `pg_catalog` or `public`), as are
//! `pg_type_is_visible`, `pg_operator_is_visible` and `pg_conversion_is_visible` (all
//! in `pg_catalog`), `pg_tablespace_location(oid)` is empty for the two tablespaces
//! (psql's `\db`), and
//! `pg_get_function_result`/`pg_get_function_arguments` describe SQL functions
//! (`CREATE FUNCTION`; NULL for built-in ones), for psql's `\df`. `format_type` is the `pg_catalog`
//! crate's, but writes `numeric(p,0)` as PostgreSQL does, not `numeric(p)`.
//! `col_description` and `shobj_description` are NULL: Sluice has no `COMMENT ON`, so
//! no object has a description (`pg_description` is empty); `obj_description` gives
//! only PostgreSQL's descriptions of the schemas `public` and `pg_catalog`.
//! `has_table_privilege(user, table, privileges)` (and `has_any_column_privilege`:
//! there are no column privileges) answers from the roles' grants,
//! `has_schema_privilege` and `has_database_privilege` from the roles' attributes
//! (the two-argument forms are bound to the session's user before planning, see
//! `sql::backends::bind_session`).

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::objects::{PgRelation, RelKind, namespace_named};
use super::regtypes::quote_identifier;
use super::{PgObjects, oids, tables};
use crate::catalog::roles::Privilege;

/// Every function, answering from `objects`.
pub fn all(objects: Arc<PgObjects>) -> Vec<ScalarUDF> {
    let function = |name, returns, answer| {
        ScalarUDF::new_from_impl(CatalogFunction {
            name,
            returns,
            objects: objects.clone(),
            answer,
            signature: Signature::user_defined(Volatility::Stable),
        })
    };
    vec![
        function("pg_table_is_visible", DataType::Boolean, table_is_visible),
        function("pg_get_viewdef", DataType::Utf8, viewdef),
        function("pg_get_expr", DataType::Utf8, expr),
        function("pg_get_indexdef", DataType::Utf8, indexdef),
        function("pg_get_constraintdef", DataType::Utf8, constraintdef),
        function("pg_encoding_to_char", DataType::Utf8, encoding_name),
        function(
            "pg_tablespace_location",
            DataType::Utf8,
            tablespace_location,
        ),
        function(
            "pg_collation_is_visible",
            DataType::Boolean,
            collation_is_visible,
        ),
        function(
            "pg_function_is_visible",
            DataType::Boolean,
            function_is_visible,
        ),
        // Every type, operator and conversion is in `pg_catalog`: Sluice has no
        // CREATE TYPE, OPERATOR or CONVERSION.
        function("pg_type_is_visible", DataType::Boolean, function_is_visible),
        function(
            "pg_operator_is_visible",
            DataType::Boolean,
            function_is_visible,
        ),
        function(
            "pg_conversion_is_visible",
            DataType::Boolean,
            function_is_visible,
        ),
        function("pg_get_function_result", DataType::Utf8, function_result),
        function(
            "pg_get_function_arguments",
            DataType::Utf8,
            function_arguments,
        ),
        function(
            "pg_get_function_identity_arguments",
            DataType::Utf8,
            function_arguments,
        ),
        function(
            "has_table_privilege",
            DataType::Boolean,
            has_table_privilege,
        ),
        // Sluice has no column privileges: a column's are its relation's.
        function(
            "has_any_column_privilege",
            DataType::Boolean,
            has_table_privilege,
        ),
        function(
            "has_schema_privilege",
            DataType::Boolean,
            has_schema_privilege,
        ),
        function(
            "has_database_privilege",
            DataType::Boolean,
            has_database_privilege,
        ),
        function("obj_description", DataType::Utf8, object_description),
        function("col_description", DataType::Utf8, no_description),
        function("shobj_description", DataType::Utf8, no_description),
        ScalarUDF::new_from_impl(FormatType {
            inner: datafusion_pg_catalog::pg_catalog::format_type::create_format_type_udf(),
        }),
    ]
}

/// The `pg_catalog` crate's functions of one `oid`/`integer` argument, declared for
/// `int4` only: these take any integer (a literal is `int8`: `pg_get_userbyid(10)`).
pub const OID_FUNCTIONS: [&str; 4] = [
    "pg_get_userbyid",
    "pg_relation_is_publishable",
    "pg_get_statisticsobjdef_columns",
    "pg_stat_get_numscans",
];

/// One of [`OID_FUNCTIONS`], taking any integer.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct OidArgument {
    inner: Arc<ScalarUDF>,
    signature: Signature,
}

impl OidArgument {
    pub fn udf(inner: Arc<ScalarUDF>) -> ScalarUDF {
        ScalarUDF::new_from_impl(OidArgument {
            inner,
            signature: Signature::user_defined(Volatility::Stable),
        })
    }
}

impl ScalarUDFImpl for OidArgument {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [t] if t.is_integer() || t.is_null() => Ok(vec![DataType::Int32]),
            _ => Err(datafusion::error::DataFusionError::Plan(format!(
                "function {}() takes one integer argument (an OID)",
                self.name()
            ))),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(&[DataType::Int32])
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        self.inner.invoke_with_args(args)
    }
}

/// The `pg_catalog` crate's `format_type`, with the scale of `numeric(p,0)` written.
#[derive(Debug, PartialEq, Eq, Hash)]
struct FormatType {
    inner: ScalarUDF,
}

impl ScalarUDFImpl for FormatType {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let with_scale = |name: &str| match name.strip_prefix("numeric(") {
            Some(rest) if !rest.contains(',') => name.replacen(')', ",0)", 1),
            _ => name.to_string(),
        };
        Ok(match self.inner.invoke_with_args(args)? {
            ColumnarValue::Scalar(ScalarValue::Utf8(name)) => {
                ColumnarValue::Scalar(ScalarValue::Utf8(name.as_deref().map(with_scale)))
            }
            ColumnarValue::Array(names) => {
                let names = datafusion::common::cast::as_string_array(&names)?;
                let names: datafusion::arrow::array::StringArray =
                    names.iter().map(|n| n.map(with_scale)).collect();
                ColumnarValue::Array(Arc::new(names))
            }
            other => other,
        })
    }
}

/// An argument: an OID or number, a name or expression text, or a flag.
#[derive(Debug, Clone)]
enum Arg {
    Number(i64),
    Text(String),
    Other,
}

type Answer = fn(&Snapshot, &[Arg]) -> ScalarValue;

/// What one call of a catalog function reads: Sluice's relations described once (on
/// first use) for all its rows.
struct Snapshot<'a> {
    objects: &'a PgObjects,
    user: std::cell::OnceCell<Vec<PgRelation>>,
}

impl Snapshot<'_> {
    fn user_relations(&self) -> &[PgRelation] {
        self.user.get_or_init(|| self.objects.user_relations())
    }

    /// The namespace of relation `oid`, if there is one.
    fn namespace_of(&self, oid: i32) -> Option<i32> {
        self.objects.system.namespace_of(oid).or_else(|| {
            self.user_relations()
                .iter()
                .find(|r| r.oid == oid || r.primary_key.as_ref().map(|k| k.index_oid) == Some(oid))
                .map(|r| r.namespace)
        })
    }
}

/// A catalog function: row by row, each row's arguments to `answer`.
#[derive(Debug)]
struct CatalogFunction {
    name: &'static str,
    returns: DataType,
    objects: Arc<PgObjects>,
    answer: Answer,
    signature: Signature,
}

impl PartialEq for CatalogFunction {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && Arc::ptr_eq(&self.objects, &other.objects)
    }
}

impl Eq for CatalogFunction {}

impl std::hash::Hash for CatalogFunction {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for CatalogFunction {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    /// Integers of any width are OIDs or numbers (`int8` literals included), text is
    /// text; everything else keeps its type.
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let (min, max) = match self.name {
            "pg_table_is_visible"
            | "pg_encoding_to_char"
            | "pg_function_is_visible"
            | "pg_type_is_visible"
            | "pg_operator_is_visible"
            | "pg_conversion_is_visible"
            | "pg_tablespace_location"
            | "pg_get_function_result"
            | "pg_get_function_arguments"
            | "pg_get_function_identity_arguments" => (1, 1),
            "pg_get_indexdef" => (1, 3),
            "pg_get_expr" => (2, 3),
            "has_table_privilege"
            | "has_any_column_privilege"
            | "has_schema_privilege"
            | "has_database_privilege" => (3, 3),
            "obj_description" => (1, 2),
            "col_description" | "shobj_description" => (2, 2),
            _ => (1, 2),
        };
        if arg_types.len() < min || arg_types.len() > max {
            return Err(datafusion::error::DataFusionError::Plan(format!(
                "function {}({}) does not exist",
                self.name,
                arg_types.len()
            )));
        }
        Ok(arg_types
            .iter()
            .map(|t| match t {
                t if t.is_integer() => DataType::Int64,
                DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
                other => other.clone(),
            })
            .collect())
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.returns.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let snapshot = Snapshot {
            objects: &self.objects,
            user: std::cell::OnceCell::new(),
        };
        let mut answers = Vec::with_capacity(args.number_rows);
        for row in 0..args.number_rows {
            let mut row_args = Vec::with_capacity(arrays.len());
            for array in &arrays {
                let value = ScalarValue::try_from_array(array, row)?;
                if value.is_null() {
                    break;
                }
                row_args.push(match value {
                    ScalarValue::Int64(Some(n)) => Arg::Number(n),
                    ScalarValue::Utf8(Some(text)) => Arg::Text(text),
                    _ => Arg::Other,
                });
            }
            answers.push(if row_args.len() < arrays.len() {
                // PostgreSQL's functions are strict: NULL in, NULL out.
                ScalarValue::try_from(&self.returns)?
            } else {
                (self.answer)(&snapshot, &row_args)
            });
        }
        if answers.is_empty() {
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from(&self.returns)?));
        }
        Ok(ColumnarValue::Array(ScalarValue::iter_to_array(answers)?))
    }
}

fn text(answer: Option<String>) -> ScalarValue {
    ScalarValue::Utf8(answer)
}

/// The OID in the first argument.
fn oid(args: &[Arg]) -> Option<i32> {
    match args.first() {
        Some(Arg::Number(n)) => i32::try_from(*n).ok(),
        _ => None,
    }
}

fn table_is_visible(snapshot: &Snapshot, args: &[Arg]) -> ScalarValue {
    let namespace = oid(args).and_then(|oid| snapshot.namespace_of(oid));
    ScalarValue::Boolean(namespace.map(|n| n == oids::PG_CATALOG || n == oids::PUBLIC))
}

fn viewdef(snapshot: &Snapshot, args: &[Arg]) -> ScalarValue {
    let mut relations = snapshot.user_relations().iter();
    let relation = match args.first() {
        Some(Arg::Text(name)) => match crate::catalog::relation_name_from_text(name) {
            (None, name) => relations.find(|r| r.name == name),
            (Some(schema), name) => {
                relations.find(|r| r.name == name && namespace_named(&schema) == Some(r.namespace))
            }
        },
        _ => {
            let oid = oid(args);
            relations.find(|r| Some(r.oid) == oid)
        }
    };
    text(relation.and_then(tables::view_definition))
}

/// Whether user `args[0]` holds any of the privileges `args[2]` (`'SELECT'`,
/// `'select, insert'`) on relation `args[1]` (name or OID). Superusers hold every
/// privilege (a name that is no role is the built-in superuser, as at log-in); other
/// roles hold what was granted, and `SELECT` on system relations; nobody holds a
/// grant option but superusers. A relation or privilege that does not exist gives
/// NULL (PostgreSQL fails).
/// The privileges a `has_*_privilege` call asks about (`'select, INSERT WITH GRANT
/// OPTION'`): each name, upper case, and whether it asks for the grant option;
/// `None` when one is not among `known`.
fn requested(privileges: &str, known: &[&str]) -> Option<Vec<(String, bool)>> {
    privileges
        .split(',')
        .map(|privilege| {
            let words = privilege.to_uppercase();
            let mut words = words.split_whitespace();
            let name = words.next().unwrap_or_default().to_string();
            let with_grant_option = words.collect::<Vec<_>>() == ["WITH", "GRANT", "OPTION"];
            known
                .contains(&name.as_str())
                .then_some((name, with_grant_option))
        })
        .collect()
}

/// Whether `user` is a superuser (a name that is no role is the built-in one, as
/// at log-in).
fn superuser(snapshot: &Snapshot, user: &str) -> bool {
    snapshot
        .objects
        .roles
        .get(user)
        .is_none_or(|role| role.superuser)
}

/// `has_schema_privilege(user, schema, privileges)`: `USAGE` of Sluice's schemas for
/// everyone; `CREATE` for superusers only (PostgreSQL 15's `public`).
fn has_schema_privilege(snapshot: &Snapshot, args: &[Arg]) -> ScalarValue {
    let [Arg::Text(user), schema, Arg::Text(privileges)] = args else {
        return ScalarValue::Boolean(None);
    };
    let exists = match schema {
        Arg::Text(name) => namespace_named(name).is_some(),
        number => oid(std::slice::from_ref(number))
            .is_some_and(|o| super::objects::NAMESPACES.iter().any(|(n, _)| *n == o)),
    };
    let Some(wanted) = requested(privileges, &["USAGE", "CREATE"]).filter(|_| exists) else {
        return ScalarValue::Boolean(None);
    };
    let superuser = superuser(snapshot, user);
    ScalarValue::Boolean(Some(wanted.iter().any(|(privilege, with_grant_option)| {
        superuser || (privilege == "USAGE" && !with_grant_option)
    })))
}

/// `has_database_privilege(user, database, privileges)`: `CONNECT` and `TEMPORARY`
/// for everyone, `CREATE` for superusers only.
fn has_database_privilege(snapshot: &Snapshot, args: &[Arg]) -> ScalarValue {
    let [Arg::Text(user), _database, Arg::Text(privileges)] = args else {
        return ScalarValue::Boolean(None);
    };
    let known = ["CREATE", "CONNECT", "TEMPORARY", "TEMP"];
    let Some(wanted) = requested(privileges, &known) else {
        return ScalarValue::Boolean(None);
    };
    let superuser = superuser(snapshot, user);
    ScalarValue::Boolean(Some(wanted.iter().any(|(privilege, with_grant_option)| {
        superuser || (privilege != "CREATE" && !with_grant_option)
    })))
}

fn has_table_privilege(snapshot: &Snapshot, args: &[Arg]) -> ScalarValue {
    let [Arg::Text(user), table, Arg::Text(privileges)] = args else {
        return ScalarValue::Boolean(None);
    };
    let known = [
        "SELECT",
        "INSERT",
        "UPDATE",
        "DELETE",
        "TRUNCATE",
        "REFERENCES",
        "TRIGGER",
    ];
    let Some(requested) = requested(privileges, &known) else {
        return ScalarValue::Boolean(None);
    };
    // (Sluice's privilege, or None for one it never grants, and the grant option)
    let wanted: Vec<(Option<Privilege>, bool)> = requested
        .into_iter()
        .map(|(name, with_grant_option)| {
            let privilege = match name.as_str() {
                "SELECT" => Some(Privilege::Select),
                "INSERT" => Some(Privilege::Insert),
                "UPDATE" => Some(Privilege::Update),
                "DELETE" => Some(Privilege::Delete),
                _ => None,
            };
            (privilege, with_grant_option)
        })
        .collect();
    // (the relation's catalog id, or None for a system relation)
    let relation: Option<Option<u64>> = match table {
        Arg::Number(_) => {
            let oid = oid(std::slice::from_ref(table));
            match snapshot
                .user_relations()
                .iter()
                .find(|r| Some(r.oid) == oid)
            {
                Some(r) => Some(r.id),
                None => oid
                    .and_then(|o| snapshot.objects.system.namespace_of(o))
                    .map(|_| None),
            }
        }
        Arg::Text(name) => {
            let (schema, name) = crate::catalog::relation_name_from_text(name);
            let user = snapshot.user_relations().iter().find(|r| r.name == name);
            let system = &snapshot.objects.system;
            match (schema.as_deref(), user) {
                (None | Some(crate::catalog::DEFAULT_SCHEMA), Some(r)) => Some(r.id),
                // Unqualified, as the search path (public, pg_catalog) finds it.
                (None, None) => system.contains(oids::PG_CATALOG, &name).then_some(None),
                (Some(schema), _) => namespace_named(schema)
                    .filter(|n| *n != oids::PUBLIC && system.contains(*n, &name))
                    .map(|_| None),
            }
        }
        Arg::Other => None,
    };
    let Some(relation) = relation else {
        return ScalarValue::Boolean(None);
    };
    if superuser(snapshot, user) {
        return ScalarValue::Boolean(Some(true));
    }
    let holds = wanted.iter().any(|(privilege, with_grant_option)| {
        match (privilege, relation, with_grant_option) {
            (_, _, true) | (None, _, _) => false,
            (Some(p), None, false) => *p == Privilege::Select,
            (Some(p), Some(id), false) => snapshot.objects.roles.holds(user, id, *p),
        }
    });
    ScalarValue::Boolean(Some(holds))
}

fn no_description(_snapshot: &Snapshot, _args: &[Arg]) -> ScalarValue {
    text(None)
}

/// PostgreSQL's descriptions of the standard schemas (`public`, `pg_catalog`), for
/// psql's `\dn+`; nothing else has one.
fn object_description(_snapshot: &Snapshot, args: &[Arg]) -> ScalarValue {
    let schema = match args {
        [Arg::Number(oid), Arg::Text(catalog)] if catalog == "pg_namespace" => Some(*oid),
        _ => None,
    };
    text(match schema {
        Some(oid) if oid == i64::from(oids::PUBLIC) => Some("standard public schema".into()),
        Some(oid) if oid == i64::from(oids::PG_CATALOG) => Some("system catalog schema".into()),
        _ => None,
    })
}

fn expr(_snapshot: &Snapshot, args: &[Arg]) -> ScalarValue {
    // pg_attrdef.adbin holds the expression as written, not a node tree.
    text(match args.first() {
        Some(Arg::Text(expression)) => Some(expression.clone()),
        _ => None,
    })
}

/// The user relation whose primary key has index or constraint `oid`.
fn keyed_relation<'a>(snapshot: &'a Snapshot, oid: Option<i32>) -> Option<&'a PgRelation> {
    snapshot.user_relations().iter().find(|r| {
        r.primary_key
            .as_ref()
            .is_some_and(|k| Some(k.index_oid) == oid || Some(k.constraint_oid) == oid)
    })
}

fn key_columns(relation: &PgRelation) -> Vec<String> {
    let key = relation
        .primary_key
        .as_ref()
        .map_or(&[][..], |k| &k.columns);
    key.iter()
        .filter_map(|n| relation.columns.get(*n as usize - 1))
        .map(|c| quote_identifier(&c.name))
        .collect()
}

fn indexdef(snapshot: &Snapshot, args: &[Arg]) -> ScalarValue {
    let Some(relation) = keyed_relation(snapshot, oid(args)) else {
        return text(None);
    };
    let Some(key) = relation
        .primary_key
        .as_ref()
        .filter(|k| Some(k.index_oid) == oid(args) && relation.kind == RelKind::Table)
    else {
        return text(None);
    };
    let columns = key_columns(relation);
    text(match args.get(1) {
        // PostgreSQL answers '' for a column number past the key.
        Some(Arg::Number(n)) if *n > 0 => {
            Some(columns.get(*n as usize - 1).cloned().unwrap_or_default())
        }
        _ => Some(format!(
            "CREATE UNIQUE INDEX {} ON {}.{} USING btree ({})",
            quote_identifier(&key.name),
            relation.namespace_name(),
            quote_identifier(&relation.name),
            columns.join(", ")
        )),
    })
}

fn constraintdef(snapshot: &Snapshot, args: &[Arg]) -> ScalarValue {
    let relation = keyed_relation(snapshot, oid(args))
        .filter(|r| r.primary_key.as_ref().map(|k| k.constraint_oid) == oid(args));
    text(relation.map(|r| format!("PRIMARY KEY ({})", key_columns(r).join(", "))))
}

/// PostgreSQL's encodings by number (`pg_wchar.h`), as `pg_encoding_to_char` names
/// them; another number is `''`.
const ENCODINGS: [&str; 42] = [
    "SQL_ASCII",
    "EUC_JP",
    "EUC_CN",
    "EUC_KR",
    "EUC_TW",
    "EUC_JIS_2004",
    "UTF8",
    "MULE_INTERNAL",
    "LATIN1",
    "LATIN2",
    "LATIN3",
    "LATIN4",
    "LATIN5",
    "LATIN6",
    "LATIN7",
    "LATIN8",
    "LATIN9",
    "LATIN10",
    "WIN1256",
    "WIN1258",
    "WIN866",
    "WIN874",
    "KOI8R",
    "WIN1251",
    "WIN1252",
    "ISO_8859_5",
    "ISO_8859_6",
    "ISO_8859_7",
    "ISO_8859_8",
    "WIN1250",
    "WIN1253",
    "WIN1254",
    "WIN1255",
    "WIN1257",
    "KOI8U",
    "SJIS",
    "BIG5",
    "GBK",
    "UHC",
    "GB18030",
    "JOHAB",
    "SHIFT_JIS_2004",
];

/// The OIDs of the collations in the `pg_catalog` crate's `pg_collation` that are in
/// schema `pg_catalog` (all of them: it is on every search path).
static VISIBLE_COLLATIONS: std::sync::LazyLock<std::collections::HashSet<i32>> =
    std::sync::LazyLock::new(|| {
        use datafusion::arrow::array::AsArray;
        use datafusion::arrow::datatypes::Int32Type;
        let tables = match datafusion_pg_catalog::pg_catalog::PgCatalogStaticTables::try_new() {
            Ok(tables) => tables,
            Err(e) => {
                tracing::error!("pg_catalog's static tables do not load: {e}");
                return Default::default();
            }
        };
        let mut visible = std::collections::HashSet::new();
        for batch in tables.pg_collation.data() {
            let (Some(oids), Some(namespaces)) = (
                batch.column_by_name("oid"),
                batch.column_by_name("collnamespace"),
            ) else {
                continue;
            };
            let (Some(oids), Some(namespaces)) = (
                oids.as_primitive_opt::<Int32Type>(),
                namespaces.as_primitive_opt::<Int32Type>(),
            ) else {
                continue;
            };
            for (oid, namespace) in oids.iter().zip(namespaces.iter()) {
                if let (Some(oid), Some(oids::PG_CATALOG)) = (oid, namespace) {
                    visible.insert(oid);
                }
            }
        }
        visible
    });

/// `pg_collation_is_visible(oid)`: true for a collation in `pg_catalog` (every
/// collation), NULL for an OID that names none, as in PostgreSQL.
fn collation_is_visible(_snapshot: &Snapshot, args: &[Arg]) -> ScalarValue {
    let visible = match args.first() {
        Some(Arg::Number(n)) => i32::try_from(*n)
            .ok()
            .filter(|oid| VISIBLE_COLLATIONS.contains(oid))
            .map(|_| true),
        _ => None,
    };
    ScalarValue::Boolean(visible)
}

/// `pg_function_is_visible(oid)` (and `pg_type_is_visible`, `pg_operator_is_visible`,
/// `pg_conversion_is_visible`): true, as every function lives in `pg_catalog` or
/// `public` and every type, operator and conversion in `pg_catalog`, all on the search
/// path (psql's `\df`, `\dT`, `\do`, `\dc` filter by them).
fn function_is_visible(_snapshot: &Snapshot, args: &[Arg]) -> ScalarValue {
    ScalarValue::Boolean(match args.first() {
        Some(Arg::Number(_)) => Some(true),
        _ => None,
    })
}

/// The SQL function with OID `oid` (see `pg_proc`), if it is one.
fn sql_function(
    snapshot: &Snapshot,
    args: &[Arg],
) -> Option<Arc<crate::sql::sql_functions::SqlFunction>> {
    let Some(Arg::Number(oid)) = args.first() else {
        return None;
    };
    snapshot
        .objects
        .catalog
        .functions()
        .into_iter()
        .find(|f| i64::from(super::oids::function(f.entry.id)) == *oid)
        .map(|f| f.function)
}

/// `pg_get_function_result(oid)`: a SQL function's return type (NULL for the
/// built-in functions, whose signatures Sluice does not keep).
fn function_result(snapshot: &Snapshot, args: &[Arg]) -> ScalarValue {
    text(sql_function(snapshot, args).map(|f| crate::sql::sql_functions::type_name(&f.return_type)))
}

/// `pg_get_function_arguments(oid)`: a SQL function's parameters, `name type, ...`.
fn function_arguments(snapshot: &Snapshot, args: &[Arg]) -> ScalarValue {
    text(sql_function(snapshot, args).map(|f| {
        f.params
            .iter()
            .map(|p| {
                let t = crate::sql::sql_functions::type_name(&p.data_type);
                match &p.name {
                    Some(name) => format!("{name} {t}"),
                    None => t,
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }))
}

/// `pg_tablespace_location(oid)`: empty for `pg_default` and `pg_global`, the only
/// tablespaces (in the data directory, as PostgreSQL answers for them); NULL for any
/// other OID.
fn tablespace_location(_snapshot: &Snapshot, args: &[Arg]) -> ScalarValue {
    text(match args.first() {
        Some(Arg::Number(1663 | 1664)) => Some(String::new()),
        _ => None,
    })
}

fn encoding_name(_snapshot: &Snapshot, args: &[Arg]) -> ScalarValue {
    let name = match args.first() {
        Some(Arg::Number(n)) => usize::try_from(*n)
            .ok()
            .and_then(|n| ENCODINGS.get(n))
            .copied()
            .unwrap_or(""),
        _ => "",
    };
    text(Some(name.to_string()))
}
