//! PostgreSQL's reg* types Sluice has: `regclass`, `regnamespace` and `regtype`,
//! OIDs that read and print as the names of a relation ([`relations`]), a schema
//! ([`namespaces`]) and a type ([`types`]).
//!
//! A value of one of them is an `int4` OID whose Arrow field carries the type's
//! extension name ([`RegType::of_field`]; the type planner below gives every
//! `::regclass`, `::regnamespace` and `::regtype` cast that field). DataFusion keeps a
//! field's metadata through column references and aliases and drops an extension
//! name on every cast, logical and physical alike, so the mark stays exactly as long
//! as the value is still of the type:
//!
//! - text cast to the type (`'orders'::regclass`, `'pg_catalog'::regnamespace`,
//!   `'integer'::regtype`, `$1::regtype`) becomes its input function
//!   (`regclassin(text)`, `regnamespacein`, `regtypein`): `-` is 0, digits are the OID
//!   itself, a name the OID it means as PostgreSQL reads it (the search path being
//!   `pg_catalog`, then `public`), with PostgreSQL's errors for a name that is none
//!   (`42P01`, `3F000`, `42704`);
//! - a value cast to text (`attrelid::regclass::text`, `atttypid::regtype::text`, also
//!   the casts DataFusion adds for `||`) becomes its output function (`regclassout(oid)`,
//!   `regnamespaceout`, `regtypeout`): the name as PostgreSQL prints it, 0 as `-`, an
//!   OID that names nothing as its number;
//! - a column of one of these types in a result is sent as its names
//!   ([`name_output`]), typed as the reg* type in the RowDescription; a client asking
//!   for it in binary is refused (`0A000`), since the names replace the OIDs before
//!   encoding;
//! - comparisons and casts to integers or `oid` see the OID.
//!
//! The input and output functions have PostgreSQL's names; here they take and give
//! text.

mod identifiers;
mod namespaces;
mod relations;
mod types;

pub use identifiers::quote_identifier;
pub use relations::Names as RelationNames;

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

use super::PgObjects;
use crate::error::{SluiceError, sqlstate};
use crate::sql::column_origins::TYPE_OID;

/// Arrow's metadata key for an extension type's name (cast drops it).
const EXTENSION_KEY: &str = "ARROW:extension:name";

/// One of the reg* types Sluice has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegType {
    /// `regclass`: a relation.
    Class,
    /// `regnamespace`: a schema.
    Namespace,
    /// `regtype`: a type.
    Type,
}

impl RegType {
    pub const ALL: [RegType; 3] = [RegType::Class, RegType::Namespace, RegType::Type];

    /// PostgreSQL's name of the type.
    pub fn name(self) -> &'static str {
        match self {
            RegType::Class => "regclass",
            RegType::Namespace => "regnamespace",
            RegType::Type => "regtype",
        }
    }

    /// PostgreSQL's OID of the type.
    pub fn oid(self) -> u32 {
        match self {
            RegType::Class => 2205,
            RegType::Namespace => 4089,
            RegType::Type => 2206,
        }
    }

    /// The Arrow extension name that marks a field's `int4` values as the type.
    fn extension_name(self) -> &'static str {
        match self {
            RegType::Class => "sluice.regclass",
            RegType::Namespace => "sluice.regnamespace",
            RegType::Type => "sluice.regtype",
        }
    }

    fn input_function(self) -> &'static str {
        match self {
            RegType::Class => "regclassin",
            RegType::Namespace => "regnamespacein",
            RegType::Type => "regtypein",
        }
    }

    /// The function that reads a name as the input function does, but answers NULL
    /// for a name that names nothing (`to_regclass`, ...).
    fn lookup_function(self) -> &'static str {
        match self {
            RegType::Class => "to_regclass",
            RegType::Namespace => "to_regnamespace",
            RegType::Type => "to_regtype",
        }
    }

    fn output_function(self) -> &'static str {
        match self {
            RegType::Class => "regclassout",
            RegType::Namespace => "regnamespaceout",
            RegType::Type => "regtypeout",
        }
    }

    /// The type `field`'s values are of, if one of these.
    pub fn of_field(field: &Field) -> Option<RegType> {
        let name = field.metadata().get(EXTENSION_KEY)?;
        RegType::ALL
            .into_iter()
            .find(|kind| kind.extension_name() == name)
    }

    /// The type `sql_type` names (`regtype`, `pg_catalog.regtype`, ...), if one of
    /// these.
    pub fn of_sql_type(sql_type: &SqlType) -> Option<RegType> {
        match sql_type {
            SqlType::Regclass => Some(RegType::Class),
            SqlType::Custom(name, modifiers) if modifiers.is_empty() => {
                let parts: Vec<String> = name
                    .0
                    .iter()
                    .map(|part| match part {
                        ObjectNamePart::Identifier(ident) => ident.value.to_ascii_lowercase(),
                        other => other.to_string(),
                    })
                    .collect();
                let name = match parts.as_slice() {
                    [name] => name,
                    [schema, name] if schema == "pg_catalog" => name,
                    _ => return None,
                };
                RegType::ALL.into_iter().find(|kind| kind.name() == name)
            }
            _ => None,
        }
    }

    /// A field of this type (nameless, as a cast's target).
    pub fn field(self, name: &str, nullable: bool) -> Field {
        Field::new(name, DataType::Int32, nullable).with_metadata(HashMap::from([(
            EXTENSION_KEY.to_string(),
            self.extension_name().to_string(),
        )]))
    }
}

/// Registers the type planner, the input and output functions and the analyzer rule.
pub fn install(context: &SessionContext, objects: Arc<PgObjects>) {
    let functions = RegType::ALL
        .into_iter()
        .map(|kind| {
            let input = Arc::new(ScalarUDF::new_from_impl(RegIn {
                kind,
                objects: objects.clone(),
                signature: Signature::user_defined(Volatility::Stable),
                lookup: false,
            }));
            context.register_udf(ScalarUDF::new_from_impl(RegIn {
                kind,
                objects: objects.clone(),
                signature: Signature::user_defined(Volatility::Stable),
                lookup: true,
            }));
            let output = Arc::new(ScalarUDF::new_from_impl(RegOut {
                kind,
                objects: objects.clone(),
                signature: Signature::user_defined(Volatility::Stable),
            }));
            context.register_udf(input.as_ref().clone());
            context.register_udf(output.as_ref().clone());
            (kind, input, output)
        })
        .collect();
    context.add_analyzer_rule(Arc::new(RegCasts { functions }));
    let state = context.state_ref();
    let existing = state.read().clone();
    let with_planner = datafusion::execution::SessionStateBuilder::new_from_existing(existing)
        .with_type_planner(Arc::new(RegTypePlanner))
        .build();
    *state.write() = with_planner;
}

/// The `pg_catalog` crate's type planner, but the reg* types here are marked `int4`s.
#[derive(Debug)]
struct RegTypePlanner;

impl TypePlanner for RegTypePlanner {
    fn plan_type_field(&self, sql_type: &SqlType) -> Result<Option<FieldRef>> {
        if let Some(kind) = RegType::of_sql_type(sql_type) {
            return Ok(Some(Arc::new(kind.field("", true))));
        }
        // `NUMERIC` in a cast is the type a column of that name holds (DataFusion's
        // unconstrained one is 38 digits).
        if let SqlType::Numeric(_) | SqlType::Decimal(_) | SqlType::Dec(_) = sql_type {
            let data_type = crate::sql::types::arrow_type(sql_type)
                .map_err(|e| DataFusionError::External(Box::new(e)))?;
            return Ok(Some(Arc::new(Field::new("", data_type, true))));
        }
        PgOidTypePlanner.plan_type_field(sql_type)
    }
}

/// Hides a string literal or parameter cast to a reg* type here from the
/// `pg_catalog` crate's `RewriteRegCastToSubquery` (a subquery without the mark, NULL
/// for a name that is none): `'orders'::regclass` becomes `('orders')::regclass` and
/// `$1::regtype` `CAST($1 AS TEXT)::regtype` (a parameter's type is read from the
/// inner cast), which [`RegCasts`] makes the input function. Runs before that rule.
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
                && RegType::of_sql_type(data_type).is_some()
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

/// What names one type's values, read once for a batch of them.
enum Resolver<'a> {
    Class(relations::Names<'a>),
    Namespace,
    Type(&'a PgObjects),
}

impl<'a> Resolver<'a> {
    fn new(kind: RegType, objects: &'a PgObjects) -> Self {
        match kind {
            RegType::Class => Resolver::Class(relations::Names::new(objects)),
            RegType::Namespace => Resolver::Namespace,
            RegType::Type => Resolver::Type(objects),
        }
    }

    /// `oid` as the type prints it: 0 as `-`, an OID that names nothing as its
    /// number (OIDs are unsigned in PostgreSQL).
    fn text(&self, oid: i32) -> String {
        if oid == 0 {
            return "-".to_string();
        }
        let name = match self {
            Resolver::Class(names) => names.name(oid),
            Resolver::Namespace => namespaces::name(oid),
            Resolver::Type(_) => types::TYPES.name(oid),
        };
        name.unwrap_or_else(|| (oid as u32).to_string())
    }

    /// The OID `text` means, as the type's input function reads it: `-` is 0 and
    /// digits (only digits) are the OID itself.
    fn oid(&self, text: &str) -> std::result::Result<i32, SluiceError> {
        if text == "-" {
            return Ok(0);
        }
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            return text.parse::<u32>().map(|oid| oid as i32).map_err(|_| {
                SluiceError::coded(
                    sqlstate::NUMERIC_VALUE_OUT_OF_RANGE,
                    format!("value \"{text}\" is out of range for type oid"),
                )
            });
        }
        match self {
            Resolver::Class(names) => names.oid(text),
            Resolver::Namespace => namespaces::oid(text),
            Resolver::Type(objects) => types::TYPES.oid(objects, text),
        }
    }
}

/// A type's output function (`regclassout(oid)`, ...): the text of each OID
/// ([`Resolver::text`]).
#[derive(Debug)]
struct RegOut {
    kind: RegType,
    objects: Arc<PgObjects>,
    signature: Signature,
}

impl RegOut {
    fn names(&self, oids: &ArrayRef) -> Result<StringArray> {
        let oids = cast(oids, &DataType::Int32)?;
        let oids = oids.as_primitive::<datafusion::arrow::datatypes::Int32Type>();
        let resolver = Resolver::new(self.kind, &self.objects);
        Ok(oids
            .iter()
            .map(|oid| oid.map(|o| resolver.text(o)))
            .collect())
    }
}

impl PartialEq for RegOut {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && Arc::ptr_eq(&self.objects, &other.objects)
    }
}

impl Eq for RegOut {}

impl std::hash::Hash for RegOut {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.kind.output_function().hash(state);
    }
}

impl ScalarUDFImpl for RegOut {
    fn name(&self) -> &str {
        self.kind.output_function()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [t] if t.is_integer() || t.is_null() => Ok(vec![DataType::Int32]),
            _ => Err(DataFusionError::Plan(format!(
                "function {}() takes one OID",
                self.name()
            ))),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [oids] = arrays.as_slice() else {
            return Err(DataFusionError::Plan(format!(
                "function {}() takes one OID",
                self.name()
            )));
        };
        Ok(ColumnarValue::Array(Arc::new(self.names(oids)?)))
    }
}

/// A type's input function (`regclassin(text)`, ...): the OID each name means
/// ([`Resolver::oid`]), of the type; or its lookup function (`to_regclass(text)`,
/// ...), which answers NULL for a name that names nothing and reads digits as a
/// name, as PostgreSQL 15 does.
#[derive(Debug)]
struct RegIn {
    kind: RegType,
    objects: Arc<PgObjects>,
    signature: Signature,
    lookup: bool,
}

impl RegIn {
    fn oid(
        &self,
        resolver: &Resolver<'_>,
        text: &str,
    ) -> std::result::Result<Option<i32>, SluiceError> {
        if !self.lookup {
            return resolver.oid(text).map(Some);
        }
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            // A name, not an OID: no relation or schema has it; no type name is one.
            return match self.kind {
                RegType::Type => Err(SluiceError::coded(
                    sqlstate::SYNTAX_ERROR,
                    format!("syntax error at or near \"{text}\""),
                )),
                RegType::Class | RegType::Namespace => Ok(None),
            };
        }
        match resolver.oid(text) {
            Ok(oid) => Ok(Some(oid)),
            Err(e) if NOT_FOUND.contains(&e.sqlstate()) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// What the input functions say when a name names nothing: undefined object (a
/// type), undefined table, invalid schema name.
const NOT_FOUND: [&str; 3] = [
    sqlstate::UNDEFINED_OBJECT,
    sqlstate::UNDEFINED_TABLE,
    sqlstate::INVALID_SCHEMA_NAME,
];

impl PartialEq for RegIn {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
            && self.lookup == other.lookup
            && Arc::ptr_eq(&self.objects, &other.objects)
    }
}

impl Eq for RegIn {}

impl std::hash::Hash for RegIn {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name().hash(state);
    }
}

impl ScalarUDFImpl for RegIn {
    fn name(&self) -> &str {
        if self.lookup {
            self.kind.lookup_function()
        } else {
            self.kind.input_function()
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [t] if is_text(t) || t.is_null() => Ok(vec![DataType::Utf8]),
            _ => Err(DataFusionError::Plan(format!(
                "function {}() takes one text argument",
                self.name()
            ))),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int32)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let nullable = args.arg_fields.iter().any(|f| f.is_nullable());
        Ok(Arc::new(self.kind.field(self.name(), nullable)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [texts] = arrays.as_slice() else {
            return Err(DataFusionError::Plan(format!(
                "function {}() takes one text argument",
                self.name()
            )));
        };
        let texts = cast(texts, &DataType::Utf8)?;
        let resolver = Resolver::new(self.kind, &self.objects);
        let oids = texts
            .as_string::<i32>()
            .iter()
            .map(|text| Ok(text.map(|t| self.oid(&resolver, t)).transpose()?.flatten()))
            .collect::<std::result::Result<Int32Array, SluiceError>>()
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        Ok(ColumnarValue::Array(Arc::new(oids)))
    }
}

/// Whether values of `data_type` are text (`text`, `varchar`: any of Arrow's strings).
pub fn is_text(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    )
}

/// Turns casts between text and the reg* types into their input and output
/// functions, after type coercion (so the casts DataFusion adds, as for `||`, are
/// among them).
#[derive(Debug)]
struct RegCasts {
    /// Each type's input and output functions.
    functions: Vec<(RegType, Arc<ScalarUDF>, Arc<ScalarUDF>)>,
}

impl AnalyzerRule for RegCasts {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_expressions(plan, |expr, schema| self.rewrite_expr(expr, schema))
    }

    fn name(&self) -> &str {
        "reg_type_casts"
    }
}

/// An analyzer rule that rewrites every expression of a plan with `rewrite`
/// ([`rewrite_expressions`]).
#[derive(Debug)]
pub(crate) struct ExpressionRule {
    /// The rule's name (`EXPLAIN VERBOSE`).
    pub name: &'static str,
    /// One expression, its children already rewritten, over its inputs' schema.
    pub rewrite: fn(Expr, &DFSchema) -> Result<Transformed<Expr>>,
}

impl AnalyzerRule for ExpressionRule {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_expressions(plan, self.rewrite)
    }

    fn name(&self) -> &str {
        self.name
    }
}

/// `plan` (its subqueries included) with every expression rewritten bottom-up by
/// `rewrite`, which sees the schema of the expression's plan node's inputs; output
/// names are kept and each changed node's schema recomputed. The analyzer rules over
/// casts ([`RegCasts`], [`super::cast_types`]) walk plans so.
pub(crate) fn rewrite_expressions(
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

impl RegCasts {
    fn rewrite_expr(&self, expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
        let (operand, target) = match &expr {
            Expr::Cast(Cast { expr, field }) | Expr::TryCast(TryCast { expr, field }) => {
                (expr.as_ref(), field)
            }
            _ => return Ok(Transformed::no(expr)),
        };
        let target_kind = RegType::of_field(target);
        let to_text = is_text(target.data_type()) && target_kind.is_none();
        if !to_text && target_kind.is_none() {
            return Ok(Transformed::no(expr));
        }
        // An operand whose type cannot be read here is left to DataFusion (it is of
        // no reg* type: every such value is a cast or function this rule has seen).
        let Ok((_, source)) = operand.to_field(schema) else {
            return Ok(Transformed::no(expr));
        };
        let call = |kind: RegType, output: bool| {
            self.functions
                .iter()
                .find(|(k, _, _)| *k == kind)
                .map(|(_, input, out)| {
                    let udf = if output { out } else { input };
                    Expr::ScalarFunction(ScalarFunction::new_udf(
                        udf.clone(),
                        vec![operand.clone()],
                    ))
                })
        };
        if to_text
            && let Some(kind) = RegType::of_field(&source)
            && let Some(names) = call(kind, true)
        {
            return Ok(Transformed::yes(match target.data_type() {
                DataType::Utf8 => names,
                other => names.cast_to(other, schema)?,
            }));
        }
        if let Some(kind) = target_kind
            && is_text(source.data_type())
            && let Some(oids) = call(kind, false)
        {
            return Ok(Transformed::yes(oids));
        }
        Ok(Transformed::no(expr))
    }
}

/// `stream` with each column of a reg* type sent as its names (typed as the reg*
/// type in the RowDescription through [`TYPE_OID`]); `stream` itself when it has
/// none.
pub fn name_output(
    context: &SessionContext,
    stream: SendableRecordBatchStream,
) -> Result<SendableRecordBatchStream> {
    let schema = stream.schema();
    let columns: Vec<(usize, RegType)> = schema
        .fields()
        .iter()
        .enumerate()
        .filter_map(|(i, field)| RegType::of_field(field).map(|kind| (i, kind)))
        .collect();
    if columns.is_empty() {
        return Ok(stream);
    }
    let udf =
        datafusion::execution::FunctionRegistry::udf(context, RegType::Class.output_function())?;
    let Some(output) = udf.inner().downcast_ref::<RegOut>() else {
        return Err(DataFusionError::Internal(
            "regclassout is not Sluice's".to_string(),
        ));
    };
    let objects = output.objects.clone();
    let kind_of = move |i: usize| columns.iter().find(|(c, _)| *c == i).map(|(_, k)| *k);
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, field)| match kind_of(i) {
            Some(kind) => {
                Field::new(field.name(), DataType::Utf8, field.is_nullable()).with_metadata(
                    HashMap::from([(TYPE_OID.to_string(), kind.oid().to_string())]),
                )
            }
            None => field.as_ref().clone(),
        })
        .collect();
    let named = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    let out_schema = named.clone();
    let batches = stream.map(move |batch| {
        let batch = batch?;
        let arrays = batch
            .columns()
            .iter()
            .enumerate()
            .map(|(i, array)| match kind_of(i) {
                Some(kind) => {
                    let output = RegOut {
                        kind,
                        objects: objects.clone(),
                        signature: Signature::user_defined(Volatility::Stable),
                    };
                    Ok(Arc::new(output.names(array)?) as ArrayRef)
                }
                None => Ok(array.clone()),
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
    fn reg_types_are_recognized_qualified_or_not() {
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
        let of = |t: &SqlType| RegType::of_sql_type(t);
        assert_eq!(of(&SqlType::Regclass), Some(RegType::Class));
        assert_eq!(
            of(&custom(&["pg_catalog", "regclass"])),
            Some(RegType::Class)
        );
        assert_eq!(of(&custom(&["REGCLASS"])), Some(RegType::Class));
        assert_eq!(of(&custom(&["regtype"])), Some(RegType::Type));
        assert_eq!(
            of(&custom(&["pg_catalog", "regnamespace"])),
            Some(RegType::Namespace)
        );
        assert_eq!(of(&custom(&["public", "regtype"])), None);
        assert_eq!(of(&custom(&["regproc"])), None);
        assert_eq!(of(&SqlType::Text), None);
    }

    #[test]
    fn reg_type_fields_are_marked() {
        for kind in RegType::ALL {
            assert_eq!(RegType::of_field(&kind.field("r", true)), Some(kind));
        }
        assert_eq!(
            RegType::of_field(&Field::new("r", DataType::Int32, true)),
            None
        );
    }

    #[test]
    fn input_reads_dashes_and_digits_before_names() {
        let resolver = Resolver::Namespace;
        assert_eq!(resolver.oid("-").ok(), Some(0));
        assert_eq!(resolver.oid("00011").ok(), Some(11));
        assert_eq!(resolver.oid("4294967295").ok(), Some(-1));
        let code = |text| resolver.oid(text).err().map(|e| e.sqlstate().to_string());
        assert_eq!(code("4294967296").as_deref(), Some("22003"));
        // Digits with spaces are a name, as in PostgreSQL.
        assert_eq!(code(" 11").as_deref(), Some("3F000"));
        assert_eq!(resolver.text(0), "-");
        assert_eq!(resolver.text(11), "pg_catalog");
        assert_eq!(resolver.text(-1), "4294967295");
    }
}
