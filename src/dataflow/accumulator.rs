//! Retractable aggregate state: one [`Accumulator`] per aggregate per group, updated
//! with signed weights, so deletions are as cheap as insertions.
//!
//! | function          | accumulator                            | values kept apart |
//! |-------------------|----------------------------------------|-------------------|
//! | `count(x)`        | weighted count of non-NULL `x`         |                   |
//! | `sum(x)`, `avg(x)`| weighted sum (exact for integers and decimals) and count | |
//! | `min(x)`, `max(x)`| the extreme value                      | multiset of values, extreme first |
//! | `count(DISTINCT x)`| number of distinct values present     | multiset of values |
//! | `bool_and(x)`, `bool_or(x)` | weighted counts of true and of non-NULL `x` | |
//! | `var_samp`, `var_pop`, `stddev_samp`, `stddev_pop` | exact count, sum and sum of squares (integers, decimals) | |
//! | `string_agg(x, d ORDER BY ...)`, `array_agg(x ORDER BY ...)` | weighted count of the values kept | multiset of (order key, arguments), in order |
//! | `first_value(x ORDER BY ...)`, `last_value(x ORDER BY ...)` | weighted count of the values kept | multiset of (order key, value), the one shown first |
//!
//! An accumulator has a byte encoding ([`Accumulator::encode`],
//! [`AggregateSignature::decode`]): the aggregate keeps it in its state spine. The
//! multisets of values of min, max and count(DISTINCT) are kept by the aggregate
//! too, as row-encoded values ([`AggregateSignature::prepare`]) ordered so that the
//! aggregate's extreme comes first. An insertion beyond the extreme replaces it in
//! the accumulator; a deletion of it ([`Accumulator::loses_extreme`]) makes the
//! aggregate read the next one from the kept values.
//!
//! The listing aggregates (string_agg, array_agg, first_value, last_value) keep each
//! row's order key, tie-breaking columns and arguments together as one row encoding,
//! ordered as the aggregate's `ORDER BY` orders them, then by the tie-breaking
//! columns (the planner passes the arguments of every listing aggregate of the
//! `GROUP BY`, so that tied rows come in the same order in each of them: the
//! `first_value` calls of a `DISTINCT ON` all pick the same row), then by the
//! arguments; last_value's order is reversed so that its value comes first. Their value is read from the kept values
//! ([`AggregateSignature::listed_output`]): the first one, or all of them in order.

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::{CastOptions, SortOptions, cast, cast_with_options};
use datafusion::arrow::datatypes::{
    DataType, Decimal128Type, Decimal256Type, Float64Type, Int64Type, i256,
};
use datafusion::arrow::row::{RowConverter, Rows, SortField};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::scalar::ScalarValue;
use std::sync::Arc;

use crate::error::{Result, SluiceError, sqlstate};

/// Which aggregate function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggregateKind {
    /// `count(x)` / `count(*)`.
    Count,
    /// `count(DISTINCT x)`.
    CountDistinct,
    /// `sum(x)`.
    Sum,
    /// `avg(x)`.
    Avg,
    /// `min(x)`.
    Min,
    /// `max(x)`.
    Max,
    /// `bool_and(x)`: true when every non-NULL `x` is.
    BoolAnd,
    /// `bool_or(x)`: true when some `x` is.
    BoolOr,
    /// `var_samp(x)` (`var`): the sample variance.
    VarSamp,
    /// `var_pop(x)`: the population variance.
    VarPop,
    /// `stddev_samp(x)` (`stddev`): the sample standard deviation.
    StddevSamp,
    /// `stddev_pop(x)`: the population standard deviation.
    StddevPop,
    /// `string_agg(x, delimiter [ORDER BY ...])`: the non-NULL `x` joined, each after
    /// its row's delimiter but the first.
    StringAgg,
    /// `array_agg(x [ORDER BY ...])`: every `x`, NULLs included.
    ArrayAgg,
    /// `first_value(x ORDER BY ...)`: `x` of the first row in the order.
    FirstValue,
    /// `last_value(x ORDER BY ...)`: `x` of the last row in the order.
    LastValue,
}

impl AggregateKind {
    /// The aggregates whose value is read from their kept rows (see the module docs).
    pub fn is_listing(self) -> bool {
        matches!(
            self,
            AggregateKind::StringAgg
                | AggregateKind::ArrayAgg
                | AggregateKind::FirstValue
                | AggregateKind::LastValue
        )
    }

    /// The variances and standard deviations.
    fn is_spread(self) -> bool {
        matches!(
            self,
            AggregateKind::VarSamp
                | AggregateKind::VarPop
                | AggregateKind::StddevSamp
                | AggregateKind::StddevPop
        )
    }

    /// True when the aggregate keeps inputs of `input_type` exactly, where DataFusion
    /// would cast them to a float first (`avg(int)` as `avg(CAST(int AS DOUBLE))`, the
    /// variances of integers and decimals likewise): the planner hands it the values
    /// before the cast, so deleting a huge value restores the small ones.
    pub fn keeps_exactly(self, input_type: &DataType) -> bool {
        match self {
            AggregateKind::Avg => input_type.is_integer(),
            kind if kind.is_spread() => {
                input_type.is_integer()
                    || matches!(
                        input_type,
                        DataType::Decimal128(..) | DataType::Decimal256(..)
                    )
            }
            _ => false,
        }
    }
}

/// How sums and averages are kept for an input type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Numeric {
    Integer,
    Float,
    Decimal {
        scale: i8,
    },
    /// A 256-bit decimal (an unconstrained `NUMERIC`), summed in 256 bits.
    WideDecimal {
        scale: i8,
    },
}

/// The fixed description of one aggregate: function, input and output types.
#[derive(Debug)]
pub struct AggregateSignature {
    kind: AggregateKind,
    numeric: Option<Numeric>,
    output_type: DataType,
    /// The encoding of the kept values: the value alone, or for the listing
    /// aggregates the order key's columns then the arguments.
    values: Option<RowConverter>,
    /// Listing aggregates: how many of the kept columns come before the arguments
    /// (the order key and the tie-breaking columns).
    order_columns: usize,
    /// Listing aggregates: `DISTINCT` (each kept row shown once).
    distinct: bool,
    /// Listing aggregates: rows whose value is NULL are not kept (string_agg;
    /// first_value and last_value with `IGNORE NULLS`).
    skip_nulls: bool,
}

impl AggregateSignature {
    /// Validates `kind` over `input_type`, producing `output_type`.
    pub fn try_new(
        kind: AggregateKind,
        input_type: &DataType,
        output_type: DataType,
    ) -> Result<Self> {
        let numeric = match kind {
            AggregateKind::Sum | AggregateKind::Avg => Some(match input_type {
                t if t.is_integer() => Numeric::Integer,
                t if t.is_floating() => Numeric::Float,
                DataType::Decimal128(_, scale) => Numeric::Decimal { scale: *scale },
                DataType::Decimal256(_, scale) => Numeric::WideDecimal { scale: *scale },
                other => {
                    return Err(SluiceError::not_supported(format!(
                        "{kind:?} over {other} is not supported in materialized views"
                    )));
                }
            }),
            // Kept exactly, so that deleting rows gives back PostgreSQL's value; a float
            // sum of squares would lose digits to cancellation as rows come and go.
            // 256-bit decimals are read as 128-bit ones: the sum of squares of values
            // past 19 digits fails (22003) either way.
            kind if kind.is_spread() => Some(match input_type {
                t if t.is_integer() => Numeric::Integer,
                DataType::Decimal128(_, scale) | DataType::Decimal256(_, scale) => {
                    Numeric::Decimal { scale: *scale }
                }
                other => {
                    return Err(SluiceError::not_supported(format!(
                        "{kind:?} over {other} is not supported in materialized views: it cannot \
                         be kept exactly as rows are deleted; cast the argument to NUMERIC \
                         (for example stddev(x::numeric(20,6)))"
                    )));
                }
            }),
            AggregateKind::BoolAnd | AggregateKind::BoolOr if input_type != &DataType::Boolean => {
                return Err(SluiceError::not_supported(format!(
                    "{kind:?} over {input_type}: bool_and and bool_or take a boolean"
                )));
            }
            _ => None,
        };
        let values = match kind {
            AggregateKind::Min | AggregateKind::CountDistinct => {
                Some(RowConverter::new(vec![SortField::new(input_type.clone())])?)
            }
            // Descending, so that the maximum is the first value kept.
            AggregateKind::Max => Some(RowConverter::new(vec![SortField::new_with_options(
                input_type.clone(),
                SortOptions::new(true, false),
            )])?),
            _ => None,
        };
        Ok(AggregateSignature {
            kind,
            numeric,
            output_type,
            values,
            order_columns: 0,
            distinct: false,
            skip_nulls: false,
        })
    }

    /// A listing aggregate `kind` ([`AggregateKind::is_listing`]) over arguments of
    /// `arg_types`, ordered by keys of `order` types and directions, ties broken by
    /// columns of `tiebreak` types (ascending, NULLs last, whatever the order), producing
    /// `output_type`; `ignore_nulls` skips rows whose value is NULL.
    pub fn listing(
        kind: AggregateKind,
        order: &[(DataType, SortOptions)],
        tiebreak: &[DataType],
        arg_types: &[DataType],
        (distinct, ignore_nulls): (bool, bool),
        output_type: DataType,
    ) -> Result<Self> {
        let expected_args = if kind == AggregateKind::StringAgg {
            2
        } else {
            1
        };
        if !kind.is_listing() || arg_types.len() != expected_args {
            return Err(SluiceError::Internal(format!(
                "{kind:?} with {} arguments is not a listing aggregate",
                arg_types.len()
            )));
        }
        if kind == AggregateKind::StringAgg
            && !arg_types
                .iter()
                .all(|t| matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View))
        {
            return Err(SluiceError::not_supported(format!(
                "string_agg over {} is not supported in materialized views: it takes text",
                arg_types[0]
            )));
        }
        let reverse = kind == AggregateKind::LastValue;
        let mut fields: Vec<SortField> = order
            .iter()
            .map(|(t, options)| {
                let options = if reverse { !*options } else { *options };
                SortField::new_with_options(t.clone(), options)
            })
            .collect();
        // Ascending with NULLs last, as PostgreSQL sorts (array_agg(DISTINCT x)).
        let ascending = SortOptions::new(false, false);
        fields.extend(
            tiebreak
                .iter()
                .chain(arg_types)
                .map(|t| SortField::new_with_options(t.clone(), ascending)),
        );
        Ok(AggregateSignature {
            kind,
            numeric: None,
            output_type,
            values: Some(RowConverter::new(fields)?),
            order_columns: order.len() + tiebreak.len(),
            distinct,
            skip_nulls: ignore_nulls || kind == AggregateKind::StringAgg,
        })
    }

    /// The function.
    pub fn kind(&self) -> AggregateKind {
        self.kind
    }

    /// True for the aggregates whose values are kept apart as a multiset (min, max,
    /// count(DISTINCT)): their prepared input is [`PreparedInput::Rows`].
    pub fn keeps_values(&self) -> bool {
        self.values.is_some()
    }

    /// Fresh state for a new group.
    pub fn new_state(&self) -> Accumulator {
        match self.kind {
            AggregateKind::Count => Accumulator::Count(0),
            AggregateKind::StringAgg
            | AggregateKind::ArrayAgg
            | AggregateKind::FirstValue
            | AggregateKind::LastValue => Accumulator::Listed(0),
            AggregateKind::CountDistinct => Accumulator::Distinct(0),
            AggregateKind::Min | AggregateKind::Max => Accumulator::Extreme(None),
            AggregateKind::BoolAnd | AggregateKind::BoolOr => Accumulator::Truth { trues: 0, n: 0 },
            AggregateKind::VarSamp
            | AggregateKind::VarPop
            | AggregateKind::StddevSamp
            | AggregateKind::StddevPop => Accumulator::Moments {
                n: 0,
                sum: 0,
                squares: 0,
            },
            AggregateKind::Sum | AggregateKind::Avg => match self.numeric {
                Some(Numeric::Float) => Accumulator::FloatSum(FloatSum::default()),
                Some(Numeric::WideDecimal { .. }) => Accumulator::WideSum {
                    sum: i256::ZERO,
                    n: 0,
                },
                _ => Accumulator::ExactSum { sum: 0, n: 0 },
            },
        }
    }

    /// Reads back an accumulator written by [`Accumulator::encode`] from the front of
    /// `bytes`, advancing it.
    pub fn decode(&self, bytes: &mut &[u8]) -> Result<Accumulator> {
        Ok(match self.new_state() {
            Accumulator::Count(_) => Accumulator::Count(take_i64(bytes)?),
            Accumulator::Distinct(_) => Accumulator::Distinct(take_i64(bytes)?),
            Accumulator::Listed(_) => Accumulator::Listed(take_i64(bytes)?),
            Accumulator::Extreme(_) => {
                let length = u32::from_le_bytes(take(bytes)?) as usize;
                if length == 0 {
                    Accumulator::Extreme(None)
                } else {
                    let (value, rest) = bytes.split_at_checked(length - 1).ok_or_else(|| {
                        SluiceError::Internal("an aggregate's state is cut short".into())
                    })?;
                    *bytes = rest;
                    Accumulator::Extreme(Some(value.into()))
                }
            }
            Accumulator::Truth { .. } => Accumulator::Truth {
                trues: take_i64(bytes)?,
                n: take_i64(bytes)?,
            },
            Accumulator::Moments { .. } => Accumulator::Moments {
                n: take_i64(bytes)?,
                sum: i128::from_le_bytes(take(bytes)?),
                squares: i128::from_le_bytes(take(bytes)?),
            },
            Accumulator::ExactSum { .. } => {
                let sum = i128::from_le_bytes(take(bytes)?);
                Accumulator::ExactSum {
                    sum,
                    n: take_i64(bytes)?,
                }
            }
            Accumulator::WideSum { .. } => {
                let sum = i256::from_le_bytes(take(bytes)?);
                Accumulator::WideSum {
                    sum,
                    n: take_i64(bytes)?,
                }
            }
            Accumulator::FloatSum(_) => Accumulator::FloatSum(FloatSum {
                sum: f64::from_le_bytes(take(bytes)?),
                compensation: f64::from_le_bytes(take(bytes)?),
                nan: take_i64(bytes)?,
                positive_infinity: take_i64(bytes)?,
                negative_infinity: take_i64(bytes)?,
                n: take_i64(bytes)?,
            }),
        })
    }

    /// Prepares the input columns (one, or for the listing aggregates the order key's
    /// then the arguments) for [`Accumulator::update`].
    pub fn prepare(&self, columns: &[ArrayRef]) -> Result<PreparedInput> {
        let [column] = columns else {
            let codec = self.values.as_ref().filter(|_| self.kind.is_listing());
            return match codec {
                Some(codec) => Ok(PreparedInput::Rows(
                    codec.convert_columns(columns)?,
                    self.skip_nulls
                        .then(|| columns.get(self.order_columns).cloned())
                        .flatten(),
                )),
                None => Err(SluiceError::Internal(format!(
                    "{:?} got {} input columns",
                    self.kind,
                    columns.len()
                ))),
            };
        };
        Ok(match (&self.values, self.numeric) {
            (Some(codec), _) => PreparedInput::Rows(
                codec.convert_columns(std::slice::from_ref(column))?,
                (!self.kind.is_listing()).then(|| column.clone()),
            ),
            (None, Some(Numeric::Integer)) => {
                PreparedInput::Numbers(cast(column, &DataType::Int64)?)
            }
            (None, Some(Numeric::Float)) => {
                PreparedInput::Numbers(cast(column, &DataType::Float64)?)
            }
            (None, Some(Numeric::Decimal { scale })) if self.kind.is_spread() => {
                // Exactly, or an error where a value does not fit (never a NULL).
                let exact = CastOptions {
                    safe: false,
                    ..Default::default()
                };
                let narrow = DataType::Decimal128(38, scale);
                PreparedInput::Numbers(cast_with_options(column, &narrow, &exact).map_err(
                    |_| out_of_range("value out of range: a value has more than 38 digits"),
                )?)
            }
            (None, _) => PreparedInput::Numbers(column.clone()),
        })
    }

    /// The variance of `n` values (decimal unscaled values for decimals) whose sum is
    /// `sum` and sum of squares `squares`: `None` where SQL says NULL (no value; one,
    /// for a sample). The numerator `n·Σx² − (Σx)²` is exact; only the last division is
    /// rounded.
    fn spread(&self, n: i64, sum: i128, squares: i128, sample: bool) -> Result<Option<f64>> {
        let denominator = if sample { n - 1 } else { n };
        if n <= 0 || denominator <= 0 {
            return Ok(None);
        }
        let numerator = (n as i128)
            .checked_mul(squares)
            .and_then(|v| v.checked_sub(sum.checked_mul(sum)?))
            .ok_or_else(|| out_of_range("value out of range"))?;
        let scale = match self.numeric {
            Some(Numeric::Decimal { scale }) => 10f64.powi(2 * i32::from(scale)),
            _ => 1.0,
        };
        Ok(Some(
            numerator as f64 / (n as f64 * denominator as f64) / scale,
        ))
    }

    /// A listing aggregate's value for a group holding `kept` (of the group's kept
    /// values, in order, with their multiplicities; the encodings without the
    /// group's prefix).
    pub fn listed_output<'a>(
        &self,
        kept: impl Iterator<Item = (&'a [u8], i64)>,
    ) -> Result<ScalarValue> {
        let codec = self
            .values
            .as_ref()
            .ok_or_else(|| SluiceError::Internal("a listing aggregate without values".into()))?;
        let parser = codec.parser();
        let rows: Vec<_> = match self.kind {
            AggregateKind::FirstValue | AggregateKind::LastValue => {
                kept.take(1).map(|(bytes, _)| parser.parse(bytes)).collect()
            }
            _ => kept
                .flat_map(|(bytes, copies)| {
                    let copies = if self.distinct {
                        1
                    } else {
                        copies.max(0) as usize
                    };
                    std::iter::repeat_n(parser.parse(bytes), copies)
                })
                .collect(),
        };
        if rows.is_empty() {
            return Ok(ScalarValue::try_from(&self.output_type)?);
        }
        let columns = codec.convert_rows(rows)?;
        let values = &columns[self.order_columns];
        let value = match self.kind {
            AggregateKind::StringAgg => {
                let values = cast(values, &DataType::Utf8)?;
                let delimiters = cast(&columns[self.order_columns + 1], &DataType::Utf8)?;
                let (values, delimiters) =
                    (values.as_string::<i32>(), delimiters.as_string::<i32>());
                let mut joined = String::new();
                for row in 0..values.len() {
                    if row > 0 && delimiters.is_valid(row) {
                        joined.push_str(delimiters.value(row));
                    }
                    joined.push_str(values.value(row));
                }
                ScalarValue::Utf8(Some(joined))
            }
            AggregateKind::ArrayAgg => ScalarValue::List(Arc::new(
                SingleRowListArrayBuilder::new(values.clone()).build_list_array(),
            )),
            _ => ScalarValue::try_from_array(values, 0)?,
        };
        if value.data_type() == self.output_type {
            Ok(value)
        } else {
            Ok(value.cast_to(&self.output_type)?)
        }
    }

    /// The aggregate's value for a group holding `state`.
    pub fn output(&self, state: &Accumulator) -> Result<ScalarValue> {
        let null = || ScalarValue::try_from(&self.output_type);
        let value = match (self.kind, state) {
            (AggregateKind::Count, Accumulator::Count(n)) => ScalarValue::Int64(Some(*n)),
            (AggregateKind::CountDistinct, Accumulator::Distinct(n)) => {
                ScalarValue::Int64(Some(*n))
            }
            (
                _,
                Accumulator::ExactSum { n: 0, .. }
                | Accumulator::WideSum { n: 0, .. }
                | Accumulator::Truth { n: 0, .. },
            ) => {
                return null().map_err(SluiceError::from);
            }
            (_, Accumulator::FloatSum(f)) if f.n == 0 => {
                return null().map_err(SluiceError::from);
            }
            (AggregateKind::Sum, Accumulator::ExactSum { sum, .. }) => match self.numeric {
                Some(Numeric::Decimal { scale }) => ScalarValue::Decimal128(Some(*sum), 38, scale),
                _ => ScalarValue::Int64(Some(i64::try_from(*sum).map_err(|_| {
                    SluiceError::coded(sqlstate::NUMERIC_VALUE_OUT_OF_RANGE, "bigint out of range")
                })?)),
            },
            (AggregateKind::Avg, Accumulator::ExactSum { sum, n }) => {
                match (self.numeric, &self.output_type) {
                    (Some(Numeric::Decimal { scale }), DataType::Decimal128(p, out_scale)) => {
                        let shift = 10i128.pow(u32::try_from(out_scale - scale).unwrap_or(0));
                        let scaled = sum.checked_mul(shift).ok_or_else(|| {
                            SluiceError::coded(
                                sqlstate::NUMERIC_VALUE_OUT_OF_RANGE,
                                "numeric field overflow",
                            )
                        })?;
                        ScalarValue::Decimal128(Some(scaled / *n as i128), *p, *out_scale)
                    }
                    _ => ScalarValue::Float64(Some(*sum as f64 / *n as f64)),
                }
            }
            (AggregateKind::Sum, Accumulator::WideSum { sum, .. }) => match self.numeric {
                Some(Numeric::WideDecimal { scale }) => {
                    ScalarValue::Decimal256(Some(*sum), 76, scale)
                }
                _ => return Err(SluiceError::Internal("a wide sum of no decimal".into())),
            },
            (AggregateKind::Avg, Accumulator::WideSum { sum, n }) => {
                let (Some(Numeric::WideDecimal { scale }), DataType::Decimal256(p, out_scale)) =
                    (self.numeric, &self.output_type)
                else {
                    return Err(SluiceError::Internal("a wide average of no decimal".into()));
                };
                let overflow = || out_of_range("numeric field overflow");
                let shift = i256::from_i128(10)
                    .checked_pow(u32::try_from(out_scale - scale).unwrap_or(0))
                    .ok_or_else(overflow)?;
                let scaled = sum.checked_mul(shift).ok_or_else(overflow)?;
                let average = scaled
                    .checked_div(i256::from_i128(i128::from(*n)))
                    .ok_or_else(overflow)?;
                ScalarValue::Decimal256(Some(average), *p, *out_scale)
            }
            (kind, Accumulator::Moments { n, sum, squares }) => {
                let sample = matches!(kind, AggregateKind::VarSamp | AggregateKind::StddevSamp);
                match self.spread(*n, *sum, *squares, sample)? {
                    None => return null().map_err(SluiceError::from),
                    Some(variance)
                        if kind == AggregateKind::VarSamp || kind == AggregateKind::VarPop =>
                    {
                        ScalarValue::Float64(Some(variance))
                    }
                    Some(variance) => ScalarValue::Float64(Some(variance.sqrt())),
                }
            }
            (AggregateKind::BoolAnd, Accumulator::Truth { trues, n }) => {
                ScalarValue::Boolean(Some(trues == n))
            }
            (AggregateKind::BoolOr, Accumulator::Truth { trues, .. }) => {
                ScalarValue::Boolean(Some(*trues > 0))
            }
            (AggregateKind::Sum, Accumulator::FloatSum(f)) => ScalarValue::Float64(Some(f.value())),
            (AggregateKind::Avg, Accumulator::FloatSum(f)) => {
                ScalarValue::Float64(Some(f.value() / f.n as f64))
            }
            (AggregateKind::Min | AggregateKind::Max, Accumulator::Extreme(extreme)) => {
                match (extreme, &self.values) {
                    (Some(bytes), Some(codec)) => {
                        let parser = codec.parser();
                        let arrays = codec.convert_rows([parser.parse(bytes)])?;
                        ScalarValue::try_from_array(&arrays[0], 0)?
                    }
                    _ => return null().map_err(SluiceError::from),
                }
            }
            (kind, state) => {
                return Err(SluiceError::Internal(format!(
                    "{kind:?} cannot read {state:?}"
                )));
            }
        };
        if value.data_type() == self.output_type {
            Ok(value)
        } else {
            Ok(value.cast_to(&self.output_type)?)
        }
    }
}

/// An input column in the form its accumulator reads.
pub enum PreparedInput {
    /// Sums and averages: Int64, Float64 or Decimal128 values.
    Numbers(ArrayRef),
    /// Min, max, count(DISTINCT) and the listing aggregates: row-encoded values
    /// (ordered bytes, the extreme first), plus the column whose NULLs are skipped
    /// (`None`: none are).
    Rows(Rows, Option<ArrayRef>),
}

impl PreparedInput {
    /// True when the input is NULL at `row` (ignored, as in SQL).
    pub fn is_null(&self, row: usize) -> bool {
        match self {
            PreparedInput::Numbers(a) => a.is_null(row),
            PreparedInput::Rows(_, skipped) => skipped.as_ref().is_some_and(|a| a.is_null(row)),
        }
    }

    /// The row-encoded value at `row`, for the aggregates that keep their values.
    pub fn value(&self, row: usize) -> Option<&[u8]> {
        match self {
            PreparedInput::Rows(rows, _) => Some(rows.row(row).data()),
            PreparedInput::Numbers(_) => None,
        }
    }
}

/// One aggregate's state within one group.
#[derive(Debug, Clone, PartialEq)]
pub enum Accumulator {
    /// Weighted count of non-NULL inputs.
    Count(i64),
    /// Exact sum (integers, or decimal unscaled values) and count of non-NULL inputs.
    ExactSum { sum: i128, n: i64 },
    /// [`Accumulator::ExactSum`] of 256-bit decimals.
    WideSum { sum: i256, n: i64 },
    /// Floating-point sum and count of non-NULL inputs.
    FloatSum(FloatSum),
    /// count(DISTINCT): how many distinct values the group holds (the aggregate keeps
    /// the values and changes this when one appears or disappears).
    Distinct(i64),
    /// min, max: the extreme of the values (row-encoded; `None` without values). The
    /// aggregate keeps the values themselves.
    Extreme(Option<Box<[u8]>>),
    /// bool_and, bool_or: weighted counts of true inputs and of non-NULL inputs.
    Truth { trues: i64, n: i64 },
    /// Variances and standard deviations: count, sum and sum of squares of the
    /// non-NULL inputs (integers, or decimal unscaled values), exact.
    Moments { n: i64, sum: i128, squares: i128 },
    /// The listing aggregates: weighted count of the rows kept (the aggregate keeps
    /// the rows themselves).
    Listed(i64),
}

impl Accumulator {
    /// Adds input row `row` with `weight` (negative: removes it). `input` is `None` for
    /// `count(*)`. NULL inputs are ignored, as in SQL. Values kept apart (min, max,
    /// count(DISTINCT)) are not seen here.
    pub fn update(&mut self, input: Option<&PreparedInput>, row: usize, weight: i64) -> Result<()> {
        if input.is_some_and(|i| i.is_null(row)) {
            return Ok(());
        }
        match (self, input) {
            (Accumulator::Count(n), _) => *n += weight,
            (Accumulator::ExactSum { sum, n }, Some(PreparedInput::Numbers(values))) => {
                let value = exact_value(values, row);
                add_weighted(sum, value, weight, "sum out of range")?;
                *n += weight;
            }
            (Accumulator::WideSum { sum, n }, Some(PreparedInput::Numbers(values))) => {
                let value = values.as_primitive::<Decimal256Type>().value(row);
                *sum = value
                    .checked_mul(i256::from_i128(i128::from(weight)))
                    .and_then(|v| sum.checked_add(v))
                    .ok_or_else(|| out_of_range("value overflows numeric format"))?;
                *n += weight;
            }
            (Accumulator::Moments { n, sum, squares }, Some(PreparedInput::Numbers(values))) => {
                let value = exact_value(values, row);
                add_weighted(sum, value, weight, "value out of range")?;
                let square = value
                    .checked_mul(value)
                    .ok_or_else(|| out_of_range("value out of range"))?;
                add_weighted(squares, square, weight, "value out of range")?;
                *n += weight;
            }
            (Accumulator::Truth { trues, n }, Some(PreparedInput::Numbers(values))) => {
                let value = values.as_boolean_opt().ok_or_else(|| {
                    SluiceError::Internal("bool_and/bool_or got a non-boolean input".into())
                })?;
                if value.value(row) {
                    *trues += weight;
                }
                *n += weight;
            }
            (Accumulator::FloatSum(f), Some(PreparedInput::Numbers(values))) => {
                f.add(values.as_primitive::<Float64Type>().value(row), weight);
            }
            (Accumulator::Extreme(extreme), Some(PreparedInput::Rows(rows, _))) => {
                let value = rows.row(row).data();
                if weight > 0 && extreme.as_deref().is_none_or(|e| value < e) {
                    *extreme = Some(value.into());
                }
            }
            (Accumulator::Distinct(_), Some(PreparedInput::Rows(..))) => {}
            (Accumulator::Listed(n), Some(PreparedInput::Rows(..))) => *n += weight,
            (state, _) => {
                return Err(SluiceError::Internal(format!(
                    "accumulator {state:?} got the wrong input"
                )));
            }
        }
        Ok(())
    }

    /// Appends the accumulator's encoding (read back by
    /// [`AggregateSignature::decode`]).
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Accumulator::Count(n) | Accumulator::Distinct(n) | Accumulator::Listed(n) => {
                out.extend(n.to_le_bytes())
            }
            Accumulator::Truth { trues, n } => {
                out.extend(trues.to_le_bytes());
                out.extend(n.to_le_bytes());
            }
            Accumulator::Moments { n, sum, squares } => {
                out.extend(n.to_le_bytes());
                out.extend(sum.to_le_bytes());
                out.extend(squares.to_le_bytes());
            }
            Accumulator::ExactSum { sum, n } => {
                out.extend(sum.to_le_bytes());
                out.extend(n.to_le_bytes());
            }
            Accumulator::WideSum { sum, n } => {
                out.extend(sum.to_le_bytes());
                out.extend(n.to_le_bytes());
            }
            Accumulator::FloatSum(f) => {
                out.extend(f.sum.to_le_bytes());
                out.extend(f.compensation.to_le_bytes());
                for count in [f.nan, f.positive_infinity, f.negative_infinity, f.n] {
                    out.extend(count.to_le_bytes());
                }
            }
            Accumulator::Extreme(None) => out.extend(0u32.to_le_bytes()),
            Accumulator::Extreme(Some(value)) => {
                // Values are row encodings of one column: far below 4 GiB.
                out.extend((value.len() as u32 + 1).to_le_bytes());
                out.extend_from_slice(value);
            }
        }
    }

    /// True when deleting `value` (row-encoded) `weight < 0` times may take away the
    /// extreme: only the kept values can tell the extreme after it.
    pub fn loses_extreme(&self, value: &[u8], weight: i64) -> bool {
        match self {
            Accumulator::Extreme(extreme) => {
                weight < 0 && extreme.as_deref().is_none_or(|e| value <= e)
            }
            _ => false,
        }
    }

    /// Sets the extreme of min or max to the first of the kept values.
    pub fn set_extreme(&mut self, first: Option<&[u8]>) {
        if let Accumulator::Extreme(extreme) = self {
            *extreme = first.map(Into::into);
        }
    }
}

/// `*total += value · weight`, refused (`22003`, `message`) past the range of i128.
fn add_weighted(total: &mut i128, value: i128, weight: i64, message: &str) -> Result<()> {
    *total = value
        .checked_mul(i128::from(weight))
        .and_then(|v| total.checked_add(v))
        .ok_or_else(|| out_of_range(message))?;
    Ok(())
}

fn out_of_range(message: &str) -> SluiceError {
    SluiceError::coded(sqlstate::NUMERIC_VALUE_OUT_OF_RANGE, message)
}

/// An integer (as `Int64`) or decimal (unscaled) input value, exactly.
fn exact_value(values: &ArrayRef, row: usize) -> i128 {
    match values.data_type() {
        DataType::Decimal128(..) => values.as_primitive::<Decimal128Type>().value(row),
        _ => values.as_primitive::<Int64Type>().value(row) as i128,
    }
}

/// The first `N` bytes of `bytes`, which advances past them.
fn take<const N: usize>(bytes: &mut &[u8]) -> Result<[u8; N]> {
    let (head, rest) = bytes
        .split_first_chunk::<N>()
        .ok_or_else(|| SluiceError::Internal("an aggregate's state is cut short".into()))?;
    *bytes = rest;
    Ok(*head)
}

/// A little-endian i64 from the front of `bytes`.
pub(crate) fn take_i64(bytes: &mut &[u8]) -> Result<i64> {
    take(bytes).map(i64::from_le_bytes)
}

/// A retractable floating-point sum. Special values are counted apart (NaN − NaN is
/// NaN, so they cannot be added and later subtracted), and finite values are summed
/// with Neumaier's compensation, so deleting a large value gives back the small ones
/// it had absorbed (1e20 + 0.5 − 1e20 = 0.5).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FloatSum {
    sum: f64,
    compensation: f64,
    nan: i64,
    positive_infinity: i64,
    negative_infinity: i64,
    /// Weighted count of non-NULL inputs.
    pub n: i64,
}

impl FloatSum {
    fn add(&mut self, value: f64, weight: i64) {
        self.n += weight;
        if value.is_nan() {
            self.nan += weight;
        } else if value == f64::INFINITY {
            self.positive_infinity += weight;
        } else if value == f64::NEG_INFINITY {
            self.negative_infinity += weight;
        } else {
            let term = value * weight as f64;
            let total = self.sum + term;
            self.compensation += if self.sum.abs() >= term.abs() {
                (self.sum - total) + term
            } else {
                (term - total) + self.sum
            };
            self.sum = total;
        }
    }

    /// The sum of the values present.
    pub fn value(&self) -> f64 {
        match (
            self.nan > 0,
            self.positive_infinity > 0,
            self.negative_infinity > 0,
        ) {
            (true, _, _) | (false, true, true) => f64::NAN,
            (false, true, false) => f64::INFINITY,
            (false, false, true) => f64::NEG_INFINITY,
            (false, false, false) => self.sum + self.compensation,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Variances from the state against the textbook two-pass formulas, after inserts
    /// and deletes; decimals by their scale; NULL where SQL says so.
    #[test]
    fn variances_are_exact_through_deletes() {
        use datafusion::arrow::array::{Decimal128Array, Int64Array};
        let two_pass = |xs: &[f64], sample: bool| {
            let n = xs.len() as f64;
            let mean = xs.iter().sum::<f64>() / n;
            xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / if sample { n - 1.0 } else { n }
        };
        let ints: ArrayRef = std::sync::Arc::new(Int64Array::from(vec![
            Some(1_000_000_007),
            Some(1_000_000_001),
            None,
            Some(1_000_000_004),
            Some(i64::from(i32::MAX)),
        ]));
        let state_of =
            |signature: &AggregateSignature, input: &ArrayRef, weights: &[(usize, i64)]| {
                let prepared = signature.prepare(std::slice::from_ref(input)).unwrap();
                let mut state = signature.new_state();
                for &(row, weight) in weights {
                    state.update(Some(&prepared), row, weight).unwrap();
                }
                state
            };
        let value = |signature: &AggregateSignature, state: &Accumulator| match signature
            .output(state)
            .unwrap()
        {
            ScalarValue::Float64(v) => v,
            other => panic!("{other:?}"),
        };
        for (kind, sample, root) in [
            (AggregateKind::VarSamp, true, false),
            (AggregateKind::VarPop, false, false),
            (AggregateKind::StddevSamp, true, true),
            (AggregateKind::StddevPop, false, true),
        ] {
            let signature =
                AggregateSignature::try_new(kind, &DataType::Int64, DataType::Float64).unwrap();
            // The huge value comes and goes; what stays is 7, 1 and 4 above a billion.
            let state = state_of(
                &signature,
                &ints,
                &[(0, 1), (4, 1), (1, 1), (2, 1), (3, 1), (4, -1)],
            );
            let want = two_pass(&[7.0, 1.0, 4.0], sample);
            let want = if root { want.sqrt() } else { want };
            let got = value(&signature, &state).unwrap();
            assert!(
                (got - want).abs() <= 1e-12 * want,
                "{kind:?}: {got} vs {want}"
            );
            let mut bytes = Vec::new();
            state.encode(&mut bytes);
            assert_eq!(signature.decode(&mut bytes.as_slice()).unwrap(), state);
            // One value: a sample has no variance, a population has 0; none: NULL.
            let one = state_of(&signature, &ints, &[(0, 1)]);
            assert_eq!(
                value(&signature, &one),
                if sample { None } else { Some(0.0) }
            );
            assert_eq!(value(&signature, &signature.new_state()), None);
        }
        let decimals: ArrayRef = std::sync::Arc::new(
            Decimal128Array::from(vec![150, 250, 400])
                .with_precision_and_scale(10, 2)
                .unwrap(),
        );
        let signature = AggregateSignature::try_new(
            AggregateKind::VarPop,
            &DataType::Decimal128(10, 2),
            DataType::Float64,
        )
        .unwrap();
        let state = state_of(&signature, &decimals, &[(0, 1), (1, 1), (2, 1)]);
        let want = two_pass(&[1.5, 2.5, 4.0], false);
        let got = value(&signature, &state).unwrap();
        assert!((got - want).abs() <= 1e-12 * want, "{got} vs {want}");
        assert!(
            AggregateSignature::try_new(
                AggregateKind::VarPop,
                &DataType::Float64,
                DataType::Float64
            )
            .is_err(),
            "floats are refused"
        );
    }

    #[test]
    fn bool_and_and_bool_or_follow_inserts_and_deletes_and_ignore_nulls() {
        use datafusion::arrow::array::BooleanArray;
        let input: ArrayRef =
            std::sync::Arc::new(BooleanArray::from(vec![Some(true), Some(false), None]));
        for (kind, after_insert, after_delete) in [
            (AggregateKind::BoolAnd, false, true),
            (AggregateKind::BoolOr, true, true),
        ] {
            let signature =
                AggregateSignature::try_new(kind, &DataType::Boolean, DataType::Boolean).unwrap();
            let prepared = signature.prepare(std::slice::from_ref(&input)).unwrap();
            let mut state = signature.new_state();
            assert_eq!(
                signature.output(&state).unwrap(),
                ScalarValue::Boolean(None)
            );
            state.update(Some(&prepared), 2, 1).unwrap();
            assert_eq!(
                signature.output(&state).unwrap(),
                ScalarValue::Boolean(None),
                "{kind:?} of only NULL"
            );
            for row in 0..2 {
                state.update(Some(&prepared), row, 2).unwrap();
            }
            assert_eq!(
                signature.output(&state).unwrap(),
                ScalarValue::Boolean(Some(after_insert))
            );
            state.update(Some(&prepared), 1, -2).unwrap();
            assert_eq!(
                signature.output(&state).unwrap(),
                ScalarValue::Boolean(Some(after_delete))
            );
            let mut bytes = Vec::new();
            state.encode(&mut bytes);
            assert_eq!(signature.decode(&mut bytes.as_slice()).unwrap(), state);
        }
        assert!(
            AggregateSignature::try_new(
                AggregateKind::BoolAnd,
                &DataType::Int64,
                DataType::Boolean
            )
            .is_err()
        );
    }
    use datafusion::arrow::array::{Decimal128Array, Int32Array};
    use std::sync::Arc;

    fn run(kind: AggregateKind, input: ArrayRef, output: DataType, weights: &[i64]) -> ScalarValue {
        let sig = AggregateSignature::try_new(kind, input.data_type(), output).unwrap();
        let mut state = sig.new_state();
        let prepared = sig.prepare(std::slice::from_ref(&input)).unwrap();
        // What the aggregate does for the values it keeps apart: a multiset, read
        // extreme first.
        let mut values = std::collections::BTreeMap::<Vec<u8>, i64>::new();
        for (row, w) in weights.iter().enumerate() {
            state.update(Some(&prepared), row, *w).unwrap();
            if let Some(value) = prepared.value(row).filter(|_| !prepared.is_null(row)) {
                *values.entry(value.to_vec()).or_default() += w;
                values.retain(|_, n| *n != 0);
                if state.loses_extreme(value, *w) {
                    state.set_extreme(values.keys().next().map(Vec::as_slice));
                }
            }
        }
        if let Accumulator::Distinct(n) = &mut state {
            *n = values.len() as i64;
        }
        // The state survives its encoding.
        let mut encoded = Vec::new();
        state.encode(&mut encoded);
        let mut bytes = encoded.as_slice();
        assert_eq!(sig.decode(&mut bytes).unwrap(), state);
        assert!(bytes.is_empty());
        sig.output(&state).unwrap()
    }

    #[test]
    fn min_and_max_survive_deleting_the_extreme() {
        let input: ArrayRef = Arc::new(Int32Array::from(vec![5, 1, 9, 1, 9]));
        // insert 5, 1, 9; delete 1; delete 9
        let min = run(
            AggregateKind::Min,
            input.clone(),
            DataType::Int32,
            &[1, 1, 1, -1, -1],
        );
        let max = run(
            AggregateKind::Max,
            input,
            DataType::Int32,
            &[1, 1, 1, -1, -1],
        );
        assert_eq!(min, ScalarValue::Int32(Some(5)));
        assert_eq!(max, ScalarValue::Int32(Some(5)));
    }

    #[test]
    fn sums_are_exact_and_null_when_empty() {
        let input: ArrayRef = Arc::new(Int32Array::from(vec![Some(3), None, Some(4)]));
        assert_eq!(
            run(
                AggregateKind::Sum,
                input.clone(),
                DataType::Int64,
                &[1, 1, 1]
            ),
            ScalarValue::Int64(Some(7))
        );
        assert_eq!(
            run(
                AggregateKind::Count,
                input.clone(),
                DataType::Int64,
                &[1, 1, 1]
            ),
            ScalarValue::Int64(Some(2))
        );
        assert_eq!(
            run(
                AggregateKind::Sum,
                input.clone(),
                DataType::Int64,
                &[1, 1, 0]
            ),
            ScalarValue::Int64(Some(3))
        );
        assert_eq!(
            run(AggregateKind::Sum, input, DataType::Int64, &[0, 1, 0]),
            ScalarValue::Int64(None)
        );
    }

    #[test]
    fn decimal_average_matches_datafusion_scale() {
        let input: ArrayRef = Arc::new(
            Decimal128Array::from(vec![100, 200, 250])
                .with_precision_and_scale(10, 2)
                .unwrap(),
        );
        // avg(decimal(10,2)) is decimal(14,6) in DataFusion: (1.00 + 2.00 + 2.50) / 3
        let avg = run(
            AggregateKind::Avg,
            input,
            DataType::Decimal128(14, 6),
            &[1, 1, 1],
        );
        assert_eq!(avg, ScalarValue::Decimal128(Some(1_833_333), 14, 6));
    }

    #[test]
    fn float_sums_forget_deleted_special_and_large_values() {
        use datafusion::arrow::array::Float64Array;
        let input: ArrayRef = Arc::new(Float64Array::from(vec![
            1.5,
            f64::NAN,
            f64::INFINITY,
            1e20,
            1.5,
            f64::NAN,
            f64::INFINITY,
            1e20,
        ]));
        let sum = run(
            AggregateKind::Sum,
            input.clone(),
            DataType::Float64,
            &[1, 1, 1, 1, 0, -1, -1, -1],
        );
        assert_eq!(sum, ScalarValue::Float64(Some(1.5)));
        let sum = run(
            AggregateKind::Sum,
            input,
            DataType::Float64,
            &[1, 1, 0, 0, 0, 0, 0, 0],
        );
        assert!(matches!(sum, ScalarValue::Float64(Some(v)) if v.is_nan()));
    }

    #[test]
    fn count_distinct_counts_values_present() {
        let input: ArrayRef = Arc::new(Int32Array::from(vec![1, 1, 2, 1]));
        let n = run(
            AggregateKind::CountDistinct,
            input,
            DataType::Int64,
            &[1, 1, 1, -2],
        );
        assert_eq!(n, ScalarValue::Int64(Some(1)));
    }
}
