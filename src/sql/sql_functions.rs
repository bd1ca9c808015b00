//! SQL-language functions: `CREATE [OR REPLACE] FUNCTION … LANGUAGE sql`, as
//! PostgreSQL runs them, and `DROP FUNCTION`.
//!
//! ```text
//!  CREATE FUNCTION add_one(x int) RETURNS int LANGUAGE sql IMMUTABLE RETURN x + 1;
//!  SELECT add_one(a) FROM t   ──inline──▶   SELECT CAST((CAST((a) AS INT) + 1) AS INT) FROM t
//! ```
//!
//! A function's body is one expression (`SELECT expr` without FROM, or `RETURN
//! expr`). Every call is *inlined* before DataFusion plans the statement: replaced by
//! the body, its parameters (by name or `$n`) replaced by the arguments cast to the
//! declared parameter types, the whole cast to the declared return type — what
//! PostgreSQL's planner does with such functions. So a call costs nothing at run
//! time, and a materialized view maintains a call like any other expression.
//!
//! Functions live in the catalog (their `CREATE FUNCTION` text is the entry, replayed
//! at start-up). A view's definition keeps the calls; the view is planned with the
//! bodies in force, and rebuilt when `CREATE OR REPLACE` changes one it uses.

use std::collections::BTreeSet;
use std::sync::Arc;

use datafusion::arrow::datatypes::DataType as ArrowType;
use datafusion::sql::sqlparser::ast::{
    ArgMode, BinaryOperator, CastKind, CreateFunctionBody, DataType, DropBehavior, Expr,
    FunctionArg, FunctionArgExpr, FunctionArguments, FunctionBehavior, FunctionCalledOnNull,
    FunctionReturnType, ObjectName, Query, SelectItem, SetExpr, Statement, UnaryOperator, Value,
    visit_expressions_mut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

use super::Output;
use crate::catalog::{CatalogEntry, CatalogFunction, RelationKind};
use crate::database::Database;
use crate::error::{Result, SluiceError, sqlstate};

/// How often a function's result may change for the same arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Volatility {
    Immutable,
    Stable,
    Volatile,
}

impl Volatility {
    fn as_str(self) -> &'static str {
        match self {
            Volatility::Immutable => "IMMUTABLE",
            Volatility::Stable => "STABLE",
            Volatility::Volatile => "VOLATILE",
        }
    }
}

/// One parameter: its name (if given) and declared type.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: Option<String>,
    pub data_type: DataType,
}

/// A SQL-language function, ready to inline.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlFunction {
    pub name: String,
    pub params: Vec<Param>,
    pub return_type: DataType,
    /// The body expression, as written (the statement rewrites apply once inlined).
    pub body: Expr,
    pub volatility: Volatility,
    /// `STRICT`: NULL when any argument is NULL, without evaluating the body.
    pub strict: bool,
}

impl SqlFunction {
    /// `name(type, type)`, as PostgreSQL names a function in messages.
    pub fn signature(&self) -> String {
        let types: Vec<String> = self
            .params
            .iter()
            .map(|p| type_name(&p.data_type))
            .collect();
        format!("{}({})", self.name, types.join(", "))
    }
}

/// A declared type as PostgreSQL spells it in messages (`integer`, not `int`).
pub fn type_name(data_type: &DataType) -> String {
    match super::types::arrow_type(data_type) {
        Ok(ArrowType::Int16) => "smallint".into(),
        Ok(ArrowType::Int32) => "integer".into(),
        Ok(ArrowType::Int64) => "bigint".into(),
        Ok(ArrowType::Float32) => "real".into(),
        Ok(ArrowType::Float64) => "double precision".into(),
        Ok(ArrowType::Boolean) => "boolean".into(),
        _ => match data_type {
            DataType::Varchar(_) | DataType::CharacterVarying(_) => "character varying".into(),
            other => other.to_string().to_lowercase(),
        },
    }
}

/// `CREATE FUNCTION` or `DROP FUNCTION`, parsed.
#[derive(Debug, Clone)]
pub enum FunctionStatement {
    Create {
        function: Box<SqlFunction>,
        or_replace: bool,
        /// The statement's text, kept as the catalog entry.
        text: String,
    },
    Drop {
        /// Each function's name and, when given, its parameter types.
        targets: Vec<(String, Option<Vec<DataType>>)>,
        if_exists: bool,
        cascade: bool,
    },
}

/// What a function body may be, for the refusals.
const SUPPORTED: &str = "only SQL-language functions whose body is a single expression are \
                         supported: LANGUAGE sql with AS $$ SELECT expression $$ (no FROM) or \
                         RETURN expression";

fn unsupported(what: &str) -> SluiceError {
    SluiceError::coded(
        sqlstate::FEATURE_NOT_SUPPORTED,
        format!("{what} is not supported; {SUPPORTED}"),
    )
}

/// Parses `CREATE [OR REPLACE] FUNCTION …` or `DROP FUNCTION …`.
pub fn parse_function_statement(text: &str) -> Result<FunctionStatement> {
    let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, text)
        .map_err(|e| SluiceError::Syntax(e.to_string()))?;
    let statement = match (statements.pop(), statements.is_empty()) {
        (Some(statement), true) => statement,
        _ => {
            return Err(SluiceError::Syntax(format!(
                "expected one statement: {text}"
            )));
        }
    };
    match statement {
        Statement::CreateFunction(create) => {
            if create.or_alter || create.temporary || create.if_not_exists {
                return Err(unsupported(
                    "CREATE OR ALTER, TEMPORARY or IF NOT EXISTS for functions",
                ));
            }
            let name = function_name(&create.name)?;
            let mut params = Vec::new();
            for arg in create.args.unwrap_or_default() {
                if !matches!(arg.mode, None | Some(ArgMode::In)) {
                    return Err(unsupported("an OUT or INOUT parameter"));
                }
                if arg.default_expr.is_some() {
                    return Err(unsupported("a parameter default"));
                }
                super::types::arrow_type(&arg.data_type)?;
                params.push(Param {
                    name: arg.name.as_ref().map(super::names::normalize_ident),
                    data_type: arg.data_type,
                });
            }
            let return_type = match create.return_type {
                Some(FunctionReturnType::DataType(DataType::Table(_))) | None => {
                    return Err(unsupported("a function returning a table or a record"));
                }
                Some(FunctionReturnType::DataType(t)) => t,
                Some(FunctionReturnType::SetOf(_)) => {
                    return Err(unsupported("a set-returning function (RETURNS SETOF)"));
                }
            };
            super::types::arrow_type(&return_type)?;
            let body = match create.function_body {
                Some(
                    CreateFunctionBody::AsBeforeOptions { body, .. }
                    | CreateFunctionBody::AsAfterOptions(body),
                ) => {
                    let language = create.language.as_ref().map(|l| l.value.to_lowercase());
                    if language.as_deref() != Some("sql") {
                        return Err(unsupported(&format!(
                            "LANGUAGE {}",
                            language.as_deref().unwrap_or("(none)")
                        )));
                    }
                    body_expression(&body)?
                }
                Some(CreateFunctionBody::Return(expr) | CreateFunctionBody::AsReturnExpr(expr)) => {
                    if let Some(language) = &create.language
                        && !language.value.eq_ignore_ascii_case("sql")
                    {
                        return Err(unsupported(&format!("LANGUAGE {}", language.value)));
                    }
                    expr
                }
                Some(_) => return Err(unsupported("a BEGIN ATOMIC body")),
                None => return Err(unsupported("a function without a body")),
            };
            if !create.set_params.is_empty() || create.using.is_some() {
                return Err(unsupported("SET or USING in CREATE FUNCTION"));
            }
            let volatility = match create.behavior {
                Some(FunctionBehavior::Immutable) => Volatility::Immutable,
                Some(FunctionBehavior::Stable) => Volatility::Stable,
                // PostgreSQL's default.
                Some(FunctionBehavior::Volatile) | None => Volatility::Volatile,
            };
            let strict = matches!(
                create.called_on_null,
                Some(FunctionCalledOnNull::ReturnsNullOnNullInput | FunctionCalledOnNull::Strict)
            );
            Ok(FunctionStatement::Create {
                function: Box::new(SqlFunction {
                    name,
                    params,
                    return_type,
                    body,
                    volatility,
                    strict,
                }),
                or_replace: create.or_replace,
                text: text.trim().trim_end_matches(';').trim().to_string(),
            })
        }
        Statement::DropFunction(drop) => {
            let mut targets = Vec::new();
            for desc in drop.func_desc {
                let types = desc
                    .args
                    .map(|args| args.into_iter().map(|a| a.data_type).collect());
                targets.push((function_name(&desc.name)?, types));
            }
            Ok(FunctionStatement::Drop {
                targets,
                if_exists: drop.if_exists,
                cascade: matches!(drop.drop_behavior, Some(DropBehavior::Cascade)),
            })
        }
        _ => Err(SluiceError::Syntax(format!(
            "expected CREATE FUNCTION or DROP FUNCTION: {text}"
        ))),
    }
}

fn function_name(name: &ObjectName) -> Result<String> {
    super::names::relation_name(name)
}

/// The expression of a body `$$ SELECT expr $$`; anything else is refused.
fn body_expression(body: &Expr) -> Result<Expr> {
    let text = match body {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => s.clone(),
            Value::DollarQuotedString(s) => s.value.clone(),
            _ => return Err(unsupported("a function body that is not a string")),
        },
        _ => return Err(unsupported("a function body that is not a string")),
    };
    let statements = Parser::parse_sql(&PostgreSqlDialect {}, &text)
        .map_err(|e| SluiceError::Syntax(format!("in the function body: {e}")))?;
    let [Statement::Query(query)] = statements.as_slice() else {
        return Err(unsupported(&format!(
            "a function body of {} statements",
            statements.len()
        )));
    };
    let Query {
        with: None,
        order_by: None,
        limit_clause: None,
        fetch: None,
        body,
        ..
    } = query.as_ref()
    else {
        return Err(unsupported("a function body with WITH, ORDER BY or LIMIT"));
    };
    let SetExpr::Select(select) = body.as_ref() else {
        return Err(unsupported("a function body that is not a single SELECT"));
    };
    if !select.from.is_empty() {
        return Err(unsupported(
            "a function body that reads tables (SELECT … FROM)",
        ));
    }
    if select.selection.is_some()
        || select.having.is_some()
        || select.distinct.is_some()
        || select.projection.len() != 1
    {
        return Err(unsupported(
            "a function body other than one SELECT expression",
        ));
    }
    match &select.projection[0] {
        SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. } => Ok(expr.clone()),
        _ => Err(unsupported("a function body selecting *")),
    }
}

/// Looks a function up by name: the catalog's, or one being created.
type Lookup<'a> = dyn Fn(&str) -> Option<Arc<SqlFunction>> + 'a;

/// Inlines every call of a SQL function in `statement`; returns the functions it
/// called (directly or through other functions).
pub fn inline_statement(db: &Database, statement: &mut Statement) -> Result<BTreeSet<String>> {
    let mut used = BTreeSet::new();
    if !db.catalog().has_functions() {
        return Ok(used);
    }
    let lookup = |name: &str| db.catalog().function(name).map(|f| f.function);
    inline_in(statement, &lookup, &mut Vec::new(), &mut used)?;
    Ok(used)
}

/// A view's query with its calls inlined; functions not declared IMMUTABLE are
/// refused, as other functions whose result may change while the data does not.
pub fn inline_view(db: &Database, query: &Query) -> Result<Query> {
    let mut statement = Statement::Query(Box::new(query.clone()));
    let used = inline_statement(db, &mut statement)?;
    for name in &used {
        if let Some(f) = db.catalog().function(name)
            && f.function.volatility != Volatility::Immutable
        {
            return Err(SluiceError::not_supported(format!(
                "function {}() is declared {} (its value can change while the data does not), \
                 so it is not supported in a materialized view; declare it IMMUTABLE if its \
                 result depends only on its arguments",
                name,
                f.function.volatility.as_str()
            )));
        }
    }
    match statement {
        Statement::Query(query) => Ok(*query),
        _ => Err(SluiceError::Internal("inlining lost the query".into())),
    }
}

/// The functions a stored view definition calls, directly or not.
fn functions_of_definition(db: &Database, definition: &str) -> BTreeSet<String> {
    let Ok(mut statement) = db.parser().parse_one(definition) else {
        return BTreeSet::new();
    };
    let mut used = BTreeSet::new();
    let lookup = |name: &str| db.catalog().function(name).map(|f| f.function);
    // A definition that no longer inlines (a function since dropped) uses nothing.
    let _ = inline_in(&mut statement, &lookup, &mut Vec::new(), &mut used);
    used
}

/// What a view's checkpointed state depends on besides its definition: the text of
/// every function it calls (a replaced body must not take over the old state).
pub fn fingerprint_of(db: &Database, definition: &str) -> String {
    functions_of_definition(db, definition)
        .iter()
        .filter_map(|name| db.catalog().function(name))
        .map(|f| format!("\nfunction {}", f.entry.definition))
        .collect()
}

fn inline_in<V: datafusion::sql::sqlparser::ast::VisitMut>(
    node: &mut V,
    lookup: &Lookup<'_>,
    stack: &mut Vec<String>,
    used: &mut BTreeSet<String>,
) -> Result<()> {
    let mut failure = None;
    // Post-order: a call's arguments are inlined before the call itself.
    let _ = visit_expressions_mut(node, |expr| {
        match expand_call(expr, lookup, stack, used) {
            Ok(Some(expanded)) => *expr = expanded,
            Ok(None) => {}
            Err(e) => {
                failure = Some(e);
                return std::ops::ControlFlow::Break(());
            }
        }
        std::ops::ControlFlow::Continue(())
    });
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The body of the SQL function `expr` calls, when it calls one.
fn expand_call(
    expr: &Expr,
    lookup: &Lookup<'_>,
    stack: &mut Vec<String>,
    used: &mut BTreeSet<String>,
) -> Result<Option<Expr>> {
    let Expr::Function(call) = expr else {
        return Ok(None);
    };
    let Ok(name) = function_name(&call.name) else {
        return Ok(None);
    };
    let Some(function) = lookup(&name) else {
        return Ok(None);
    };
    if stack.contains(&name) {
        return Err(SluiceError::coded(
            sqlstate::FEATURE_NOT_SUPPORTED,
            format!(
                "function {name}() calls itself (through {}); recursive SQL functions are not \
                 supported",
                stack.join(" → ")
            ),
        ));
    }
    let args = match &call.args {
        FunctionArguments::None => Vec::new(),
        FunctionArguments::List(list)
            if list.duplicate_treatment.is_none() && list.clauses.is_empty() =>
        {
            let mut args = Vec::new();
            for arg in &list.args {
                match arg {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => args.push(e.clone()),
                    _ => {
                        return Err(SluiceError::not_supported(format!(
                            "named or * arguments in a call of SQL function {name}()"
                        )));
                    }
                }
            }
            args
        }
        _ => return Err(no_such_function(&function, None)),
    };
    if call.over.is_some() || call.filter.is_some() || !call.within_group.is_empty() {
        return Err(SluiceError::coded(
            sqlstate::WRONG_OBJECT_TYPE,
            format!("{name} is not a window or aggregate function"),
        ));
    }
    if args.len() != function.params.len() {
        return Err(no_such_function(&function, Some(args.len())));
    }
    for (arg, param) in args.iter().zip(&function.params) {
        check_argument(&function, arg, &param.data_type)?;
    }
    used.insert(name.clone());
    // The body with the calls it makes inlined first (parameters still as written).
    let mut body = Expr::Nested(Box::new(function.body.clone()));
    stack.push(name);
    let inlined = inline_in(&mut body, lookup, stack, used);
    stack.pop();
    inlined?;
    let values: Vec<Expr> = args
        .iter()
        .zip(&function.params)
        .map(|(arg, param)| cast(arg.clone(), &param.data_type))
        .collect();
    substitute(&mut body, &function, &values);
    let mut result = cast(body, &function.return_type);
    if function.strict && !values.is_empty() {
        // STRICT: NULL as soon as one argument is, the body not evaluated.
        let any_null = values
            .iter()
            .map(|v| Expr::IsNull(Box::new(v.clone())))
            .reduce(|a, b| Expr::BinaryOp {
                left: Box::new(a),
                op: BinaryOperator::Or,
                right: Box::new(b),
            });
        if let Some(any_null) = any_null {
            result = Expr::Case {
                case_token:
                    datafusion::sql::sqlparser::ast::helpers::attached_token::AttachedToken::empty(),
                end_token:
                    datafusion::sql::sqlparser::ast::helpers::attached_token::AttachedToken::empty(),
                operand: None,
                conditions: vec![datafusion::sql::sqlparser::ast::CaseWhen {
                    condition: any_null,
                    result: cast(Expr::Value(Value::Null.into()), &function.return_type),
                }],
                else_result: Some(Box::new(result)),
            };
        }
    }
    Ok(Some(Expr::Nested(Box::new(result))))
}

/// `CAST((expr) AS type)`.
fn cast(expr: Expr, data_type: &DataType) -> Expr {
    Expr::Cast {
        kind: CastKind::Cast,
        expr: Box::new(Expr::Nested(Box::new(expr))),
        data_type: data_type.clone(),
        array: false,
        format: None,
    }
}

/// Replaces the parameters in `body` (by name or `$n`) by `values`.
fn substitute(body: &mut Expr, function: &SqlFunction, values: &[Expr]) {
    let _ = visit_expressions_mut(body, |expr| {
        let position = match expr {
            Expr::Identifier(id) => {
                let name = super::names::normalize_ident(id);
                function
                    .params
                    .iter()
                    .position(|p| p.name.as_deref() == Some(name.as_str()))
            }
            Expr::Value(v) => match &v.value {
                Value::Placeholder(p) => p
                    .strip_prefix('$')
                    .and_then(|n| n.parse::<usize>().ok())
                    .and_then(|n| n.checked_sub(1))
                    .filter(|n| *n < values.len()),
                _ => None,
            },
            _ => None,
        };
        if let Some(i) = position {
            *expr = values[i].clone();
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

/// `function name(types) does not exist`, as PostgreSQL says for a call that matches
/// no function (with the argument count when it is what differs).
fn no_such_function(function: &SqlFunction, args: Option<usize>) -> SluiceError {
    let given = match args {
        Some(n) => format!(" with {n} argument{}", if n == 1 { "" } else { "s" }),
        None => String::new(),
    };
    SluiceError::coded(
        sqlstate::UNDEFINED_FUNCTION,
        format!(
            "function {}{given} does not exist; the function is {} \
             (HINT: No function matches the given name and argument types. You might need to \
             add explicit type casts.)",
            function.name,
            function.signature()
        ),
    )
}

/// Refuses a literal argument that PostgreSQL would not convert implicitly to the
/// parameter's type (`add_one(2.5)` for an integer, `count_char(1, 'c')` for text).
/// Other arguments are converted with a cast; their types are not known here.
fn check_argument(function: &SqlFunction, arg: &Expr, param: &DataType) -> Result<()> {
    let literal = match arg {
        Expr::UnaryOp {
            op: UnaryOperator::Minus | UnaryOperator::Plus,
            expr,
        } => expr.as_ref(),
        other => other,
    };
    let Expr::Value(v) = literal else {
        return Ok(());
    };
    let Ok(target) = super::types::arrow_type(param) else {
        return Ok(());
    };
    let fits = match &v.value {
        Value::Number(n, _) => {
            let integral = !n.contains(['.', 'e', 'E']);
            match target {
                ArrowType::Int16 | ArrowType::Int32 | ArrowType::Int64 => integral,
                t => t.is_numeric(),
            }
        }
        Value::Boolean(_) => target == ArrowType::Boolean,
        _ => true,
    };
    if fits {
        Ok(())
    } else {
        Err(SluiceError::coded(
            sqlstate::UNDEFINED_FUNCTION,
            format!(
                "function {}({}) does not exist: argument {literal} does not convert to {} \
                 implicitly (HINT: add an explicit type cast)",
                function.name,
                function
                    .params
                    .iter()
                    .map(|p| type_name(&p.data_type))
                    .collect::<Vec<_>>()
                    .join(", "),
                type_name(param)
            ),
        ))
    }
}

/// Runs `CREATE FUNCTION` / `DROP FUNCTION`.
pub async fn execute(db: &Database, statement: &FunctionStatement) -> Result<Output> {
    match statement {
        FunctionStatement::Create {
            function,
            or_replace,
            text,
        } => create_function(db, function, *or_replace, text).await,
        FunctionStatement::Drop {
            targets,
            if_exists,
            cascade,
        } => drop_functions(db, targets, *if_exists, *cascade).await,
    }
}

async fn create_function(
    db: &Database,
    function: &SqlFunction,
    or_replace: bool,
    text: &str,
) -> Result<Output> {
    let _ddl = db.ddl_guard().await;
    let existing = db.catalog().function(&function.name);
    if db
        .context()
        .state()
        .scalar_functions()
        .contains_key(&function.name)
        || db
            .context()
            .state()
            .aggregate_functions()
            .contains_key(&function.name)
    {
        return Err(SluiceError::coded(
            sqlstate::DUPLICATE_FUNCTION,
            format!(
                "function {} already exists as a built-in function",
                function.name
            ),
        ));
    }
    if let Some(existing) = &existing {
        let same_types = existing.function.params.len() == function.params.len()
            && existing
                .function
                .params
                .iter()
                .zip(&function.params)
                .all(|(a, b)| same_type(&a.data_type, &b.data_type));
        if !same_types {
            return Err(SluiceError::not_supported(format!(
                "function {} already exists with other argument types ({}); overloaded \
                 functions are not supported, drop it first",
                function.name,
                existing.function.signature()
            )));
        }
        if !or_replace {
            return Err(SluiceError::coded(
                crate::error::sqlstate::DUPLICATE_FUNCTION,
                format!(
                    "function \"{}\" already exists with same argument types",
                    function.name
                ),
            ));
        }
        if !same_type(&existing.function.return_type, &function.return_type) {
            return Err(SluiceError::coded(
                sqlstate::INVALID_FUNCTION_DEFINITION,
                format!(
                    "cannot change return type of existing function (HINT: Use DROP FUNCTION {} \
                     first.)",
                    existing.function.signature()
                ),
            ));
        }
    }
    validate(db, function).await?;
    let entry = CatalogEntry {
        id: match &existing {
            // A replaced function keeps its place in the replay order.
            Some(existing) => existing.entry.id,
            None => db.catalog().allocate_id(),
        },
        name: function.name.clone(),
        kind: RelationKind::Function,
        definition: text.to_string(),
    };
    if existing.is_some() {
        refuse_if_a_sink_calls(db, &function.name, "replace")?;
    }
    let users = if existing.is_some() {
        dependent_views(db, &function.name)
    } else {
        Vec::new()
    };
    if !users.is_empty() {
        let names: Vec<&str> = users.iter().map(|v| v.entry().name.as_str()).collect();
        if let Some(sink) = super::sinks::sinks_reading(db, &names).first() {
            return Err(SluiceError::coded(
                sqlstate::DEPENDENT_OBJECTS_STILL_EXIST,
                format!(
                    "cannot replace function {}: sink {} reads a view that uses it, which would \
                     be rebuilt; drop the sink first",
                    function.name,
                    sink.entry().name
                ),
            ));
        }
    }
    db.catalog().put_function(
        CatalogFunction {
            entry,
            function: Arc::new(function.clone()),
        },
        existing.is_some(),
        true,
    )?;
    if let Err(e) = super::ddl::rebuild_views(db, users, "a replaced function").await {
        // The views keep running on the old body; so must the catalog.
        if let Some(existing) = existing {
            db.catalog().put_function(existing, true, true)?;
        }
        return Err(e);
    }
    Ok(Output::Done {
        tag: "CREATE FUNCTION",
        rows: None,
    })
}

/// Two declared types are the same when Sluice stores them alike (`int` and
/// `integer`, `varchar` and `text`).
fn same_type(a: &DataType, b: &DataType) -> bool {
    match (super::types::arrow_type(a), super::types::arrow_type(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Plans a call with NULL arguments, so a body that does not plan (an unknown column
/// or function, a type error) is refused at CREATE, as PostgreSQL does; a body
/// calling the function being created is refused as recursive.
async fn validate(db: &Database, function: &SqlFunction) -> Result<()> {
    let new = Arc::new(function.clone());
    let lookup = |name: &str| {
        if name == new.name {
            Some(new.clone())
        } else {
            db.catalog().function(name).map(|f| f.function)
        }
    };
    let args: Vec<String> = function
        .params
        .iter()
        .map(|p| format!("CAST(NULL AS {})", p.data_type))
        .collect();
    let mut statement = db.parser().parse_one(&format!(
        "SELECT {}({}) AS result",
        super::names::quote_ident(&function.name),
        args.join(", ")
    ))?;
    inline_in(
        &mut statement,
        &lookup,
        &mut Vec::new(),
        &mut BTreeSet::new(),
    )?;
    super::plan_statement(db, statement).await.map(|_| ())
}

/// Views that call `name` (directly or through other functions), with the views
/// reading them, shallowest first.
fn dependent_views(db: &Database, name: &str) -> Vec<Arc<crate::catalog::View>> {
    let mut views = Vec::new();
    for view in db.catalog().views() {
        if functions_of_definition(db, &view.entry().definition).contains(name) {
            let view_name = view.entry().name.clone();
            views.push(view);
            views.extend(super::ddl::transitive_dependents(db, &view_name));
        }
    }
    views.sort_by_key(|v| v.running().depth());
    views.dedup_by_key(|v| v.entry().id);
    views
}

/// The first sink whose own query calls `name` (directly or through other
/// functions): its view cannot be rebuilt or dropped from here.
fn sink_calling(db: &Database, name: &str) -> Option<String> {
    db.catalog().sinks().into_iter().find_map(|sink| {
        let create = super::sinks::parse_create_sink(&sink.entry().definition).ok()?;
        match create.from {
            super::sinks::SinkFrom::Query(query) => functions_of_definition(db, &query)
                .contains(name)
                .then(|| sink.entry().name.clone()),
            super::sinks::SinkFrom::Relation(_) => None,
        }
    })
}

/// Refuses to replace or drop a function a sink's query calls.
fn refuse_if_a_sink_calls(db: &Database, name: &str, action: &str) -> Result<()> {
    match sink_calling(db, name) {
        Some(sink) => Err(SluiceError::coded(
            sqlstate::DEPENDENT_OBJECTS_STILL_EXIST,
            format!(
                "cannot {action} function {name} because sink {sink} calls it; drop the sink first"
            ),
        )),
        None => Ok(()),
    }
}

async fn drop_functions(
    db: &Database,
    targets: &[(String, Option<Vec<DataType>>)],
    if_exists: bool,
    cascade: bool,
) -> Result<Output> {
    let guard = db.ddl_guard().await;
    let mut found = Vec::new();
    for (name, types) in targets {
        let Some(existing) = db.catalog().function(name) else {
            if if_exists {
                continue;
            }
            let types = types
                .as_ref()
                .map(|t| {
                    let t: Vec<String> = t.iter().map(type_name).collect();
                    format!("({})", t.join(", "))
                })
                .unwrap_or_default();
            return Err(SluiceError::coded(
                sqlstate::UNDEFINED_FUNCTION,
                format!("function {name}{types} does not exist"),
            ));
        };
        if let Some(types) = types {
            let matches = types.len() == existing.function.params.len()
                && types
                    .iter()
                    .zip(&existing.function.params)
                    .all(|(t, p)| same_type(t, &p.data_type));
            if !matches {
                if if_exists {
                    continue;
                }
                let t: Vec<String> = types.iter().map(type_name).collect();
                return Err(SluiceError::coded(
                    sqlstate::UNDEFINED_FUNCTION,
                    format!("function {name}({}) does not exist", t.join(", ")),
                ));
            }
        }
        found.push(existing);
    }
    let mut doomed = Vec::new();
    for function in &found {
        refuse_if_a_sink_calls(db, &function.entry.name, "drop")?;
        let users = dependent_views(db, &function.entry.name);
        if !users.is_empty() && !cascade {
            let names: Vec<&str> = users.iter().map(|v| v.entry().name.as_str()).collect();
            return Err(SluiceError::coded(
                sqlstate::DEPENDENT_OBJECTS_STILL_EXIST,
                format!(
                    "cannot drop function {} because other objects depend on it: materialized \
                     view {} (use DROP ... CASCADE to drop them too)",
                    function.function.signature(),
                    names.join(", ")
                ),
            ));
        }
        doomed.extend(users.into_iter().map(|v| v.entry().name.clone()));
    }
    if !doomed.is_empty() {
        // DROP MATERIALIZED VIEW … CASCADE takes the DDL lock itself.
        drop(guard);
        let names: Vec<ObjectName> = doomed
            .iter()
            .map(|n| {
                ObjectName::from(vec![datafusion::sql::sqlparser::ast::Ident::with_quote(
                    '"',
                    n.clone(),
                )])
            })
            .collect();
        super::ddl::drop_relations(db, &names, RelationKind::MaterializedView, true, true).await?;
        let _guard = db.ddl_guard().await;
        for function in &found {
            let _ = db.catalog().remove_function(&function.entry.name);
        }
    } else {
        for function in &found {
            db.catalog().remove_function(&function.entry.name)?;
        }
    }
    Ok(Output::Done {
        tag: "DROP FUNCTION",
        rows: None,
    })
}

/// Re-creates a stored function at start-up (its body is checked when called: a
/// function it calls may come later in the replay).
pub fn replay(db: &Database, entry: &CatalogEntry) -> Result<()> {
    let FunctionStatement::Create { function, .. } = parse_function_statement(&entry.definition)?
    else {
        return Err(SluiceError::Corrupt {
            path: "catalog.json".into(),
            reason: format!("entry {} does not hold a CREATE FUNCTION", entry.id),
        });
    };
    db.catalog().put_function(
        CatalogFunction {
            entry: entry.clone(),
            function: Arc::new(*function),
        },
        false,
        false,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(text: &str) -> SqlFunction {
        match parse_function_statement(text).unwrap() {
            FunctionStatement::Create { function, .. } => *function,
            other => panic!("{other:?}"),
        }
    }

    fn inline(sql: &str, functions: &[&str]) -> Result<String> {
        let functions: Vec<Arc<SqlFunction>> =
            functions.iter().map(|f| Arc::new(create(f))).collect();
        let lookup = |name: &str| functions.iter().find(|f| f.name == name).cloned();
        let mut statement = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .unwrap()
            .pop()
            .unwrap();
        inline_in(
            &mut statement,
            &lookup,
            &mut Vec::new(),
            &mut BTreeSet::new(),
        )?;
        Ok(statement.to_string())
    }

    const COUNT_CHAR: &str = "CREATE FUNCTION count_char(s varchar, c varchar) RETURNS int \
        LANGUAGE sql IMMUTABLE AS $$ SELECT (length(s) - length(replace(s, c, ''))) / length(c) $$";

    #[test]
    fn both_body_forms_parse() {
        let f = create(COUNT_CHAR);
        assert_eq!(f.name, "count_char");
        assert_eq!(f.params.len(), 2);
        assert_eq!(f.volatility, Volatility::Immutable);
        let g = create("CREATE OR REPLACE FUNCTION Add_One(int) RETURNS int RETURN $1 + 1");
        assert_eq!(g.name, "add_one");
        assert_eq!(g.volatility, Volatility::Volatile);
        assert_eq!(g.params[0].name, None);
    }

    #[test]
    fn unsupported_bodies_are_refused() {
        for text in [
            "CREATE FUNCTION f(x int) RETURNS int LANGUAGE sql AS $$ SELECT a FROM t $$",
            "CREATE FUNCTION f(x int) RETURNS int LANGUAGE sql AS $$ SELECT 1; SELECT 2 $$",
            "CREATE FUNCTION f(x int) RETURNS SETOF int LANGUAGE sql AS $$ SELECT 1 $$",
            "CREATE FUNCTION f(x int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$",
        ] {
            let err = parse_function_statement(text).unwrap_err();
            assert_eq!(err.sqlstate(), "0A000", "{text}: {err}");
        }
    }

    #[test]
    fn calls_inline_with_casts() {
        let text = inline("SELECT count_char(extra, 'c') FROM bid", &[COUNT_CHAR]).unwrap();
        assert!(text.contains("CAST((extra) AS VARCHAR)"), "{text}");
        assert!(text.contains("AS INT)"), "{text}");
        assert!(!text.contains("count_char"), "{text}");
        let nested = inline(
            "SELECT add_one(add_one(a)) FROM t",
            &["CREATE FUNCTION add_one(x int) RETURNS int RETURN x + 1"],
        )
        .unwrap();
        assert!(!nested.contains("add_one"), "{nested}");
    }

    #[test]
    fn wrong_calls_and_recursion_are_refused() {
        let add = "CREATE FUNCTION add_one(x int) RETURNS int RETURN x + 1";
        for sql in [
            "SELECT add_one(1, 2)",
            "SELECT add_one(2.5)",
            "SELECT add_one(true)",
        ] {
            assert_eq!(
                inline(sql, &[add]).unwrap_err().sqlstate(),
                "42883",
                "{sql}"
            );
        }
        let err = inline(
            "SELECT f(1)",
            &[
                "CREATE FUNCTION f(x int) RETURNS int RETURN g(x)",
                "CREATE FUNCTION g(x int) RETURNS int RETURN f(x)",
            ],
        )
        .unwrap_err();
        assert_eq!(err.sqlstate(), "0A000");
    }

    #[test]
    fn drop_parses() {
        let FunctionStatement::Drop {
            targets,
            if_exists,
            cascade,
        } = parse_function_statement("DROP FUNCTION IF EXISTS f(int), g CASCADE").unwrap()
        else {
            panic!()
        };
        assert!(if_exists && cascade);
        assert_eq!(targets.len(), 2);
        assert_eq!(targets[1], ("g".to_string(), None));
    }
}
