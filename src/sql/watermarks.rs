//! Watermarks derived through a view's plan, as RisingWave derives them.
//!
//! Every output column of every plan node may have a watermark: an expression of the
//! view's watermark `W` (a column named
//! [`WATERMARK_COLUMN`](crate::dataflow::watermark::WATERMARK_COLUMN)) that every row
//! still to arrive or to change has the column at or above. Only non-decreasing
//! functions of a watermarked column carry one:
//!
//! ```text
//!   ts of a source or APPEND ONLY table       W
//!   (WATERMARK FOR ts)
//!   date_bin(size, ts [, origin])             date_bin(size, W [, origin])   window_start
//!   date_bin(size, ts) + size                 date_bin(size, W) + size       window_end
//!   date_trunc('minute', ts), ts ± interval   the same of W
//!   CAST(ts AS another timestamp type)        the same of W
//!   GROUP BY expression                       the expression's, derived
//!   UNION ALL                                 least over the branches
//!   a JOIN b ON a.k = b.k                     least(a.k's, b.k's), for both columns
//!   SESSION window_end                        the time column's + 1 µs
//!   anything else                             none
//! ```
//!
//! Operators close groups by these watermarks (see [`crate::dataflow::watermark`]);
//! a view's own output columns' watermarks are passed on to the views that read it.

use std::collections::HashMap;

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::DFSchema;
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::expr::{Cast, ScalarFunction};
use datafusion::logical_expr::{BinaryExpr, Expr, ExprSchemable, LogicalPlan, Operator, ident};
use datafusion::scalar::ScalarValue;

use super::names::reference_name;
use super::session_functions::bound_of;
use crate::catalog::Relation;
use crate::database::Database;
use crate::dataflow::session::Bound;
use crate::dataflow::watermark::{Closing, ColumnWatermark, WATERMARK_COLUMN, watermark_schema};
use crate::error::Result;

/// Per column of a plan node's output, its watermark, if it has one.
pub type ColumnWatermarks = Vec<Option<Expr>>;

/// Derives column watermarks bottom-up, remembering each node's.
pub struct Derivation<'a> {
    db: &'a Database,
    /// By node address: the nodes stay in place while a plan is translated.
    derived: HashMap<usize, ColumnWatermarks>,
}

impl<'a> Derivation<'a> {
    /// Derivation over plans reading `db`'s relations.
    pub fn new(db: &'a Database) -> Self {
        Derivation {
            db,
            derived: HashMap::new(),
        }
    }

    /// The watermarks of `plan`'s output columns.
    pub fn of(&mut self, plan: &LogicalPlan) -> Result<ColumnWatermarks> {
        let address = plan as *const LogicalPlan as usize;
        if let Some(known) = self.derived.get(&address) {
            return Ok(known.clone());
        }
        let derived = self.derive(plan)?;
        self.derived.insert(address, derived.clone());
        Ok(derived)
    }

    /// The watermark of `expr`, an expression over `input`'s output.
    pub fn of_expr(&mut self, expr: &Expr, input: &LogicalPlan) -> Result<Option<Expr>> {
        let columns = self.of(input)?;
        Ok(derive_expr(expr, input.schema(), &columns))
    }

    fn derive(&mut self, plan: &LogicalPlan) -> Result<ColumnWatermarks> {
        use LogicalPlan as P;
        let width = plan.schema().fields().len();
        Ok(match plan {
            P::TableScan(scan) => {
                let full = self.relation(&scan.table_name, &scan.source.schema())?;
                match &scan.projection {
                    Some(projection) => projection.iter().map(|&i| full[i].clone()).collect(),
                    None => full,
                }
            }
            P::Projection(p) => {
                let input = self.of(&p.input)?;
                p.expr
                    .iter()
                    .map(|e| derive_expr(e, p.input.schema(), &input))
                    .collect()
            }
            P::Filter(f) => self.of(&f.input)?,
            P::Sort(s) => self.of(&s.input)?,
            P::SubqueryAlias(a) => self.of(&a.input)?,
            P::Limit(l) => self.of(&l.input)?,
            P::Distinct(datafusion::logical_expr::Distinct::All(input)) => self.of(input)?,
            P::Aggregate(a) => {
                let input = self.of(&a.input)?;
                let mut out: ColumnWatermarks = a
                    .group_expr
                    .iter()
                    .map(|e| derive_expr(e, a.input.schema(), &input))
                    .collect();
                out.resize(width, None);
                out
            }
            P::Union(u) => {
                let branches = u
                    .inputs
                    .iter()
                    .map(|i| self.of(i))
                    .collect::<Result<Vec<_>>>()?;
                (0..width)
                    .map(|column| {
                        let each: Option<Vec<Expr>> =
                            branches.iter().map(|b| b[column].clone()).collect();
                        each.and_then(least)
                    })
                    .collect()
            }
            P::Join(join) => self.join(join, width)?,
            P::Window(window) => {
                let input = self.of(&window.input)?;
                let mut out = vec![None; window.input.schema().fields().len()];
                for expr in &window.window_expr {
                    out.push(session_end(expr, window.input.schema(), &input));
                }
                out
            }
            _ => vec![None; width],
        })
    }

    /// The watermarks of a relation's columns (`schema`: all of them).
    fn relation(
        &self,
        reference: &datafusion::common::TableReference,
        schema: &datafusion::arrow::datatypes::SchemaRef,
    ) -> Result<ColumnWatermarks> {
        let none = vec![None; schema.fields().len()];
        let Ok(name) = reference_name(reference) else {
            return Ok(none);
        };
        Ok(match self.db.catalog().get(&name) {
            Some(Relation::Source(source)) => {
                let config = source.source().config();
                let time = config
                    .watermark_column
                    .as_ref()
                    .filter(|_| config.watermark.is_some());
                schema
                    .fields()
                    .iter()
                    .map(|f| {
                        if Some(f.name()) == time {
                            time_column(f.data_type())
                        } else {
                            None
                        }
                    })
                    .collect()
            }
            Some(Relation::Table(table)) if table.store().has_watermark() => {
                let time = table.watermark_column();
                schema
                    .fields()
                    .iter()
                    .map(|f| {
                        if Some(f.name().as_str()) == time {
                            time_column(f.data_type())
                        } else {
                            None
                        }
                    })
                    .collect()
            }
            Some(Relation::View(view)) if view.running().watermarked() => {
                let derived = view.running().output_watermarks().to_vec();
                if derived.len() == schema.fields().len() {
                    derived
                } else {
                    none
                }
            }
            _ => none,
        })
    }

    /// A join's output: a column equated with one of the other side (`ON a.k = b.k`)
    /// keeps a watermark when both have one: a row still to come from either side has
    /// the key at or above the smaller of the two.
    fn join(
        &mut self,
        join: &datafusion::logical_expr::Join,
        width: usize,
    ) -> Result<ColumnWatermarks> {
        use datafusion::common::JoinType;
        let left = self.of(&join.left)?;
        let right = self.of(&join.right)?;
        let left_width = left.len();
        let right_offset = match join.join_type {
            JoinType::Inner | JoinType::Left | JoinType::Right | JoinType::Full => Some(left_width),
            JoinType::LeftSemi | JoinType::LeftAnti | JoinType::LeftMark => None,
            _ => return Ok(vec![None; width]),
        };
        let mut out = vec![None; width];
        for (l, r) in &join.on {
            let (Expr::Column(lc), Expr::Column(rc)) = (l, r) else {
                continue;
            };
            let (Ok(li), Ok(ri)) = (
                join.left.schema().index_of_column(lc),
                join.right.schema().index_of_column(rc),
            ) else {
                continue;
            };
            let (Some(lw), Some(rw)) = (&left[li], &right[ri]) else {
                continue;
            };
            let Some(both) = least(vec![lw.clone(), rw.clone()]) else {
                continue;
            };
            out[li] = Some(both.clone());
            if let Some(offset) = right_offset
                && let Some(slot) = out.get_mut(offset + ri)
            {
                *slot = Some(both);
            }
        }
        Ok(out)
    }
}

/// The watermarked columns among `columns` (derived watermarks by position), for an
/// operator that closes rows or groups by them; `None` when there are none.
pub fn closing(state: &SessionState, columns: &ColumnWatermarks) -> Result<Option<Closing>> {
    let closing = columns
        .iter()
        .enumerate()
        .filter_map(|(i, w)| w.as_ref().map(|w| (i, w)))
        .map(|(i, w)| Ok((i, column_watermark(state, w)?)))
        .collect::<Result<Vec<_>>>()?;
    Ok(Closing::new(closing))
}

/// [`watermark_schema`] for planning: what derived watermarks are typed against.
fn watermark_dfschema() -> Result<DFSchema> {
    Ok(DFSchema::try_from(watermark_schema().as_ref().clone())?)
}

/// Makes a derived watermark an evaluable [`ColumnWatermark`].
pub fn column_watermark(state: &SessionState, expr: &Expr) -> Result<ColumnWatermark> {
    let schema = watermark_dfschema()?;
    Ok(ColumnWatermark::new(
        state.create_physical_expr(expr.clone(), &schema)?,
    ))
}

/// The watermark of the watermarked time column of a source, typed `data_type`:
/// the view's watermark itself.
fn time_column(data_type: &DataType) -> Option<Expr> {
    match data_type {
        // A BIGINT cast to a timestamp keeps its value: µs since the epoch, UTC.
        DataType::Timestamp(TimeUnit::Microsecond, _) => Some(Expr::Cast(Cast::new(
            Box::new(ident(WATERMARK_COLUMN)),
            data_type.clone(),
        ))),
        _ => None,
    }
}

/// `expr`'s watermark when it is a non-decreasing function of one watermarked column
/// of `schema` (see the module docs), typed as a timestamp.
fn derive_expr(expr: &Expr, schema: &DFSchema, input: &ColumnWatermarks) -> Option<Expr> {
    let derived = match expr {
        Expr::Column(column) => input.get(schema.index_of_column(column).ok()?)?.clone(),
        Expr::Alias(alias) => derive_expr(&alias.expr, schema, input),
        Expr::Cast(cast) if matches!(cast.field.data_type(), DataType::Timestamp(..)) => {
            let inner = derive_expr(&cast.expr, schema, input)?;
            Some(Expr::Cast(Cast::new(
                Box::new(inner),
                cast.field.data_type().clone(),
            )))
        }
        Expr::ScalarFunction(f) => {
            // The argument that is the time, and the others, which must be constants.
            let time = match (f.func.name(), f.args.len()) {
                ("date_bin", 2 | 3) | ("date_trunc", 2) => 1,
                _ => return None,
            };
            let constants = f.args.iter().enumerate().filter(|(i, _)| *i != time);
            if !constants.into_iter().all(|(_, a)| is_constant(a)) {
                return None;
            }
            let mut args = f.args.clone();
            args[time] = derive_expr(&f.args[time], schema, input)?;
            Some(Expr::ScalarFunction(ScalarFunction::new_udf(
                f.func.clone(),
                args,
            )))
        }
        Expr::BinaryExpr(b) if b.op == Operator::Plus && is_interval(&b.right) => {
            let left = derive_expr(&b.left, schema, input)?;
            Some(binary(left, Operator::Plus, (*b.right).clone()))
        }
        Expr::BinaryExpr(b) if b.op == Operator::Plus && is_interval(&b.left) => {
            let right = derive_expr(&b.right, schema, input)?;
            Some(binary((*b.left).clone(), Operator::Plus, right))
        }
        Expr::BinaryExpr(b) if b.op == Operator::Minus && is_interval(&b.right) => {
            let left = derive_expr(&b.left, schema, input)?;
            Some(binary(left, Operator::Minus, (*b.right).clone()))
        }
        _ => None,
    };
    derived.filter(is_timestamp)
}

/// The watermark of a `SESSION` window's `window_end` column (`expr`, a window
/// function of the `Window` node over `schema`): a session still to change ends
/// after its time column's watermark.
fn session_end(expr: &Expr, schema: &DFSchema, input: &ColumnWatermarks) -> Option<Expr> {
    use datafusion::logical_expr::expr::WindowFunctionDefinition;
    let mut expr = expr;
    while let Expr::Alias(alias) = expr {
        expr = &alias.expr;
    }
    let Expr::WindowFunction(f) = expr else {
        return None;
    };
    let WindowFunctionDefinition::WindowUDF(udf) = &f.fun else {
        return None;
    };
    if bound_of(udf.name()) != Some(Bound::End) {
        return None;
    }
    let time = derive_expr(f.params.args.first()?, schema, input)?;
    let one = ScalarValue::IntervalMonthDayNano(Some(
        datafusion::arrow::datatypes::IntervalMonthDayNano::new(0, 0, 1_000),
    ));
    Some(binary(time, Operator::Plus, Expr::Literal(one, None))).filter(is_timestamp)
}

fn binary(left: Expr, op: Operator, right: Expr) -> Expr {
    Expr::BinaryExpr(BinaryExpr::new(Box::new(left), op, Box::new(right)))
}

/// The smallest of `exprs` (one expression: itself); `None` when their types differ.
/// The least of `exprs` (all of one type; `None` when they are not).
pub(super) fn least(mut exprs: Vec<Expr>) -> Option<Expr> {
    if exprs.len() == 1 {
        return exprs.pop();
    }
    let schema = watermark_dfschema().ok()?;
    let first = exprs.first()?.get_type(&schema).ok()?;
    if exprs
        .iter()
        .any(|e| e.get_type(&schema).ok().as_ref() != Some(&first))
    {
        return None;
    }
    Some(Expr::ScalarFunction(ScalarFunction::new_udf(
        datafusion::functions::core::least(),
        exprs,
    )))
}

fn is_constant(expr: &Expr) -> bool {
    matches!(expr, Expr::Literal(value, _) if !value.is_null())
}

fn is_interval(expr: &Expr) -> bool {
    matches!(expr, Expr::Literal(value, _)
        if !value.is_null() && matches!(value.data_type(), DataType::Interval(_)))
}

fn is_timestamp(expr: &Expr) -> bool {
    watermark_dfschema()
        .ok()
        .and_then(|schema| expr.get_type(&schema).ok())
        .is_some_and(|t| matches!(t, DataType::Timestamp(..)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::Field;
    use datafusion::prelude::{SessionContext, col, lit};

    fn micros(text: &str) -> i64 {
        datafusion::arrow::compute::kernels::cast_utils::string_to_timestamp_nanos(text).unwrap()
            / 1000
    }

    fn interval(seconds: i64) -> Expr {
        lit(ScalarValue::IntervalMonthDayNano(Some(
            datafusion::arrow::datatypes::IntervalMonthDayNano::new(0, 0, seconds * 1_000_000_000),
        )))
    }

    /// Derives `expr` over a relation `(ts TIMESTAMP, n BIGINT)` whose `ts` has the
    /// view's watermark, and evaluates the result at `watermark`.
    fn at(expr: Expr, watermark: &str) -> Option<String> {
        let time = DataType::Timestamp(TimeUnit::Microsecond, None);
        let schema = DFSchema::try_from(datafusion::arrow::datatypes::Schema::new(vec![
            Field::new("ts", time.clone(), false),
            Field::new("n", DataType::Int64, false),
        ]))
        .unwrap();
        let derived = derive_expr(&expr, &schema, &vec![time_column(&time), None])?;
        let state = SessionContext::new().state();
        let value = column_watermark(&state, &derived)
            .unwrap()
            .at(micros(watermark))
            .unwrap()?;
        Some(
            datafusion::arrow::array::TimestampMicrosecondArray::from(vec![value])
                .value_as_datetime(0)
                .unwrap()
                .to_string(),
        )
    }

    #[test]
    fn monotone_expressions_of_the_time_column_carry_its_watermark() {
        let date_bin = datafusion::functions::datetime::date_bin();
        let date_trunc = datafusion::functions::datetime::date_trunc();
        let start = Expr::ScalarFunction(ScalarFunction::new_udf(
            date_bin,
            vec![interval(10), col("ts")],
        ));
        let w = "2024-01-01T00:00:25";
        assert_eq!(at(col("ts"), w).as_deref(), Some("2024-01-01 00:00:25"));
        assert_eq!(at(start.clone(), w).as_deref(), Some("2024-01-01 00:00:20"));
        assert_eq!(
            at(start.clone() + interval(10), w).as_deref(),
            Some("2024-01-01 00:00:30")
        );
        assert_eq!(
            at(col("ts") - interval(60), w).as_deref(),
            Some("2023-12-31 23:59:25")
        );
        let minute = Expr::ScalarFunction(ScalarFunction::new_udf(
            date_trunc,
            vec![lit("minute"), col("ts")],
        ));
        assert_eq!(at(minute, w).as_deref(), Some("2024-01-01 00:00:00"));
    }

    #[test]
    fn other_expressions_have_no_watermark() {
        let date_bin = datafusion::functions::datetime::date_bin();
        // The stride is a column: not a fixed binning.
        let varying =
            Expr::ScalarFunction(ScalarFunction::new_udf(date_bin, vec![col("n"), col("ts")]));
        for expr in [col("n"), varying, interval(1) - col("ts").alias("x")] {
            assert_eq!(at(expr.clone(), "2024-01-01T00:00:25"), None, "{expr}");
        }
    }
}
