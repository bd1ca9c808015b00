//! Statement parsing: PostgreSQL syntax through `sqlparser`, with the rewrites that
//! make client catalog queries (psql's `\d`, drivers' introspection) plannable by
//! DataFusion.

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::sql::sqlparser::ast::{
    CreateView, Expr, Ident, ObjectName, Query, SelectItem, SetExpr, Statement, Value,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser as DfParser;
use datafusion::sql::sqlparser::tokenizer::{Location, Token, Tokenizer};
use datafusion_pg_catalog::sql::PostgresCompatibilityParser;
use datafusion_pg_catalog::sql::rules::{self, SqlStatementRewriteRule};

use super::complexity;
use super::create_source::{CreateSource, parse_create_source, parse_drop, parse_show_create};
use crate::catalog::postgres::regproc::RegprocNames;
use crate::catalog::postgres::regtypes::TextOperands;
use crate::error::{Result, SluiceError};

/// Parses SQL text into statements. Shared by every connection.
#[derive(Debug)]
pub struct SqlParser {
    inner: PostgresCompatibilityParser,
    /// The `pg_catalog` crate's rewrite rules in its order, all of them (`all`), and
    /// the ones Sluice applies (`kept`): without `RemoveSubqueryFromProjection`, which
    /// would make a correlated scalar subquery in a select list NULL and cut an
    /// uncorrelated one to one row (see [`super::scalar_subqueries`]), and with
    /// [`TextOperands`] before `RewriteRegCastToSubquery`, so that `'name'::regclass`
    /// (`::regnamespace`, `::regtype`) is read by Sluice's type (see
    /// `catalog::postgres::regtypes`), and
    /// [`RegprocNames`] before it too (`typinput = 'array_in'::regproc`).
    all_rules: Vec<Arc<dyn SqlStatementRewriteRule>>,
    kept_rules: Vec<Arc<dyn SqlStatementRewriteRule>>,
}

impl Default for SqlParser {
    fn default() -> Self {
        let removal: Arc<dyn SqlStatementRewriteRule> =
            Arc::new(rules::RemoveSubqueryFromProjection);
        let crate_rules: Vec<Arc<dyn SqlStatementRewriteRule>> = vec![
            Arc::new(rules::AliasDuplicatedProjectionRewrite),
            Arc::new(rules::ResolveUnqualifiedIdentifier),
            Arc::new(rules::RewriteArrayAnyAllOperation),
            Arc::new(rules::PrependUnqualifiedPgTableName),
            Arc::new(rules::StripCallableQualifier),
            Arc::new(rules::FixArrayLiteral),
            Arc::new(rules::CurrentUserVariableToSessionUserFunctionCall),
            Arc::new(rules::StripCollate),
            Arc::new(rules::RewritePgCatalogOperator),
            Arc::new(rules::RewriteRegCastToSubquery::new()),
            Arc::new(rules::FixVersionColumnName),
        ];
        let mut all_rules = crate_rules.clone();
        all_rules.insert(all_rules.len() - 1, removal);
        let mut kept_rules = crate_rules;
        kept_rules.insert(kept_rules.len() - 2, Arc::new(TextOperands));
        kept_rules.insert(kept_rules.len() - 2, Arc::new(RegprocNames));
        SqlParser {
            inner: PostgresCompatibilityParser::new(),
            all_rules,
            kept_rules,
        }
    }
}

impl SqlParser {
    /// Splits `sql` into statements; an empty string gives no statements. A statement
    /// nested too deeply for the server to plan is refused with `54001`.
    pub fn parse(&self, sql: &str) -> Result<Vec<SqlStatement>> {
        complexity::on_parse_stack(|| self.parse_on_this_stack(sql))
    }

    fn parse_on_this_stack(&self, sql: &str) -> Result<Vec<SqlStatement>> {
        let mut out = Vec::new();
        for (text, words) in split_statements(sql)? {
            let first: Vec<&str> = words.iter().map(String::as_str).collect();
            match first.as_slice() {
                ["FLUSH"] => {
                    out.push(SqlStatement::Flush);
                    continue;
                }
                ["CREATE", "SOURCE", ..] => {
                    out.push(SqlStatement::CreateSource(Box::new(parse_create_source(
                        &text,
                    )?)));
                    continue;
                }
                ["DROP", "SOURCE", ..] => {
                    let (names, if_exists, cascade) = parse_drop(&text, "SOURCE")?;
                    out.push(SqlStatement::DropSource {
                        names,
                        if_exists,
                        cascade,
                    });
                    continue;
                }
                ["CREATE", "MODEL", ..] | ["CREATE", "OR", "REPLACE", "MODEL"] => {
                    out.push(SqlStatement::CreateModel(Box::new(
                        super::models::parse_create_model(&text)?,
                    )));
                    continue;
                }
                ["DROP", "MODEL", ..] => {
                    let (names, if_exists) = super::models::parse_drop_model(&text)?;
                    out.push(SqlStatement::DropModel { names, if_exists });
                    continue;
                }
                ["CREATE", "FUNCTION", ..]
                | ["CREATE", "OR", "REPLACE", "FUNCTION"]
                | ["DROP", "FUNCTION", ..] => {
                    out.push(SqlStatement::Function(Box::new(
                        super::sql_functions::parse_function_statement(&text)?,
                    )));
                    continue;
                }
                ["ALTER", "SYSTEM", ..] => {
                    out.push(SqlStatement::AlterSystem(
                        super::settings::parse_alter_system(&text)?,
                    ));
                    continue;
                }
                ["SHOW", "MODELS"] => {
                    out.push(SqlStatement::ShowModels);
                    continue;
                }
                ["DESCRIBE", "MODEL", ..] => {
                    out.push(SqlStatement::DescribeModel(
                        super::models::parse_describe_model(&text)?,
                    ));
                    continue;
                }
                ["SUBSCRIBE", ..] | ["COPY", "", "SUBSCRIBE", ..] => {
                    out.push(self.subscribe(&text)?);
                    continue;
                }
                ["DECLARE", ..] => {
                    let text = super::flink_windows::rewrite_flink_windows(&text)?;
                    if let Some((name, subscribe)) = super::cursors::parse_declare(&text)? {
                        let subscribe = self.rewrite_subscription(subscribe)?;
                        out.push(cursor(super::cursors::CursorOp::Declare {
                            name,
                            subscribe: Box::new(subscribe),
                        }));
                        continue;
                    }
                }
                ["FETCH", ..] => {
                    out.push(cursor(super::cursors::parse_fetch(&text)?));
                    continue;
                }
                ["CLOSE", ..] => {
                    out.push(cursor(super::cursors::parse_close(&text)?));
                    continue;
                }
                ["CREATE", "SINK", ..] => {
                    out.push(SqlStatement::CreateSink(Box::new(
                        super::sinks::parse_create_sink(&text)?,
                    )));
                    continue;
                }
                ["DROP", "SINK", ..] => {
                    // A sink has no dependents: CASCADE changes nothing.
                    let (names, if_exists, _) = parse_drop(&text, "SINK")?;
                    out.push(SqlStatement::DropSink { names, if_exists });
                    continue;
                }
                ["SHOW", "SINKS"] => {
                    out.push(SqlStatement::ShowSinks);
                    continue;
                }
                ["SHOW", "CREATE", "SINK", ..] => {
                    out.push(SqlStatement::ShowCreateSink(parse_show_create(
                        &text, "SINK",
                    )?));
                    continue;
                }
                ["CREATE" | "ALTER" | "DROP", "ROLE" | "USER", ..] => {
                    out.push(SqlStatement::Role(Box::new(
                        super::roles::parse_role_statement(&text)?,
                    )));
                    continue;
                }
                ["GRANT" | "REVOKE", ..] => {
                    out.push(SqlStatement::Role(Box::new(super::roles::parse_grant(
                        &text,
                    )?)));
                    continue;
                }
                ["SHOW", "SOURCES"] => {
                    out.push(SqlStatement::ShowSources);
                    continue;
                }
                ["SHOW", "CREATE", "SOURCE", ..] => {
                    out.push(SqlStatement::ShowCreateSource(parse_show_create(
                        &text, "SOURCE",
                    )?));
                    continue;
                }
                _ => {}
            }
            let (text, emit_on_close) = match first.as_slice() {
                ["CREATE", "MATERIALIZED", "VIEW", ..]
                | ["EXPLAIN", "CREATE", "MATERIALIZED", "VIEW"] => {
                    strip_emit_on_window_close(&text)?
                }
                _ => (text.clone(), false),
            };
            // Temporal joins: views record their tables; plain queries read the
            // tables as they are now, which is what the clause asks.
            let (text, temporal_tables) = match first.as_slice() {
                ["CREATE", "MATERIALIZED", "VIEW", ..]
                | ["EXPLAIN", "CREATE", "MATERIALIZED", "VIEW"]
                | ["SELECT", ..]
                | ["WITH", ..]
                    if text.to_ascii_uppercase().contains("SYSTEM_TIME") =>
                {
                    super::temporal_joins::strip_clauses(&text)?
                }
                _ => (text, Vec::new()),
            };
            let (text, table_clauses) = match first.as_slice() {
                ["CREATE", "TABLE", ..] => {
                    let (text, clauses) = super::append_only::strip_clauses(&text)?;
                    (text, Some(clauses))
                }
                _ => (text, None),
            };
            let text = super::flink_windows::rewrite_flink_windows(&text)?;
            let text = super::functions::trim_from::name_default_characters(&text)?;
            let statements = self.parse_standard(&text)?;
            statements.iter().try_for_each(complexity::check_nesting)?;
            for mut statement in statements {
                if let (Some(clauses), Statement::CreateTable(create)) =
                    (&table_clauses, &mut statement)
                {
                    super::append_only::mark_clauses(create, clauses);
                }
                if let Some(view) = created_view(&mut statement) {
                    if !temporal_tables.is_empty() {
                        super::temporal_joins::mark_tables(view, &temporal_tables);
                    }
                    if emit_on_close {
                        mark_emit_on_window_close(view);
                    }
                }
                if let Some(op) = super::prepared_statements::op_of(&statement, rewrite)? {
                    out.push(SqlStatement::PreparedStatement(Box::new(
                        super::prepared_statements::PreparedStatementOp { pid: 0, op },
                    )));
                    continue;
                }
                rewrite(&mut statement)?;
                out.push(SqlStatement::Standard(Box::new(statement)));
            }
        }
        Ok(out)
    }

    /// Standard SQL through the `pg_catalog` crate's parser, but without its rule that
    /// drops scalar subqueries from select lists. The crate's parser also replaces
    /// whole client queries it knows (psql's, DBeaver's, ...) by token patterns before
    /// parsing; when it did, its answer is taken as it is. Whether it did shows by
    /// comparing its answer with its rules applied to a plain parse.
    fn parse_standard(&self, text: &str) -> Result<Vec<Statement>> {
        let statements = self.parse_standard_with_crate_names(text)?;
        let statements = super::special_registers::restore_names(statements, text);
        Ok(statements
            .into_iter()
            .map(|s| super::wildcard_repeats::restore_names(s, text))
            .collect())
    }

    fn parse_standard_with_crate_names(&self, text: &str) -> Result<Vec<Statement>> {
        let answer = self.inner.parse(text).map_err(SluiceError::from)?;
        // Without two SELECTs there is no subquery for the rule to change, and
        // without `regclass`, `regnamespace`, `regtype` or `regproc` no cast for
        // `TextOperands` or `RegprocNames` (a second parse costs).
        let lower = text.to_ascii_lowercase();
        if lower.matches("select").count() < 2
            && !["regclass", "regnamespace", "regtype", "regproc"]
                .iter()
                .any(|name| lower.contains(name))
        {
            return Ok(answer);
        }
        let Ok(plain) = DfParser::parse_sql(&PostgreSqlDialect {}, text) else {
            return Ok(answer);
        };
        let apply = |rules: &[Arc<dyn SqlStatementRewriteRule>], statement: &Statement| {
            rules
                .iter()
                .fold(statement.clone(), |statement, rule| rule.rewrite(statement))
        };
        let with_all: Vec<Statement> = plain.iter().map(|s| apply(&self.all_rules, s)).collect();
        if with_all != answer {
            // The crate answers Grafana's search_path lookup with `IN ('')`: no schema
            // would ever be on the path. Sluice answers it (see `search_path_lists`).
            if lower.contains("current_setting('search_path')") {
                return Ok(plain
                    .into_iter()
                    .map(|mut statement| {
                        super::search_path_lists::rewrite_search_path_subqueries(&mut statement);
                        apply(&self.kept_rules, &statement)
                    })
                    .collect());
            }
            return Ok(answer);
        }
        Ok(plain.iter().map(|s| apply(&self.kept_rules, s)).collect())
    }

    /// `SUBSCRIBE ...` / `COPY (SUBSCRIBE ...) TO STDOUT`, its query rewritten as any.
    fn subscribe(&self, text: &str) -> Result<SqlStatement> {
        let text = super::flink_windows::rewrite_flink_windows(text)?;
        let subscribe = super::subscribe::parse_subscribe(&text)?;
        Ok(SqlStatement::Subscribe(Box::new(
            self.rewrite_subscription(subscribe)?,
        )))
    }

    /// A subscription's query through the rewrites every statement goes through.
    fn rewrite_subscription(
        &self,
        mut subscribe: super::subscribe::Subscribe,
    ) -> Result<super::subscribe::Subscribe> {
        if let super::subscribe::Target::Query(query) = &mut subscribe.target {
            let mut statement = Statement::Query(query.clone());
            complexity::check_nesting(&statement)?;
            rewrite(&mut statement)?;
            if let Statement::Query(rewritten) = statement {
                *query = rewritten;
            }
        }
        Ok(subscribe)
    }

    /// Parses text that must hold exactly one standard SQL statement (stored
    /// definitions, generated queries).
    pub fn parse_one(&self, sql: &str) -> Result<Statement> {
        let mut statements = self.parse(sql)?;
        match (statements.pop(), statements.is_empty()) {
            (Some(SqlStatement::Standard(statement)), true) => Ok(*statement),
            _ => Err(SluiceError::Internal(format!(
                "expected one SQL statement: {sql}"
            ))),
        }
    }
}

/// A cursor statement, its session bound later ([`super::backends::bind_session`]).
fn cursor(op: super::cursors::CursorOp) -> SqlStatement {
    SqlStatement::Cursor(Box::new(super::cursors::CursorStatement { pid: 0, op }))
}

/// The rewrites every parsed statement goes through before planning.
fn rewrite(statement: &mut Statement) -> Result<()> {
    super::scalar_subqueries::rewrite_array_subqueries(statement)?;
    qualify_pg_user(statement);
    super::scalar_subqueries::rewrite_scalar_subqueries(statement);
    unqualify_operators(statement);
    super::array_literals::rewrite_array_literals(statement);
    super::vector_subscripts::rewrite_vector_subscripts(statement);
    super::boolean_literals::rewrite_boolean_literals(statement);
    super::functions::expandarray::rewrite_expandarray_calls(statement);
    super::windows::rewrite_windows(statement)?;
    // Before interval literals are read: it writes some.
    super::values_literals::rewrite_untyped_literals(statement);
    super::functions::interval_input::rewrite_literals(statement);
    super::models::quote_predict_model_names(statement);
    quote_field_names(statement);
    super::special_registers::rewrite(statement);
    expand_exponents(statement);
    super::functions::like_escape::rewrite_like_escapes(statement)?;
    super::functions::age::rewrite_one_argument_calls(statement);
    name_function_columns(statement);
    match statement {
        Statement::Query(query) => {
            name_columns_like_postgres(query);
            allow_repeated_names(query);
        }
        Statement::Insert(insert) => {
            if let Some(source) = insert.source.as_mut() {
                allow_repeated_names(source);
            }
        }
        Statement::CreateView(view) => name_columns_like_postgres(&mut view.query),
        Statement::CreateTable(create) => {
            if let Some(query) = create.query.as_mut() {
                name_columns_like_postgres(query);
            }
        }
        _ => {}
    }
    // After naming: the call's column keeps its name, not `unnest`'s.
    super::functions::subscripts::rewrite_generate_subscripts(statement);
    rewrite_mod_calls(statement);
    rewrite_null_option_functions(statement)?;
    Ok(())
}

/// The foreign-data option columns of `pg_catalog` (`pg_attribute.attfdwoptions`,
/// `pg_foreign_table.ftoptions`, ...): Sluice has no foreign-data wrappers, so they are
/// always NULL.
const FDW_OPTION_COLUMNS: [&str; 5] = [
    "attfdwoptions",
    "ftoptions",
    "srvoptions",
    "umoptions",
    "fdwoptions",
];

/// The storage option columns of `pg_catalog` (`pg_class.reloptions`,
/// `pg_attribute.attoptions`): Sluice has no storage parameters, so they are always
/// NULL.
const STORAGE_OPTION_COLUMNS: [&str; 2] = ["reloptions", "attoptions"];

/// The rows of a table function called on one of the always-NULL option columns:
/// `pg_options_to_table(c)` over one of the [`FDW_OPTION_COLUMNS`] (psql's `\d` of a
/// source, a foreign table to clients, asks for its columns' options) and
/// `unnest(c)` over one of the [`STORAGE_OPTION_COLUMNS`] (psql's `\d+` lists a
/// table's TOAST table's options) — none, as PostgreSQL answers for NULL. DataFusion
/// cannot call a table function on a column, and the answer is known.
fn rewrite_null_option_functions(statement: &mut Statement) -> Result<()> {
    use datafusion::sql::sqlparser::ast::{
        FunctionArg, FunctionArgExpr, TableAlias, TableAliasColumnDef, TableFactor, VisitMut,
        VisitorMut,
    };
    use datafusion::sql::sqlparser::parser::Parser;
    struct Options {
        options: Box<datafusion::sql::sqlparser::ast::Query>,
        elements: Box<datafusion::sql::sqlparser::ast::Query>,
    }
    impl VisitorMut for Options {
        type Break = ();
        fn post_visit_table_factor(
            &mut self,
            factor: &mut TableFactor,
        ) -> std::ops::ControlFlow<()> {
            let function = table_function(factor);
            let columns: &[&str] = match function.as_deref() {
                Some("pg_options_to_table") => &FDW_OPTION_COLUMNS,
                Some("unnest") => &STORAGE_OPTION_COLUMNS,
                _ => return std::ops::ControlFlow::Continue(()),
            };
            if let TableFactor::Table {
                alias,
                args: Some(args),
                ..
            } = factor
                && let [FunctionArg::Unnamed(FunctionArgExpr::Expr(column))] = args.args.as_slice()
                && let Some(column) = match column {
                    Expr::Identifier(ident) => Some(ident),
                    Expr::CompoundIdentifier(parts) => parts.last(),
                    _ => None,
                }
                && columns.contains(&super::names::normalize_ident(column).as_str())
            {
                let mut alias = alias.take();
                let subquery = if function.as_deref() == Some("unnest") {
                    // `unnest(c) x` names its one column `x` too.
                    let alias = alias.get_or_insert_with(|| TableAlias {
                        explicit: true,
                        name: Ident::new("unnest"),
                        columns: Vec::new(),
                        at: None,
                    });
                    if alias.columns.is_empty() {
                        alias.columns = vec![TableAliasColumnDef {
                            name: alias.name.clone(),
                            data_type: None,
                        }];
                    }
                    self.elements.clone()
                } else {
                    self.options.clone()
                };
                *factor = TableFactor::Derived {
                    lateral: false,
                    subquery,
                    alias,
                    sample: None,
                };
            }
            std::ops::ControlFlow::Continue(())
        }
    }
    let empty = |sql: &str| -> Result<Box<datafusion::sql::sqlparser::ast::Query>> {
        Ok(Parser::new(&PostgreSqlDialect {})
            .try_with_sql(sql)?
            .parse_query()?)
    };
    let _ = statement.visit(&mut Options {
        options: empty(
            "SELECT CAST(NULL AS TEXT) AS option_name, CAST(NULL AS TEXT) AS option_value \
             WHERE false",
        )?,
        elements: empty("SELECT CAST(NULL AS TEXT) AS unnest WHERE false")?,
    });
    Ok(())
}

/// `mod(a, b)` is PostgreSQL's `a % b` (the same remainder, with the dividend's sign,
/// and `22012` for a zero divisor); DataFusion has no `mod`. After naming, so the
/// column is still called `mod`.
fn rewrite_mod_calls(statement: &mut Statement) {
    use datafusion::sql::sqlparser::ast::{
        BinaryOperator, FunctionArg, FunctionArgExpr, FunctionArguments, ObjectNamePart,
        visit_expressions_mut,
    };
    let _ = visit_expressions_mut(statement, |expr| {
        if let Expr::Function(f) = expr
            && let [ObjectNamePart::Identifier(name)] = f.name.0.as_slice()
            && name.quote_style.is_none()
            && name.value.eq_ignore_ascii_case("mod")
            && f.filter.is_none()
            && f.over.is_none()
            && let FunctionArguments::List(list) = &f.args
            && list.duplicate_treatment.is_none()
            && list.clauses.is_empty()
            && let [
                FunctionArg::Unnamed(FunctionArgExpr::Expr(dividend)),
                FunctionArg::Unnamed(FunctionArgExpr::Expr(divisor)),
            ] = list.args.as_slice()
        {
            *expr = Expr::Nested(Box::new(Expr::BinaryOp {
                left: Box::new(Expr::Nested(Box::new(dividend.clone()))),
                op: BinaryOperator::Modulo,
                right: Box::new(Expr::Nested(Box::new(divisor.clone()))),
            }));
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

/// `pg_user` is `pg_catalog.pg_user`, as `pg_catalog` comes first on PostgreSQL's
/// search path (the `pg_catalog` crate qualifies the relations it has; `pg_user` is
/// Sluice's, `catalog::postgres::roles`).
fn qualify_pg_user(statement: &mut Statement) {
    use datafusion::sql::sqlparser::ast::{ObjectNamePart, visit_relations_mut};
    let _ = visit_relations_mut(statement, |name| {
        if let [ObjectNamePart::Identifier(table)] = name.0.as_slice()
            && super::names::normalize_ident(table) == "pg_user"
        {
            name.0
                .insert(0, ObjectNamePart::Identifier(Ident::new("pg_catalog")));
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

/// `a OPERATOR(pg_catalog.=) b`, as catalog queries qualify operators: the operator
/// itself (the `pg_catalog` crate's rewrite covers only the regular expression ones).
fn unqualify_operators(statement: &mut Statement) {
    use datafusion::sql::sqlparser::ast::{BinaryOperator as Op, visit_expressions_mut};
    let _ = visit_expressions_mut(statement, |expr| {
        if let Expr::BinaryOp { op, .. } = expr
            && let Op::PGCustomBinaryOperator(parts) = op
            && let [schema, name] = parts.as_slice()
            && schema.eq_ignore_ascii_case("pg_catalog")
        {
            let plain = match name.as_str() {
                "=" => Some(Op::Eq),
                "<>" | "!=" => Some(Op::NotEq),
                "<" => Some(Op::Lt),
                "<=" => Some(Op::LtEq),
                ">" => Some(Op::Gt),
                ">=" => Some(Op::GtEq),
                "+" => Some(Op::Plus),
                "-" => Some(Op::Minus),
                "*" => Some(Op::Multiply),
                "/" => Some(Op::Divide),
                "%" => Some(Op::Modulo),
                "||" => Some(Op::StringConcat),
                "~" => Some(Op::PGRegexMatch),
                "~*" => Some(Op::PGRegexIMatch),
                "!~" => Some(Op::PGRegexNotMatch),
                "!~*" => Some(Op::PGRegexNotIMatch),
                "~~" => Some(Op::PGLikeMatch),
                "~~*" => Some(Op::PGILikeMatch),
                "!~~" => Some(Op::PGNotLikeMatch),
                "!~~*" => Some(Op::PGNotILikeMatch),
                _ => None,
            };
            if let Some(plain) = plain {
                *op = plain;
            }
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

/// Postgres's composite field access, `(expr).field`: DataFusion reads the field
/// name only as a string, so `.field` becomes `.'field'` (folded like any
/// identifier). A subscripted qualified column, `t.c[1]`, is left a column.
fn quote_field_names(statement: &mut Statement) {
    use datafusion::sql::sqlparser::ast::{AccessExpr, Value, visit_expressions_mut};
    let _ = visit_expressions_mut(statement, |expr| {
        // `t.c[1]` is column `c` of relation `t`, subscripted (pgjdbc writes
        // `con.conkey[pos.n]`): the names before the subscript are one name
        // (`s.t.c[1]` too; DataFusion reads a field of a column in a name as well).
        if let Expr::CompoundFieldAccess { root, access_chain } = expr
            && let Expr::Identifier(first) = root.as_ref()
        {
            let mut name = vec![first.clone()];
            while access_chain.len() > 1
                && name.len() < 3
                && let Some(AccessExpr::Dot(Expr::Identifier(part))) = access_chain.first()
            {
                name.push(part.clone());
                access_chain.remove(0);
            }
            if name.len() > 1 {
                **root = Expr::CompoundIdentifier(name);
            }
        }
        if let Expr::CompoundFieldAccess { access_chain, .. } = expr {
            for access in access_chain {
                if let AccessExpr::Dot(Expr::Identifier(ident)) = access {
                    let name = super::names::normalize_ident(ident);
                    *access = AccessExpr::Dot(Expr::Value(Value::SingleQuotedString(name).into()));
                }
            }
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

/// Numeric literals in exponent form (`1e15`, `1.5e-7`) written out (`1000000000000000`,
/// `0.00000015`): PostgreSQL reads them as exact NUMERIC, but DataFusion would make a
/// decimal of negative scale of `1e15`, which a cast to `float8` gets wrong
/// (`999999999999999.9`). Literals too long to write out (more than 76 digits, the
/// widest decimal) are left alone.
fn expand_exponents(statement: &mut Statement) {
    use datafusion::sql::sqlparser::ast::{Value, visit_expressions_mut};
    let _ = visit_expressions_mut(statement, |expr| {
        if let Expr::Value(value) = expr
            && let Value::Number(text, _) = &mut value.value
            && let Some(expanded) = without_exponent(text)
        {
            *text = expanded;
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

/// `text` (a number literal) without its exponent, if it has one and the result has
/// at most 76 digits.
fn without_exponent(text: &str) -> Option<String> {
    const MAX_DIGITS: i64 = 76;
    let (mantissa, exponent) = text.split_once(['e', 'E'])?;
    let exponent: i64 = exponent.parse().ok()?;
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{whole}{fraction}");
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Where the decimal point goes among `digits`.
    let point = i64::try_from(whole.len()).ok()?.checked_add(exponent)?;
    let length = i64::try_from(digits.len()).ok()?;
    if point.max(length) - point.min(0) > MAX_DIGITS {
        return None;
    }
    let written = if point <= 0 {
        format!("0.{}{digits}", "0".repeat(usize::try_from(-point).ok()?))
    } else if point >= length {
        format!(
            "{digits}{}",
            "0".repeat(usize::try_from(point - length).ok()?)
        )
    } else {
        let (left, right) = digits.split_at(usize::try_from(point).ok()?);
        format!("{left}.{right}")
    };
    // Leading zeros of the whole part say nothing (`00.5` is `0.5`).
    let trimmed = written.trim_start_matches('0');
    Some(if trimmed.is_empty() || trimmed.starts_with('.') {
        format!("0{trimmed}")
    } else {
        trimmed.to_string()
    })
}

/// The `WITH` option that records `EMIT ON WINDOW CLOSE` on a view's definition.
pub const EMIT_ON_WINDOW_CLOSE: &str = "emit_on_window_close";

/// `text` (a `CREATE MATERIALIZED VIEW`) without its `EMIT ON WINDOW CLOSE` clause,
/// and whether it had one. The clause is found among the statement's tokens, so
/// comments, spacing and quoted text cannot hide or fake it; it must end the
/// statement (RisingWave's syntax).
fn strip_emit_on_window_close(text: &str) -> Result<(String, bool)> {
    const CLAUSE: [&str; 4] = ["EMIT", "ON", "WINDOW", "CLOSE"];
    let tokens = tokens(text)?;
    let is_clause = |at: usize| {
        tokens.get(at..at + CLAUSE.len()).is_some_and(|words| {
            words.iter().zip(CLAUSE).all(|(t, keyword)| {
                matches!(&t.token, Token::Word(w)
                    if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(keyword))
            })
        })
    };
    let Some(at) = (0..tokens.len()).find(|&at| is_clause(at)) else {
        return Ok((text.to_string(), false));
    };
    if at + CLAUSE.len() != tokens.len() {
        return Err(SluiceError::Syntax(
            "syntax error: EMIT ON WINDOW CLOSE must end the CREATE MATERIALIZED VIEW statement"
                .into(),
        ));
    }
    Ok((text[..tokens[at].start].to_string(), true))
}

/// The view a `CREATE MATERIALIZED VIEW` (or its `EXPLAIN`) creates.
fn created_view(statement: &mut Statement) -> Option<&mut CreateView> {
    match statement {
        Statement::CreateView(view) => Some(view),
        Statement::Explain { statement, .. } => match statement.as_mut() {
            Statement::CreateView(view) => Some(view),
            _ => None,
        },
        _ => None,
    }
}

/// Adds `key = value` to `view`'s `WITH` options: what Sluice's own clauses
/// (`EMIT ON WINDOW CLOSE`, temporal joins) become, so that the stored definition keeps
/// them in a form `sqlparser` reads back.
pub(super) fn add_view_option(view: &mut CreateView, key: &str, value: Value) {
    use datafusion::sql::sqlparser::ast::{CreateTableOptions, SqlOption};
    let option = SqlOption::KeyValue {
        key: Ident::new(key),
        value: Expr::Value(value.into()),
    };
    view.options = match std::mem::take(&mut view.options) {
        CreateTableOptions::With(mut options) => {
            options.push(option);
            CreateTableOptions::With(options)
        }
        _ => CreateTableOptions::With(vec![option]),
    };
}

/// Records `EMIT ON WINDOW CLOSE` as the view option `emit_on_window_close = true`.
fn mark_emit_on_window_close(view: &mut CreateView) {
    add_view_option(view, EMIT_ON_WINDOW_CLOSE, Value::Boolean(true));
}

/// A statement: standard SQL (parsed by `sqlparser`) or one of Sluice's own.
#[derive(Debug, Clone)]
pub enum SqlStatement {
    /// Anything `sqlparser` parses.
    Standard(Box<Statement>),
    /// `FLUSH`: wait until every accepted change is visible in every view.
    Flush,
    /// `CREATE SOURCE`.
    CreateSource(Box<CreateSource>),
    /// `DROP SOURCE [IF EXISTS] names [CASCADE]`.
    DropSource {
        /// The sources.
        names: Vec<ObjectName>,
        /// `IF EXISTS`.
        if_exists: bool,
        /// `CASCADE`.
        cascade: bool,
    },
    /// `SHOW SOURCES`.
    ShowSources,
    /// `CREATE SINK`.
    CreateSink(Box<super::sinks::CreateSink>),
    /// `DROP SINK [IF EXISTS] names`.
    DropSink {
        /// The sinks.
        names: Vec<ObjectName>,
        /// `IF EXISTS`.
        if_exists: bool,
    },
    /// `SHOW SINKS`.
    ShowSinks,
    /// `SHOW CREATE SINK name`.
    ShowCreateSink(ObjectName),
    /// `SHOW CREATE SOURCE name`.
    ShowCreateSource(ObjectName),
    /// `CREATE [OR REPLACE] MODEL`.
    CreateModel(Box<super::models::CreateModel>),
    /// `DROP MODEL [IF EXISTS] names`.
    DropModel {
        /// The models.
        names: Vec<String>,
        /// `IF EXISTS`.
        if_exists: bool,
    },
    /// `CREATE [OR REPLACE] FUNCTION`, `DROP FUNCTION`.
    Function(Box<super::sql_functions::FunctionStatement>),
    /// `ALTER SYSTEM SET checkpoint_interval = …` (`None`: `RESET`, or `DEFAULT`).
    AlterSystem(Option<std::time::Duration>),
    /// `SHOW MODELS`.
    ShowModels,
    /// `DESCRIBE MODEL name`.
    DescribeModel(String),
    /// `SUBSCRIBE ...` or `COPY (SUBSCRIBE ...) TO STDOUT`.
    Subscribe(Box<super::subscribe::Subscribe>),
    /// `DECLARE ... CURSOR FOR SUBSCRIBE`, `FETCH`, `CLOSE`.
    Cursor(Box<super::cursors::CursorStatement>),
    /// `CREATE | ALTER | DROP ROLE | USER`, `GRANT`, `REVOKE`.
    Role(Box<super::roles::RoleStatement>),
    /// `PREPARE`, `EXECUTE`, `DEALLOCATE`, `DISCARD ALL`.
    PreparedStatement(Box<super::prepared_statements::PreparedStatementOp>),
}

/// A token and its byte range in the statement text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Spanned {
    pub token: Token,
    pub start: usize,
    pub end: usize,
}

/// Byte offsets of tokenizer locations (lines and characters counted from 1), asked
/// for in text order: a cursor moves forward through the text, so a statement's
/// tokens cost one pass over it (counting each from its line's start took minutes for
/// a 2 MB single-line statement).
struct Offsets<'a> {
    sql: &'a str,
    line_starts: Vec<usize>,
    /// The cursor: line and character (from 0) and its byte offset.
    line: usize,
    column: usize,
    byte: usize,
}

impl<'a> Offsets<'a> {
    fn new(sql: &'a str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(sql.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Offsets {
            sql,
            line_starts,
            line: 0,
            column: 0,
            byte: 0,
        }
    }

    fn of(&mut self, location: Location) -> usize {
        let line = (location.line as usize).saturating_sub(1);
        let column = (location.column as usize).saturating_sub(1);
        if line != self.line || column < self.column {
            // Another line (or, never in text order, backwards): from its start.
            self.line = line;
            self.column = 0;
            self.byte = self
                .line_starts
                .get(line)
                .copied()
                .unwrap_or(self.sql.len());
        }
        match self.sql[self.byte..]
            .char_indices()
            .nth(column - self.column)
        {
            Some((i, _)) => {
                self.byte += i;
                self.column = column;
                self.byte
            }
            None => self.sql.len(),
        }
    }
}

/// The text's tokens without whitespace, with byte offsets (the tokenizer knows
/// quoting and comments).
pub(crate) fn tokens(sql: &str) -> Result<Vec<Spanned>> {
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql)
        .tokenize_with_location()
        .map_err(|e| SluiceError::Syntax(format!("syntax error: {e}")))?;
    let mut offsets = Offsets::new(sql);
    Ok(tokens
        .into_iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .map(|t| Spanned {
            start: offsets.of(t.span.start),
            end: offsets.of(t.span.end),
            token: t.token,
        })
        .collect())
}

/// Splits SQL text at top-level semicolons. Returns each statement's text with its
/// leading keywords (uppercase, up to four) for dispatch.
fn split_statements(sql: &str) -> Result<Vec<(String, Vec<String>)>> {
    let tokens = tokens(sql)?;
    let mut out = Vec::new();
    let mut start = 0;
    let mut words = Vec::new();
    let mut push = |text: &str, words: &mut Vec<String>| {
        if !text.trim().is_empty() {
            out.push((text.to_string(), std::mem::take(words)));
        }
        words.clear();
    };
    let mut nesting = complexity::TokenNesting::default();
    for token in &tokens {
        nesting.see(&token.token)?;
        match &token.token {
            Token::SemiColon => {
                push(&sql[start..token.start], &mut words);
                start = token.end;
            }
            Token::Word(word) if words.len() < 4 => words.push(word.value.to_uppercase()),
            _ if words.len() < 4 => words.push(String::new()),
            _ => {}
        }
    }
    push(&sql[start.min(sql.len())..], &mut words);
    Ok(out)
}

/// Gives unnamed result columns the names Postgres gives them (`count`, `?column?`),
/// so clients that read columns by name see what they would see from Postgres.
/// A name already taken in the same select list is left to DataFusion, which
/// requires unique names.
/// Names a query's result columns as PostgreSQL does and lets names repeat, as for a
/// query statement (a RETURNING list is planned as a query).
pub(super) fn name_result_columns(query: &mut Query) {
    name_columns_like_postgres(query);
    allow_repeated_names(query);
}

fn name_columns_like_postgres(query: &mut Query) {
    let mut body = query.body.as_mut();
    while let SetExpr::SetOperation { left, .. } = body {
        body = left.as_mut();
    }
    let SetExpr::Select(select) = body else {
        return;
    };
    let mut taken: HashSet<String> = select
        .projection
        .iter()
        .filter_map(|item| match item {
            SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.to_lowercase()),
            SelectItem::UnnamedExpr(Expr::Identifier(id)) => Some(id.value.to_lowercase()),
            SelectItem::UnnamedExpr(Expr::CompoundIdentifier(ids)) => {
                ids.last().map(|id| id.value.to_lowercase())
            }
            _ => None,
        })
        .collect();
    for item in &mut select.projection {
        let SelectItem::UnnamedExpr(expr) = item else {
            continue;
        };
        if matches!(expr, Expr::Identifier(_) | Expr::CompoundIdentifier(_)) {
            continue;
        }
        let name = postgres_column_name(expr).unwrap_or_else(|| "?column?".to_string());
        if taken.insert(name.clone()) {
            *item = SelectItem::ExprWithAlias {
                expr: expr.clone(),
                alias: Ident::with_quote('"', name),
            };
        }
    }
}

/// Separates a repeated result column's name from the suffix that makes it unique
/// for DataFusion ([`allow_repeated_names`]); the server sends the name before it
/// ([`output_name`]).
pub const REPEATED_NAME_MARK: char = '\u{1}';

/// A result column's name as the client sees it (without a repeat's suffix).
pub fn output_name(name: &str) -> &str {
    name.split(REPEATED_NAME_MARK).next().unwrap_or(name)
}

/// Result columns may share a name in PostgreSQL (`SELECT i, i`, `SELECT 1 AS a, 2 AS
/// a`, `INSERT ... SELECT i, i`); DataFusion requires unique names. A repeated name
/// gets a unique alias (`a<mark>2`) that the server sends as `a` again. Every select
/// of a set operation is covered (only the first one's names are the result's).
/// Views keep DataFusion's rule: a view's columns need distinct names.
fn allow_repeated_names(query: &mut Query) {
    fn selects<'a>(
        body: &'a mut SetExpr,
        out: &mut Vec<&'a mut datafusion::sql::sqlparser::ast::Select>,
    ) {
        match body {
            SetExpr::Select(select) => out.push(select),
            SetExpr::SetOperation { left, right, .. } => {
                selects(left, out);
                selects(right, out);
            }
            _ => {}
        }
    }
    let mut all = Vec::new();
    selects(query.body.as_mut(), &mut all);
    for select in all {
        let mut seen = HashSet::new();
        for (position, item) in select.projection.iter_mut().enumerate() {
            let (expr, name) = match item {
                SelectItem::ExprWithAlias { expr, alias } => {
                    (expr.clone(), super::names::normalize_ident(&*alias))
                }
                // Unnamed by [`name_columns_like_postgres`] only when its name was
                // taken: `?column?` for an expression without one of its own.
                SelectItem::UnnamedExpr(expr) => (
                    expr.clone(),
                    postgres_column_name(expr).unwrap_or_else(|| "?column?".to_string()),
                ),
                _ => continue,
            };
            if !seen.insert(name.clone()) {
                *item = SelectItem::ExprWithAlias {
                    expr,
                    alias: Ident::with_quote(
                        '"',
                        format!("{name}{REPEATED_NAME_MARK}{}", position + 1),
                    ),
                };
            }
        }
    }
}

/// The name of the table function `factor` calls (`f(...)` in `FROM`), normalized.
fn table_function(factor: &datafusion::sql::sqlparser::ast::TableFactor) -> Option<String> {
    match factor {
        datafusion::sql::sqlparser::ast::TableFactor::Table {
            name,
            args: Some(_),
            ..
        } => name
            .0
            .last()
            .and_then(|part| part.as_ident())
            .map(super::names::normalize_ident),
        _ => None,
    }
}

/// `generate_series(...)` in `FROM` names its column as PostgreSQL does: after the
/// alias (`generate_series(1, 3) AS i` has column `i`), else after the function,
/// where DataFusion would call it `value`.
fn name_function_columns(statement: &mut Statement) {
    use datafusion::sql::sqlparser::ast::{
        TableAlias, TableAliasColumnDef, TableFactor, VisitMut, VisitorMut,
    };
    struct Namer;
    impl VisitorMut for Namer {
        type Break = ();
        fn pre_visit_table_factor(
            &mut self,
            factor: &mut TableFactor,
        ) -> std::ops::ControlFlow<()> {
            if table_function(factor).as_deref() == Some("generate_series")
                && let TableFactor::Table { alias, .. } = factor
                && alias.as_ref().is_none_or(|a| a.columns.is_empty())
            {
                let alias = alias.get_or_insert_with(|| TableAlias {
                    explicit: true,
                    name: Ident::new("generate_series"),
                    columns: Vec::new(),
                    at: None,
                });
                alias.columns = vec![TableAliasColumnDef {
                    name: alias.name.clone(),
                    data_type: None,
                }];
            }
            std::ops::ControlFlow::Continue(())
        }
    }
    let _ = statement.visit(&mut Namer);
}

/// Whether `expr` has a name of its own (a column or function, under casts or not),
/// which a cast of it keeps.
fn named_by_itself(expr: &Expr) -> bool {
    match expr {
        Expr::Identifier(_) | Expr::CompoundIdentifier(_) | Expr::Function(_) => true,
        Expr::Nested(inner) | Expr::Cast { expr: inner, .. } => named_by_itself(inner),
        expr => special_function_name(expr).is_some(),
    }
}

/// The name PostgreSQL gives a call written in the SQL standard's special syntax
/// (`substring(s FROM 2)`, `trim(BOTH FROM s)`, `x AT TIME ZONE z`): the function's.
fn special_function_name(expr: &Expr) -> Option<&'static str> {
    use datafusion::sql::sqlparser::ast::TrimWhereField;
    Some(match expr {
        Expr::Substring {
            shorthand: true, ..
        } => "substr",
        Expr::Substring { .. } => "substring",
        Expr::Trim {
            trim_where: Some(TrimWhereField::Leading),
            ..
        } => "ltrim",
        Expr::Trim {
            trim_where: Some(TrimWhereField::Trailing),
            ..
        } => "rtrim",
        Expr::Trim { .. } => "btrim",
        Expr::Position { .. } => "position",
        Expr::Extract { .. } => "extract",
        Expr::Ceil { .. } => "ceil",
        Expr::Floor { .. } => "floor",
        Expr::Overlay { .. } => "overlay",
        Expr::AtTimeZone { .. } => "timezone",
        _ => return None,
    })
}

/// The name PostgreSQL gives a cast to `data_type` (or a literal of that type) whose
/// operand has no name of its own: the type's internal name.
fn type_column_name(data_type: &datafusion::sql::sqlparser::ast::DataType) -> String {
    let name = data_type.to_string().to_lowercase();
    match name.as_str() {
        "int" | "integer" => "int4".into(),
        "bigint" => "int8".into(),
        "smallint" => "int2".into(),
        "real" => "float4".into(),
        "double precision" => "float8".into(),
        "boolean" => "bool".into(),
        _ => name.split('(').next().unwrap_or_default().to_string(),
    }
}

/// Postgres's `FigureColname`: the name of a column, function or cast type.
fn postgres_column_name(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Identifier(id) => Some(id.value.to_lowercase()),
        Expr::CompoundIdentifier(ids) => ids.last().map(|id| id.value.to_lowercase()),
        // `x = ANY(array)`, which the pg_catalog crate's parser writes as a call.
        Expr::Function(f) if f.name.to_string().eq_ignore_ascii_case("array_contains") => {
            Some("?column?".to_string())
        }
        Expr::Function(f) => f.name.0.last().map(|part| part.to_string().to_lowercase()),
        Expr::Nested(inner) => postgres_column_name(inner),
        // A cast is named after its operand when that has a name of its own (a column
        // or function, however deep in casts), else after its type: PostgreSQL's
        // name strengths, so `'t'::regclass::oid` is `oid`.
        Expr::Cast {
            expr, data_type, ..
        } => named_by_itself(expr)
            .then(|| postgres_column_name(expr))
            .flatten()
            .or_else(|| Some(type_column_name(data_type))),
        Expr::TypedString(literal) => Some(type_column_name(&literal.data_type)),
        Expr::Interval(_) => Some("interval".into()),
        Expr::Case { .. } => Some("case".into()),
        Expr::Exists { .. } => Some("exists".into()),
        Expr::Array(_) => Some("array".into()),
        expr => special_function_name(expr).map(str::to_string),
    }
}

/// `sql` parsed as PostgreSQL text, rewritten by `rewrite`, printed back: the unit
/// tests of the statement rewrites read their answers so.
#[cfg(test)]
pub(crate) fn rewritten_by(sql: &str, rewrite: fn(&mut Statement)) -> String {
    let mut statement = DfParser::parse_sql(&PostgreSqlDialect {}, sql)
        .unwrap()
        .remove(0);
    rewrite(&mut statement);
    statement.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> String {
        SqlParser::default().parse_one(sql).unwrap().to_string()
    }

    #[test]
    fn unnest_over_storage_options_is_no_rows() {
        let text = rewritten(
            "SELECT array(select 'toast.' || x from pg_catalog.unnest(tc.reloptions) x) \
             FROM pg_class tc",
        );
        assert!(
            text.contains("FROM (SELECT CAST(NULL AS TEXT) AS unnest WHERE false) x (x)"),
            "{text}"
        );
        // Other arrays are DataFusion's.
        let text = rewritten("SELECT x FROM unnest(make_array(1, 2)) x");
        assert!(text.contains("UNNEST(make_array(1, 2)) x"), "{text}");
    }

    #[test]
    fn qualified_columns_keep_their_subscripts() {
        for (sql, expected) in [
            ("SELECT con.conkey[1] FROM t con", "con.conkey[1]"),
            ("SELECT s.t.c[2] FROM s.t", "s.t.c[2]"),
            ("SELECT (f(x)).a FROM t", "(f(x)).'a'"),
        ] {
            let text = rewritten(sql);
            assert!(text.contains(expected), "{sql}: {text}");
        }
    }

    #[test]
    fn syntax_errors_have_sqlstate_42601() {
        let err = SqlParser::default().parse("SELEC 1").unwrap_err();
        assert_eq!(err.sqlstate(), "42601");
        let err = SqlParser::default()
            .parse("SELECT 'unterminated")
            .unwrap_err();
        assert_eq!(err.sqlstate(), "42601");
    }

    #[test]
    fn statements_nested_too_deeply_are_refused_with_54001() {
        let deep = [
            format!("SELECT {}1{}", "ARRAY[".repeat(48), "]".repeat(48)),
            format!("SELECT {}1{}", "(".repeat(5_000), ")".repeat(5_000)),
            format!("SELECT 1{}", " + 1".repeat(2_000)),
            format!("SELECT 'a'{}", " || 'a'".repeat(10_000)),
            format!(
                "SELECT {}1{}",
                "CASE WHEN true THEN ".repeat(100_000),
                " END".repeat(100_000)
            ),
            format!("SELECT {}true", "NOT ".repeat(100_000)),
            format!("SELECT {}1", "- ".repeat(100_000)),
        ];
        for sql in deep {
            let started = std::time::Instant::now();
            let err = SqlParser::default().parse(&sql).unwrap_err();
            assert_eq!(err.sqlstate(), "54001", "{}: {err}", &sql[..30]);
            assert!(started.elapsed() < std::time::Duration::from_secs(20));
        }
        let nested = format!("SELECT {}1{}", "(".repeat(30), ")".repeat(30));
        SqlParser::default().parse(&nested).unwrap();
    }

    #[test]
    fn function_calls_nest_at_most_16_deep() {
        let calls = |open: &str, close: &str, n: usize| {
            format!("SELECT {}1{}", open.repeat(n), close.repeat(n))
        };
        let parser = SqlParser::default();
        for refused in [calls("abs(", ")", 17), calls("coalesce(", ", 2)", 30)] {
            let started = std::time::Instant::now();
            let err = parser.parse(&refused).unwrap_err();
            assert_eq!(err.sqlstate(), "54001", "{refused}: {err}");
            assert!(started.elapsed() < std::time::Duration::from_secs(1));
        }
        parser.parse(&calls("abs(", ")", 16)).unwrap();
        // Parentheses that are not calls' are not counted as calls.
        parser.parse(&calls("1 IN (", ")", 20)).unwrap();
        let plain = format!("SELECT abs({}1{})", "(".repeat(25), ")".repeat(25));
        parser.parse(&plain).unwrap();
        let subqueries = calls("EXISTS (SELECT ", ")", 20);
        assert_ne!(
            parser.parse(&subqueries).err().map(|e| e.to_string()),
            Some("statement is too complex: it nests function calls more than 16 deep".into())
        );
    }

    #[test]
    fn unnamed_columns_get_postgres_names() {
        let sql = "SELECT 1, count(*), count(x), max(t.y), a, 2::int, x::text, a + 1 AS s FROM t";
        let statement = SqlParser::default().parse_one(sql).unwrap();
        let text = statement.to_string();
        assert!(text.contains(r#"1 AS "?column?""#), "{text}");
        assert!(text.contains(r#"count(*) AS "count""#), "{text}");
        let repeated = format!("count(x) AS \"count{REPEATED_NAME_MARK}3\"");
        assert!(
            text.contains(&repeated),
            "a repeated name is made unique: {text}"
        );
        assert_eq!(output_name(&format!("count{REPEATED_NAME_MARK}3")), "count");
        assert!(text.contains(r#"max(t.y) AS "max""#), "{text}");
        assert!(text.contains(r#"2::INT AS "int4""#), "{text}");
        assert!(text.contains(r#"x::TEXT AS "x""#), "{text}");
    }

    #[test]
    fn temporal_join_tables_become_a_view_option_and_mod_a_remainder() {
        let sql = "CREATE MATERIALIZED VIEW v AS SELECT b.a, s.v FROM b JOIN side \
                   FOR SYSTEM_TIME AS OF PROCTIME() s ON mod(b.a, 10) = s.k";
        let text = SqlParser::default().parse_one(sql).unwrap().to_string();
        assert!(
            text.contains("WITH (temporal_join_tables = 'side')")
                && text.contains("((b.a) % (10)) = s.k")
                && !text.contains("SYSTEM_TIME"),
            "{text}"
        );
        assert_eq!(
            SqlParser::default().parse_one(&text).unwrap().to_string(),
            text
        );
    }

    #[test]
    fn emit_on_window_close_becomes_a_view_option() {
        let sql = "CREATE MATERIALIZED VIEW v AS SELECT window_start, count(*) FROM t GROUP BY 1\n  emit on window close;";
        let statement = SqlParser::default().parse_one(sql).unwrap();
        let text = statement.to_string();
        assert!(
            text.contains("WITH (emit_on_window_close = true)"),
            "{text}"
        );
        // The stored form parses back to the same statement.
        assert_eq!(
            SqlParser::default().parse_one(&text).unwrap().to_string(),
            text
        );
    }

    #[test]
    fn emit_on_window_close_is_found_by_tokens() {
        let parser = SqlParser::default();
        let emits = |sql: &str| match parser.parse_one(sql) {
            Ok(statement) => Ok(statement.to_string().contains("emit_on_window_close")),
            Err(e) => Err(e.sqlstate()),
        };
        let view = "CREATE MATERIALIZED VIEW v AS SELECT window_end, count(*) FROM t GROUP BY 1";
        assert_eq!(
            emits(&format!("{view} EMIT /* c */ ON\tWINDOW -- c\n CLOSE")),
            Ok(true)
        );
        assert_eq!(
            emits(&format!("{view} EMIT ON WINDOW CLOSE -- the end")),
            Ok(true)
        );
        // A quoted name or a string is not the clause.
        assert_eq!(emits(&format!("{view}, 'EMIT ON WINDOW CLOSE'")), Ok(false));
        assert_eq!(
            emits(&format!("{view} EMIT ON WINDOW CLOSE HAVING count(*) > 1")),
            Err("42601")
        );
    }

    #[test]
    fn exponent_literals_are_written_out() {
        for (literal, written) in [
            ("1e15", Some("1000000000000000")),
            ("1.50e1", Some("15.0")),
            ("1.5e-7", Some("0.00000015")),
            ("2E+3", Some("2000")),
            ("0.5e0", Some("0.5")),
            ("12.5", None),
            ("1e-300", None),
            ("1e100", None),
        ] {
            assert_eq!(without_exponent(literal).as_deref(), written, "{literal}");
        }
        let statement = SqlParser::default()
            .parse_one("SELECT 1e15::float8")
            .unwrap();
        assert_eq!(
            statement.to_string(),
            r#"SELECT 1000000000000000::FLOAT8 AS "float8""#
        );
    }

    #[test]
    fn several_statements_split() {
        let stmts = SqlParser::default()
            .parse("SELECT 1; SELECT 'a;b'; flush ;")
            .unwrap();
        assert_eq!(stmts.len(), 3);
        assert!(matches!(stmts[2], SqlStatement::Flush));
        assert!(SqlParser::default().parse(" ; ").unwrap().is_empty());
        let multiline = SqlParser::default()
            .parse("SELECT 'é'\n  ;\nSELECT\n 2 -- c;\n")
            .unwrap();
        assert_eq!(multiline.len(), 2);
    }
}
