//! How far around a row window functions read: the [`Reach`] that lets a view with
//! `EMIT ON WINDOW CLOSE` emit a row once the rows it reads are closed and forget the
//! rows no later one reads ([`crate::dataflow::closing_over_window`]).
//!
//! ```text
//!   LAG(x, n)                                        n rows back
//!   LEAD(x, n)                                       n rows ahead
//!   agg/first_value/... OVER (ROWS BETWEEN a PRECEDING AND b FOLLOWING)
//!                                                    a rows back, b ahead
//!   ... RANGE BETWEEN INTERVAL a PRECEDING AND INTERVAL b FOLLOWING
//!                                                    a back in time, b ahead
//!   ROW_NUMBER, RANK, DENSE_RANK, UNBOUNDED PRECEDING every row back
//!   NTILE, PERCENT_RANK, CUME_DIST, UNBOUNDED FOLLOWING, GROUPS
//!                                                    refused: they read rows still to come
//! ```

use datafusion::logical_expr::expr::{WindowFunction, WindowFunctionDefinition};
use datafusion::logical_expr::{Expr, WindowFrame, WindowFrameBound, WindowFrameUnits};
use datafusion::scalar::ScalarValue;

use super::join_expiry::scalar_interval_micros;
use crate::dataflow::closing_over_window::{Reach, Span};
use crate::error::{Result, SluiceError};

/// The reach of window function `f` (see the module docs); functions that read every
/// row after theirs are refused with `0A000`.
pub fn reach(f: &WindowFunction) -> Result<Reach> {
    let name = f.fun.name().to_ascii_lowercase();
    let refuse = |why: &str| {
        SluiceError::not_supported(format!(
            "EMIT ON WINDOW CLOSE over {name}(...) OVER (...): {why}, so its rows would never \
             close; use the view without EMIT ON WINDOW CLOSE"
        ))
    };
    let rows = |n: u64| Span {
        rows: n,
        micros: None,
    };
    match &f.fun {
        WindowFunctionDefinition::WindowUDF(_) => match name.as_str() {
            "row_number" | "rank" | "dense_rank" => Ok(Reach {
                back: None,
                ahead: Span::default(),
            }),
            "lag" | "lead" => {
                let offset = match f.params.args.get(1) {
                    None => 1,
                    Some(Expr::Literal(value, _)) => integer(value)
                        .ok_or_else(|| refuse("its offset is not an integer constant"))?,
                    Some(_) => return Err(refuse("its offset is not a constant")),
                };
                // LAG(x, -n) is LEAD(x, n).
                let back = if name == "lag" { offset } else { -offset };
                Ok(Reach {
                    back: Some(rows(back.max(0).unsigned_abs())),
                    ahead: rows(back.min(0).unsigned_abs()),
                })
            }
            "first_value" | "last_value" | "nth_value" => {
                frame_reach(&f.params.window_frame).map_err(|why| refuse(&why))
            }
            "ntile" | "percent_rank" | "cume_dist" => Err(refuse("it reads the whole partition")),
            _ => Err(refuse("its reach is not known")),
        },
        WindowFunctionDefinition::AggregateUDF(_) => {
            frame_reach(&f.params.window_frame).map_err(|why| refuse(&why))
        }
    }
}

/// The reach of a frame, or why it has none.
fn frame_reach(frame: &WindowFrame) -> std::result::Result<Reach, String> {
    let offset = |value: &ScalarValue| -> std::result::Result<Option<Span>, String> {
        if value.is_null() {
            return Ok(None);
        }
        match frame.units {
            WindowFrameUnits::Rows => integer(value)
                .filter(|n| *n >= 0)
                .map(|n| {
                    Some(Span {
                        rows: n.unsigned_abs(),
                        micros: None,
                    })
                })
                .ok_or_else(|| format!("its frame offset {value} is not a row count")),
            WindowFrameUnits::Range => scalar_interval_micros(value)
                .map(|c| {
                    Some(Span {
                        rows: 0,
                        micros: Some(c),
                    })
                })
                .ok_or_else(|| {
                    format!("its frame offset {value} is not an interval of fixed length")
                }),
            WindowFrameUnits::Groups => Err("its frame counts GROUPS".to_string()),
        }
    };
    // A RANGE frame's CURRENT ROW reaches the row's peers (the same time).
    let current = Span {
        rows: 0,
        micros: (frame.units == WindowFrameUnits::Range).then_some(0),
    };
    let back = match &frame.start_bound {
        WindowFrameBound::Preceding(value) => offset(value)?,
        WindowFrameBound::CurrentRow | WindowFrameBound::Following(_) => Some(current),
    };
    let ahead = match &frame.end_bound {
        WindowFrameBound::Following(value) => {
            offset(value)?.ok_or("its frame ends UNBOUNDED FOLLOWING")?
        }
        WindowFrameBound::CurrentRow | WindowFrameBound::Preceding(_) => current,
    };
    Ok(Reach { back, ahead })
}

/// An integer constant's value.
fn integer(value: &ScalarValue) -> Option<i64> {
    match value.cast_to(&datafusion::arrow::datatypes::DataType::Int64) {
        Ok(ScalarValue::Int64(v)) => v,
        _ => None,
    }
}
