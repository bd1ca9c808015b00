//! `regclass` as PostgreSQL has it: a relation's OID that reads and prints as the
//! relation's name.
//!
//! A `regclass` value is an `int4` OID whose Arrow field carries the extension name
//! [`EXTENSION_NAME`] (the type planner below gives every `::regclass` cast that
//! field). DataFusion keeps a field's metadata through column references and aliases
//! and drops an extension name on every cast, logical and physical alike, so the mark
//! stays exactly as long as the value is still a `regclass`:
//!
//! - `text::regclass` (`'orders'::regclass`, `'public."My T"'::regclass`, `$1::regclass`)
//!   becomes `regclassin(text)`: the OID of the relation the search path (`pg_catalog`,
//!   then `public`) or the schema named finds, the number itself for digits, and
//!   `42P01` (`3F000` for a schema) for a name that is none, as in PostgreSQL;
//! - a `regclass` cast to text (`attrelid::regclass::text`, also the casts DataFusion
//!   adds for `||`) becomes `regclassout(oid)`: the name, schema-qualified when the
//!   search path would not find it, quoted as PostgreSQL's `quote_identifier` quotes;
//!   an OID that names no relation is its number;
//! - a `regclass` column of a result is sent as its names ([`name_output`]), typed
//!   `regclass` in the RowDescription; a client asking for it in binary is refused
//!   (`0A000`), since the names replace the OIDs before encoding;
//! - comparisons and casts to integers or `oid` see the OID.
//!
//! `regclassin`/`regclassout` are PostgreSQL's names for the type's input and output
//! functions; here they take and give text.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, Int32Array, RecordBatch, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::{DFSchema, DataFusionError, Result};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::logical_expr::expr::{Cast, ScalarFunction, TryCast};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::planner::TypePlanner;
use datafusion::logical_expr::utils::merge_schema;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, LogicalPlan, ReturnFieldArgs, ScalarFunctionArgs,
    ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::optimizer::AnalyzerRule;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{
    CastKind, DataType as SqlType, Expr as SqlExpr, ObjectNamePart, Statement, Value,
    ValueWithSpan, visit_expressions_mut,
};
use datafusion_pg_catalog::pg_catalog::oid_type_planner::PgOidTypePlanner;
use futures::StreamExt;

use super::objects::{PgRelation, namespace_name, namespace_named};
use super::{PgObjects, oids};
use crate::error::{SluiceError, sqlstate};
use crate::sql::column_origins::TYPE_OID;

/// The Arrow extension name that marks a field's `int4` values as `regclass`.
pub const EXTENSION_NAME: &str = "sluice.regclass";
/// Arrow's metadata key for an extension type's name (cast drops it).
const EXTENSION_KEY: &str = "ARROW:extension:name";
/// PostgreSQL's OID of type `regclass`.
pub const REGCLASS_OID: u32 = 2205;

/// Whether `field` holds `regclass` values.
pub fn is_regclass(field: &Field) -> bool {
    field
        .metadata()
        .get(EXTENSION_KEY)
        .is_some_and(|name| name == EXTENSION_NAME)
}

/// A `regclass` field (nameless, as a cast's target).
fn regclass_field(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Int32, nullable).with_metadata(HashMap::from([(
        EXTENSION_KEY.to_string(),
        EXTENSION_NAME.to_string(),
    )]))
}

/// Registers the type planner, `regclassin`, `regclassout` and the analyzer rule.
pub fn install(context: &SessionContext, objects: Arc<PgObjects>) {
    let output = Arc::new(ScalarUDF::new_from_impl(RegclassOut {
        objects: objects.clone(),
        signature: Signature::user_defined(Volatility::Stable),
    }));
    let input = Arc::new(ScalarUDF::new_from_impl(RegclassIn {
        objects,
        signature: Signature::user_defined(Volatility::Stable),
    }));
    context.register_udf(output.as_ref().clone());
    context.register_udf(input.as_ref().clone());
    context.add_analyzer_rule(Arc::new(RegclassCasts { output, input }));
    let state = context.state_ref();
    let existing = state.read().clone();
    let with_planner = datafusion::execution::SessionStateBuilder::new_from_existing(existing)
        .with_type_planner(Arc::new(RegclassTypePlanner))
        .build();
    *state.write() = with_planner;
}

/// The `pg_catalog` crate's type planner, but `regclass` is a marked `int4`.
#[derive(Debug)]
struct RegclassTypePlanner;

impl TypePlanner for RegclassTypePlanner {
    fn plan_type_field(&self, sql_type: &SqlType) -> Result<Option<FieldRef>> {
        if is_regclass_type(sql_type) {
            return Ok(Some(Arc::new(regclass_field("", true))));
        }
        PgOidTypePlanner.plan_type_field(sql_type)
    }
}

/// Whether `sql_type` is `regclass` or `pg_catalog.regclass`.
pub fn is_regclass_type(sql_type: &SqlType) -> bool {
    match sql_type {
        SqlType::Regclass => true,
        SqlType::Custom(name, modifiers) if modifiers.is_empty() => {
            let parts: Vec<String> = name
                .0
                .iter()
                .map(|part| match part {
                    ObjectNamePart::Identifier(ident) => ident.value.to_ascii_lowercase(),
                    other => other.to_string(),
                })
                .collect();
            matches!(
                parts
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .as_slice(),
                ["regclass"] | ["pg_catalog", "regclass"]
            )
        }
        _ => false,
    }
}

/// Hides a string literal or parameter cast to `regclass` from the `pg_catalog`
/// crate's `RewriteRegCastToSubquery` (a subquery without the mark, NULL for a name
/// that is none): `'orders'::regclass` becomes `('orders')::regclass` and
/// `$1::regclass` `CAST($1 AS TEXT)::regclass` (a parameter's type is read from the
/// inner cast), which [`RegclassCasts`] makes `regclassin(...)`. Runs before that
/// rule.
#[derive(Debug)]
pub struct TextOperands;

impl datafusion_pg_catalog::sql::rules::SqlStatementRewriteRule for TextOperands {
    fn rewrite(&self, mut statement: Statement) -> Statement {
        let _ = visit_expressions_mut(&mut statement, |expr| {
            if let SqlExpr::Cast {
                expr: operand,
                data_type,
                ..
            } = expr
                && is_regclass_type(data_type)
                && let SqlExpr::Value(ValueWithSpan { value, .. }) = operand.as_ref()
            {
                let hidden = match value {
                    // Nested, the column keeps PostgreSQL's name (`regclass`).
                    Value::SingleQuotedString(_) => Some(SqlExpr::Nested(operand.clone())),
                    Value::Placeholder(_) => Some(SqlExpr::Cast {
                        kind: CastKind::Cast,
                        expr: operand.clone(),
                        data_type: SqlType::Text,
                        array: false,
                        format: None,
                    }),
                    _ => None,
                };
                if let Some(hidden) = hidden {
                    **operand = hidden;
                }
            }
            std::ops::ControlFlow::<()>::Continue(())
        });
        statement
    }
}

/// The names and OIDs of every relation, read once for a batch of values.
struct Names<'a> {
    objects: &'a PgObjects,
    user: Vec<PgRelation>,
}

impl<'a> Names<'a> {
    fn new(objects: &'a PgObjects) -> Self {
        Names {
            objects,
            user: objects.user_relations(),
        }
    }

    /// The namespace and name of relation `oid` (a primary key's index included).
    fn relation(&self, oid: i32) -> Option<(i32, &str)> {
        self.objects.system.name_of(oid).or_else(|| {
            self.user.iter().find_map(|r| {
                if r.oid == oid {
                    return Some((r.namespace, r.name.as_str()));
                }
                r.primary_key
                    .as_ref()
                    .filter(|k| k.index_oid == oid)
                    .map(|k| (r.namespace, k.name.as_str()))
            })
        })
    }

    /// The OID of relation `name` in `namespace`.
    fn oid_in(&self, namespace: i32, name: &str) -> Option<i32> {
        self.objects.system.oid_of(namespace, name).or_else(|| {
            self.user
                .iter()
                .filter(|r| r.namespace == namespace)
                .find_map(|r| {
                    if r.name == name {
                        return Some(r.oid);
                    }
                    r.primary_key
                        .as_ref()
                        .filter(|k| k.name == name)
                        .map(|k| k.index_oid)
                })
        })
    }

    /// `oid` as `regclass` prints it: the name, qualified unless the search path
    /// finds this relation by it; an OID that names nothing as its number.
    fn text(&self, oid: i32) -> String {
        match self.relation(oid) {
            Some((namespace, name)) => {
                if self.search(name) == Some(oid) {
                    quote_identifier(name)
                } else {
                    format!(
                        "{}.{}",
                        quote_identifier(namespace_name(namespace)),
                        quote_identifier(name)
                    )
                }
            }
            // OIDs are unsigned in PostgreSQL.
            None => (oid as u32).to_string(),
        }
    }

    /// The relation an unqualified `name` means: `pg_catalog`'s, then `public`'s
    /// (PostgreSQL searches `pg_catalog` first when the path does not name it).
    fn search(&self, name: &str) -> Option<i32> {
        [oids::PG_CATALOG, oids::PUBLIC]
            .iter()
            .find_map(|namespace| self.oid_in(*namespace, name))
    }

    /// The OID `text` names, as `regclassin` reads it.
    fn oid(&self, text: &str) -> std::result::Result<i32, SluiceError> {
        let trimmed = text.trim();
        if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
            return trimmed.parse::<u32>().map(|oid| oid as i32).map_err(|_| {
                SluiceError::coded(
                    sqlstate::NUMERIC_VALUE_OUT_OF_RANGE,
                    format!("value \"{trimmed}\" is out of range for type oid"),
                )
            });
        }
        let (schema, name) = crate::catalog::relation_name_from_text(trimmed);
        match schema {
            None => self.search(&name).ok_or(SluiceError::UndefinedTable(name)),
            Some(schema) => {
                let namespace = namespace_named(&schema).ok_or_else(|| {
                    SluiceError::coded(
                        sqlstate::INVALID_SCHEMA_NAME,
                        format!("schema \"{schema}\" does not exist"),
                    )
                })?;
                self.oid_in(namespace, &name)
                    .ok_or_else(|| SluiceError::UndefinedTable(format!("{schema}.{name}")))
            }
        }
    }
}

/// PostgreSQL's keywords that an identifier must be quoted to be (every category
/// but unreserved: `SELECT word FROM pg_get_keywords() WHERE catcode <> 'U'`, 15).
const QUOTED_KEYWORDS: [&str; 151] = [
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "between",
    "bigint",
    "binary",
    "bit",
    "boolean",
    "both",
    "case",
    "cast",
    "char",
    "character",
    "check",
    "coalesce",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "dec",
    "decimal",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "exists",
    "extract",
    "false",
    "fetch",
    "float",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "greatest",
    "group",
    "grouping",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "inout",
    "int",
    "integer",
    "intersect",
    "interval",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "least",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "national",
    "natural",
    "nchar",
    "none",
    "normalize",
    "not",
    "notnull",
    "null",
    "nullif",
    "numeric",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "out",
    "outer",
    "overlaps",
    "overlay",
    "placing",
    "position",
    "precision",
    "primary",
    "real",
    "references",
    "returning",
    "right",
    "row",
    "select",
    "session_user",
    "setof",
    "similar",
    "smallint",
    "some",
    "substring",
    "symmetric",
    "table",
    "tablesample",
    "then",
    "time",
    "timestamp",
    "to",
    "trailing",
    "treat",
    "trim",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "values",
    "varchar",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
    "xmlattributes",
    "xmlconcat",
    "xmlelement",
    "xmlexists",
    "xmlforest",
    "xmlnamespaces",
    "xmlparse",
    "xmlpi",
    "xmlroot",
    "xmlserialize",
    "xmltable",
];

/// `name` as PostgreSQL's `quote_identifier` writes it: bare when it is a lower-case
/// identifier that is no keyword needing quotes, else in double quotes.
pub fn quote_identifier(name: &str) -> String {
    let bare = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && QUOTED_KEYWORDS.binary_search(&name).is_err();
    if bare {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// `regclassout(oid)`: the text of each OID ([`Names::text`]).
#[derive(Debug)]
struct RegclassOut {
    objects: Arc<PgObjects>,
    signature: Signature,
}

impl RegclassOut {
    fn names(&self, oids: &ArrayRef) -> Result<StringArray> {
        let oids = cast(oids, &DataType::Int32)?;
        let oids = oids.as_primitive::<datafusion::arrow::datatypes::Int32Type>();
        let names = Names::new(&self.objects);
        Ok(oids.iter().map(|oid| oid.map(|o| names.text(o))).collect())
    }
}

impl PartialEq for RegclassOut {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.objects, &other.objects)
    }
}

impl Eq for RegclassOut {}

impl std::hash::Hash for RegclassOut {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        "regclassout".hash(state);
    }
}

impl ScalarUDFImpl for RegclassOut {
    fn name(&self) -> &str {
        "regclassout"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [t] if t.is_integer() || t.is_null() => Ok(vec![DataType::Int32]),
            _ => Err(DataFusionError::Plan(
                "function regclassout() takes one OID".to_string(),
            )),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [oids] = arrays.as_slice() else {
            return Err(DataFusionError::Plan(
                "function regclassout() takes one OID".to_string(),
            ));
        };
        Ok(ColumnarValue::Array(Arc::new(self.names(oids)?)))
    }
}

/// `regclassin(text)`: the OID each name means ([`Names::oid`]), as `regclass`.
#[derive(Debug)]
struct RegclassIn {
    objects: Arc<PgObjects>,
    signature: Signature,
}

impl PartialEq for RegclassIn {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.objects, &other.objects)
    }
}

impl Eq for RegclassIn {}

impl std::hash::Hash for RegclassIn {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        "regclassin".hash(state);
    }
}

impl ScalarUDFImpl for RegclassIn {
    fn name(&self) -> &str {
        "regclassin"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [t] if is_text(t) || t.is_null() => Ok(vec![DataType::Utf8]),
            _ => Err(DataFusionError::Plan(
                "function regclassin() takes one text argument".to_string(),
            )),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int32)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let nullable = args.arg_fields.iter().any(|f| f.is_nullable());
        Ok(Arc::new(regclass_field(self.name(), nullable)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [texts] = arrays.as_slice() else {
            return Err(DataFusionError::Plan(
                "function regclassin() takes one text argument".to_string(),
            ));
        };
        let texts = cast(texts, &DataType::Utf8)?;
        let names = Names::new(&self.objects);
        let oids = texts
            .as_string::<i32>()
            .iter()
            .map(|text| text.map(|t| names.oid(t)).transpose())
            .collect::<std::result::Result<Int32Array, SluiceError>>()
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        Ok(ColumnarValue::Array(Arc::new(oids)))
    }
}

fn is_text(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    )
}

/// Turns casts between text and `regclass` into `regclassin`/`regclassout`, after
/// type coercion (so the casts DataFusion adds, as for `||`, are among them).
#[derive(Debug)]
struct RegclassCasts {
    output: Arc<ScalarUDF>,
    input: Arc<ScalarUDF>,
}

impl AnalyzerRule for RegclassCasts {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_expressions(plan, |expr, schema| self.rewrite_expr(expr, schema))
    }

    fn name(&self) -> &str {
        "regclass_casts"
    }
}

/// `plan` (its subqueries included) with every expression rewritten bottom-up by
/// `rewrite`, which sees the schema of the expression's plan node's inputs; output
/// names are kept and each changed node's schema recomputed. The analyzer rules over
/// casts ([`RegclassCasts`], [`super::cast_types`]) walk plans so.
pub(super) fn rewrite_expressions(
    plan: LogicalPlan,
    rewrite: impl Fn(Expr, &DFSchema) -> Result<Transformed<Expr>>,
) -> Result<LogicalPlan> {
    plan.transform_up_with_subqueries(|plan| {
        let schema = merge_schema(&plan.inputs());
        let preserver = NamePreserver::new(&plan);
        let rewritten = plan.map_expressions(|expr| {
            let name = preserver.save(&expr);
            expr.transform_up(|e| rewrite(e, &schema))
                .map(|t| t.update_data(|e| name.restore(e)))
        })?;
        if rewritten.transformed {
            rewritten.map_data(|plan| plan.recompute_schema())
        } else {
            Ok(rewritten)
        }
    })
    .data()
}

impl RegclassCasts {
    fn rewrite_expr(&self, expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
        let (operand, target) = match &expr {
            Expr::Cast(Cast { expr, field }) | Expr::TryCast(TryCast { expr, field }) => {
                (expr.as_ref(), field)
            }
            _ => return Ok(Transformed::no(expr)),
        };
        let to_text = is_text(target.data_type()) && !is_regclass(target);
        if !to_text && !is_regclass(target) {
            return Ok(Transformed::no(expr));
        }
        // An operand whose type cannot be read here is left to DataFusion (it is
        // no regclass: every regclass is a cast or function this rule has seen).
        let Ok((_, source)) = operand.to_field(schema) else {
            return Ok(Transformed::no(expr));
        };
        let call = |udf: &Arc<ScalarUDF>| {
            Expr::ScalarFunction(ScalarFunction::new_udf(udf.clone(), vec![operand.clone()]))
        };
        if to_text && is_regclass(&source) {
            let names = call(&self.output);
            return Ok(Transformed::yes(match target.data_type() {
                DataType::Utf8 => names,
                other => names.cast_to(other, schema)?,
            }));
        }
        if is_regclass(target) && is_text(source.data_type()) {
            return Ok(Transformed::yes(call(&self.input)));
        }
        Ok(Transformed::no(expr))
    }
}

/// `stream` with each `regclass` column sent as its names (typed `regclass` in the
/// RowDescription through [`TYPE_OID`]); `stream` itself when it has none.
pub fn name_output(
    context: &SessionContext,
    stream: SendableRecordBatchStream,
) -> Result<SendableRecordBatchStream> {
    let schema = stream.schema();
    let columns: Vec<usize> = (0..schema.fields().len())
        .filter(|i| is_regclass(schema.field(*i)))
        .collect();
    if columns.is_empty() {
        return Ok(stream);
    }
    let udf = datafusion::execution::FunctionRegistry::udf(context, "regclassout")?;
    let Some(output) = udf.inner().downcast_ref::<RegclassOut>() else {
        return Err(DataFusionError::Internal(
            "regclassout is not Sluice's".to_string(),
        ));
    };
    let objects = output.objects.clone();
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, field)| {
            if columns.contains(&i) {
                Field::new(field.name(), DataType::Utf8, field.is_nullable()).with_metadata(
                    HashMap::from([(TYPE_OID.to_string(), REGCLASS_OID.to_string())]),
                )
            } else {
                field.as_ref().clone()
            }
        })
        .collect();
    let named = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    let out_schema = named.clone();
    let batches = stream.map(move |batch| {
        let batch = batch?;
        let output = RegclassOut {
            objects: objects.clone(),
            signature: Signature::user_defined(Volatility::Stable),
        };
        let arrays = batch
            .columns()
            .iter()
            .enumerate()
            .map(|(i, array)| {
                if columns.contains(&i) {
                    Ok(Arc::new(output.names(array)?) as ArrayRef)
                } else {
                    Ok(array.clone())
                }
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(RecordBatch::try_new(named.clone(), arrays)?)
    });
    Ok(Box::pin(RecordBatchStreamAdapter::new(out_schema, batches)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_as_postgres_quotes_them() {
        assert_eq!(quote_identifier("orders"), "orders");
        assert_eq!(quote_identifier("_t1"), "_t1");
        assert_eq!(quote_identifier("My T"), "\"My T\"");
        assert_eq!(quote_identifier("1t"), "\"1t\"");
        assert_eq!(quote_identifier("user"), "\"user\"");
        assert_eq!(quote_identifier("order"), "\"order\"");
        assert_eq!(quote_identifier("a\"b"), "\"a\"\"b\"");
        // Unreserved keywords stay bare, as in PostgreSQL.
        assert_eq!(quote_identifier("source"), "source");
    }

    #[test]
    fn the_keyword_list_is_sorted_for_binary_search() {
        assert!(QUOTED_KEYWORDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn regclass_types_are_recognized_qualified_or_not() {
        use datafusion::sql::sqlparser::ast::{Ident, ObjectName};
        let custom = |parts: &[&str]| {
            SqlType::Custom(
                ObjectName(
                    parts
                        .iter()
                        .map(|p| ObjectNamePart::Identifier(Ident::new(*p)))
                        .collect(),
                ),
                vec![],
            )
        };
        assert!(is_regclass_type(&SqlType::Regclass));
        assert!(is_regclass_type(&custom(&["pg_catalog", "regclass"])));
        assert!(is_regclass_type(&custom(&["REGCLASS"])));
        assert!(!is_regclass_type(&custom(&["regtype"])));
        assert!(!is_regclass_type(&SqlType::Text));
    }

    #[test]
    fn regclass_fields_are_marked() {
        let field = regclass_field("r", true);
        assert!(is_regclass(&field));
        assert!(!is_regclass(&Field::new("r", DataType::Int32, true)));
    }
}
