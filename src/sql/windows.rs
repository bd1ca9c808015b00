//! Window table functions `TUMBLE` and `HOP` (RisingWave's form), rewritten into
//! plain SQL before planning, so batch queries and materialized views share one
//! meaning and the incremental engine needs no special operator:
//!
//! ```text
//! TUMBLE(t, ts, size)       →  (SELECT *, date_bin(size, ts) AS window_start,
//!                                        date_bin(size, ts) + size AS window_end FROM t) AS t
//! HOP(t, ts, slide, size)   →  one such projection per window a row falls in
//!                              (size / slide of them), combined with UNION ALL
//! CUMULATE(t, ts, step, size) → windows starting with each `size` window and ending
//!                              every `step` within it; UNION ALL of filtered projections
//! ```
//!
//! Windows are aligned to the Unix epoch, or to the epoch plus `offset` with
//! RisingWave's optional last argument `TUMBLE(t, ts, size, offset)` /
//! `HOP(t, ts, slide, size, offset)`; `window_start` is inclusive, `window_end`
//! exclusive. Sizes must be fixed durations (no months); a hop's slide must divide its
//! size. Every window bound is a non-decreasing function of the time column, so the
//! planner derives its watermark ([`super::watermarks`]).
//!
//! `SESSION(t, ts, gap, key...)` cannot be a projection (a row's session depends on
//! its key's other rows): it becomes the session window functions of
//! [`super::session_functions`] over `PARTITION BY key...`, which views replace with
//! the incremental [`Session`](crate::dataflow::session::Session) operator.

use std::ops::ControlFlow;

use datafusion::arrow::compute::kernels::cast_utils::parse_interval_month_day_nano;
use datafusion::sql::sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, Ident, Interval, Statement, TableAlias, TableFactor,
    VisitMut, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

use super::functions::interval_input;
use crate::error::{Result, SluiceError, sqlstate};

/// Most windows a hop may put one row in (size / slide).
const MAX_HOP_WINDOWS: i64 = 100;

/// Rewrites every `TUMBLE(...)` / `HOP(...)` / `CUMULATE(...)` in `statement`'s `FROM` clauses.
pub fn rewrite_windows(statement: &mut Statement) -> Result<()> {
    let mut rewriter = Rewriter;
    match statement.visit(&mut rewriter) {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(e) => Err(e),
    }
}

struct Rewriter;

impl VisitorMut for Rewriter {
    type Break = SluiceError;

    fn post_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<SluiceError> {
        let TableFactor::Table {
            name,
            args: Some(args),
            alias,
            ..
        } = factor
        else {
            return ControlFlow::Continue(());
        };
        let function = name.to_string().to_lowercase();
        if !matches!(function.as_str(), "tumble" | "hop" | "cumulate" | "session") {
            return ControlFlow::Continue(());
        }
        match window_subquery(&function, &args.args, alias.clone()) {
            Ok(derived) => {
                *factor = derived;
                ControlFlow::Continue(())
            }
            Err(e) => ControlFlow::Break(e),
        }
    }
}

/// Replaces DataFusion's long `date_bin` signature error, which is what a window over
/// a column that is not a timestamp produces, with a sentence about the window.
pub fn explain_error(error: SluiceError) -> SluiceError {
    let message = error.to_string();
    if message.contains("'date_bin'") && message.contains("coerce") {
        SluiceError::DatatypeMismatch(
            "the time column of a TUMBLE or HOP window must be a timestamp".into(),
        )
    } else if message.contains("the time column of a SESSION window") {
        SluiceError::DatatypeMismatch(
            "the time column of a SESSION window must be a timestamp".into(),
        )
    } else {
        error
    }
}

fn invalid(message: String) -> SluiceError {
    SluiceError::coded(sqlstate::INVALID_PARAMETER_VALUE, message)
}

fn expr_arg(arg: &FunctionArg) -> Option<&Expr> {
    match arg {
        FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
        _ => None,
    }
}

/// Microseconds of a positive fixed-length interval literal (a window size).
fn interval_micros(function: &str, expr: &Expr) -> Result<i64> {
    let micros = fixed_micros(function, expr)?;
    if micros <= 0 {
        return Err(invalid(format!(
            "{function}: window size {expr} must be positive"
        )));
    }
    Ok(micros)
}

/// Microseconds of a fixed-length interval literal.
fn fixed_micros(function: &str, expr: &Expr) -> Result<i64> {
    let Expr::Interval(Interval {
        value,
        leading_field,
        ..
    }) = expr
    else {
        return Err(invalid(format!(
            "{function}: window sizes are INTERVAL literals, not {expr}"
        )));
    };
    let text = match value.as_ref() {
        Expr::Value(v) => v.value.to_string().trim_matches('\'').to_string(),
        other => other.to_string(),
    };
    // Text alone is read as PostgreSQL reads an interval (`'01:00:00'`, `'1 day 02:00'`);
    // with a unit after it (`'5' MINUTE`), or in Arrow's own forms, by Arrow's parser.
    let read = match leading_field {
        None => interval_input::parse(&text)
            .ok()
            .map(|i| (i.months, i.days, i.microseconds)),
        Some(_) => None,
    };
    let (months, days, micros) = match read {
        Some(read) => read,
        None => {
            let text = match leading_field {
                Some(unit) => format!("{text} {unit}"),
                None => text,
            };
            let interval = parse_interval_month_day_nano(&text)
                .map_err(|e| invalid(format!("{function}: invalid interval {expr}: {e}")))?;
            (interval.months, interval.days, interval.nanoseconds / 1000)
        }
    };
    if months != 0 {
        return Err(invalid(format!(
            "{function}: window sizes must be fixed durations; months and years vary ({expr})"
        )));
    }
    i64::from(days)
        .checked_mul(MICROS_PER_DAY)
        .and_then(|days| days.checked_add(micros))
        .ok_or_else(|| invalid(format!("{function}: window size {expr} is out of range")))
}

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// For HOP and CUMULATE: the step (µs) and how many windows a row falls in
/// (`size / step`), which must be a whole number of at most [`MAX_HOP_WINDOWS`].
fn windows_per_row(
    function: &str,
    step_name: &str,
    step_expr: &Expr,
    size_expr: &Expr,
) -> Result<(i64, i64)> {
    let step = interval_micros(function, step_expr)?;
    let size = interval_micros(function, size_expr)?;
    if size % step != 0 {
        return Err(invalid(format!(
            "{function}: the {step_name} {step_expr} must divide the size {size_expr}"
        )));
    }
    let windows = size / step;
    if windows > MAX_HOP_WINDOWS {
        return Err(SluiceError::not_supported(format!(
            "{function}: a row would fall in {windows} windows; at most {MAX_HOP_WINDOWS} are supported"
        )));
    }
    Ok((step, windows))
}

/// `SESSION(t, ts, gap, k...)`: each row's session bounds from the session window
/// functions, partitioned by the key columns (see [`super::session_functions`]).
fn session_sql(relation: &str, time: &str, rest: &[&Expr]) -> Result<String> {
    let gap = interval_micros("SESSION", rest[0])?;
    let keys = rest[1..]
        .iter()
        .map(|key| match key {
            Expr::Identifier(_) | Expr::CompoundIdentifier(_) => Ok(key.to_string()),
            other => Err(SluiceError::Syntax(format!(
                "SESSION(relation, time_column, gap [, key_column ...]): partition keys are columns, not {other}"
            ))),
        })
        .collect::<Result<Vec<_>>>()?;
    let over = if keys.is_empty() {
        "OVER ()".to_string()
    } else {
        format!("OVER (PARTITION BY {})", keys.join(", "))
    };
    Ok(format!(
        "SELECT *, {start}({time}, {gap}) {over} AS window_start, \
         {end}({time}, {gap}) {over} AS window_end FROM {relation}",
        start = super::session_functions::SESSION_START,
        end = super::session_functions::SESSION_END,
    ))
}

fn window_subquery(
    function: &str,
    args: &[FunctionArg],
    alias: Option<TableAlias>,
) -> Result<TableFactor> {
    let exprs: Vec<&Expr> = args.iter().filter_map(expr_arg).collect();
    let usage = match function {
        "tumble" => "TUMBLE(relation, time_column, size [, offset])",
        "hop" => "HOP(relation, time_column, slide, size [, offset])",
        "session" => "SESSION(relation, time_column, gap [, key_column ...])",
        _ => "CUMULATE(relation, time_column, step, size)",
    };
    let wanted = match function {
        "tumble" => 3..=4,
        "hop" => 4..=5,
        "session" => 3..=usize::MAX,
        _ => 4..=4,
    };
    if exprs.len() != args.len() || !wanted.contains(&exprs.len()) {
        return Err(SluiceError::Syntax(format!("syntax error: use {usage}")));
    }
    let relation = match exprs[0] {
        Expr::Identifier(_) | Expr::CompoundIdentifier(_) => exprs[0].to_string(),
        other => {
            return Err(SluiceError::Syntax(format!(
                "{usage}: {other} is not a relation"
            )));
        }
    };
    let time = match exprs[1] {
        Expr::Identifier(id) => id.to_string(),
        other => {
            return Err(SluiceError::Syntax(format!(
                "{usage}: {other} is not a column"
            )));
        }
    };
    // RisingWave's offset moves the windows' alignment from the epoch.
    let offset = match function {
        "tumble" => exprs.get(3),
        "hop" => exprs.get(4),
        _ => None,
    };
    let origin = match offset {
        Some(offset) => Some(fixed_micros(function, offset)?),
        None => None,
    };
    let bin = |stride: &Expr| match origin {
        Some(micros) => format!(
            "date_bin({stride}, {time}, TIMESTAMP '1970-01-01 00:00:00' + INTERVAL '{micros} microseconds')"
        ),
        None => format!("date_bin({stride}, {time})"),
    };
    let sql = if function == "session" {
        session_sql(&relation, &time, &exprs[2..])?
    } else if function == "tumble" {
        let size = exprs[2];
        interval_micros("TUMBLE", size)?;
        let start = bin(size);
        format!("SELECT *, {start} AS window_start, {start} + {size} AS window_end FROM {relation}")
    } else if function == "cumulate" {
        // Windows share the start of the `size` window a row is in and end every `step`
        // after it, up to the window's end: a row is in every such window that ends
        // after it, so the first ends at the next multiple of `step`.
        let (step_expr, size_expr) = (exprs[2], exprs[3]);
        let (step, windows) = windows_per_row("CUMULATE", "step", step_expr, size_expr)?;
        (1..=windows)
            .map(|j| {
                let start = format!("date_bin({size_expr}, {time})");
                let end = format!(
                    "date_bin({step_expr}, {time}) + INTERVAL '{} microseconds'",
                    j * step
                );
                format!(
                    "SELECT *, {start} AS window_start, {end} AS window_end FROM {relation} \
                     WHERE {end} <= {start} + {size_expr}"
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ")
    } else {
        let (slide_expr, size_expr) = (exprs[2], exprs[3]);
        let (slide, windows) = windows_per_row("HOP", "slide", slide_expr, size_expr)?;
        let latest = bin(slide_expr);
        (0..windows)
            .map(|i| {
                let start = format!("{latest} - INTERVAL '{} microseconds'", i * slide);
                format!(
                    "SELECT *, {start} AS window_start, {start} + {size_expr} AS window_end FROM {relation}"
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ")
    };
    let query = match Parser::parse_sql(&PostgreSqlDialect {}, &sql)?.pop() {
        Some(Statement::Query(query)) => query,
        _ => {
            return Err(SluiceError::Internal(format!(
                "window rewrite produced {sql}"
            )));
        }
    };
    let alias = alias.or_else(|| {
        let last = relation.rsplit('.').next().unwrap_or(&relation).to_string();
        Some(TableAlias {
            explicit: true,
            name: Ident::new(last.trim_matches('"')),
            columns: vec![],
            at: None,
        })
    });
    Ok(TableFactor::Derived {
        lateral: false,
        subquery: query,
        alias,
        sample: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> Result<String> {
        let mut statement = Parser::parse_sql(&PostgreSqlDialect {}, sql)?.remove(0);
        rewrite_windows(&mut statement)?;
        Ok(statement.to_string())
    }

    #[test]
    fn tumble_becomes_a_projection_with_window_columns() {
        let sql = rewritten("SELECT window_start, count(*) FROM TUMBLE(bids, date_time, INTERVAL '10' SECOND) GROUP BY 1")
            .unwrap();
        assert!(
            sql.contains("date_bin(INTERVAL '10' SECOND, date_time) AS window_start"),
            "{sql}"
        );
        assert!(sql.contains("AS bids"), "{sql}");
    }

    #[test]
    fn hop_becomes_one_branch_per_window() {
        let sql =
            rewritten("SELECT * FROM HOP(bids, t, INTERVAL '2' SECOND, INTERVAL '10' SECOND) AS h")
                .unwrap();
        assert_eq!(sql.matches("UNION ALL").count(), 4, "{sql}");
        assert!(sql.contains("AS h"), "{sql}");
    }

    #[test]
    fn cumulate_becomes_one_filtered_branch_per_step() {
        let sql =
            rewritten("SELECT * FROM CUMULATE(bids, t, INTERVAL '2' SECOND, INTERVAL '10' SECOND)")
                .unwrap();
        assert_eq!(sql.matches("UNION ALL").count(), 4, "{sql}");
        assert!(
            sql.contains("WHERE date_bin(INTERVAL '2' SECOND, t) + INTERVAL '2000000 microseconds' <= date_bin"),
            "{sql}"
        );
    }

    #[test]
    fn an_offset_moves_the_windows_origin() {
        let sql =
            rewritten("SELECT * FROM TUMBLE(b, t, INTERVAL '10' SECOND, INTERVAL '3' SECOND)")
                .unwrap();
        assert!(
            sql.contains("date_bin(INTERVAL '10' SECOND, t, TIMESTAMP '1970-01-01 00:00:00' + INTERVAL '3000000 microseconds')"),
            "{sql}"
        );
        let sql = rewritten(
            "SELECT * FROM HOP(b, t, INTERVAL '5' SECOND, INTERVAL '10' SECOND, INTERVAL '-1' SECOND)",
        )
        .unwrap();
        assert_eq!(
            sql.matches("INTERVAL '-1000000 microseconds'").count(),
            4,
            "{sql}"
        );
    }

    #[test]
    fn window_sizes_are_read_as_postgresql_reads_intervals() {
        let micros = |text: &str| {
            let expr = Parser::new(&PostgreSqlDialect {})
                .try_with_sql(text)
                .unwrap()
                .parse_expr()
                .unwrap();
            fixed_micros("TUMBLE", &expr)
        };
        let hour = 3_600_000_000;
        assert_eq!(micros("INTERVAL '01:00:00'").unwrap(), hour);
        assert_eq!(micros("INTERVAL '1:30'").unwrap(), hour * 3 / 2);
        assert_eq!(micros("INTERVAL '1 day 02:00:00'").unwrap(), hour * 26);
        assert_eq!(micros("INTERVAL '10 seconds'").unwrap(), 10_000_000);
        assert_eq!(micros("INTERVAL '10' SECOND").unwrap(), 10_000_000);
        assert_eq!(micros("INTERVAL '500 milliseconds'").unwrap(), 500_000);
        assert_eq!(micros("INTERVAL '1 mon'").unwrap_err().sqlstate(), "22023");
        assert_eq!(
            micros("INTERVAL '2000000000 days'").unwrap_err().sqlstate(),
            "22023"
        );
        let sql = rewritten("SELECT * FROM TUMBLE(b, t, INTERVAL '00:10:00')").unwrap();
        assert!(sql.contains("date_bin(INTERVAL '00:10:00', t)"), "{sql}");
    }

    #[test]
    fn invalid_windows_are_refused() {
        for (sql, code) in [
            ("SELECT * FROM TUMBLE(b, t, INTERVAL '0' SECOND)", "22023"),
            ("SELECT * FROM TUMBLE(b, t, INTERVAL '1' MONTH)", "22023"),
            (
                "SELECT * FROM HOP(b, t, INTERVAL '3' SECOND, INTERVAL '10' SECOND)",
                "22023",
            ),
            (
                "SELECT * FROM HOP(b, t, INTERVAL '1' SECOND, INTERVAL '1' HOUR)",
                "0A000",
            ),
            ("SELECT * FROM TUMBLE(b, t)", "42601"),
            (
                "SELECT * FROM TUMBLE(b, t, INTERVAL '1' SECOND, INTERVAL '1' MONTH)",
                "22023",
            ),
            (
                "SELECT * FROM CUMULATE(b, t, INTERVAL '1' SECOND, INTERVAL '2' SECOND, INTERVAL '1' SECOND)",
                "42601",
            ),
        ] {
            assert_eq!(rewritten(sql).unwrap_err().sqlstate(), code, "{sql}");
        }
    }
}
