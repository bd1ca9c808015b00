//! The `datagen` connector: typed random or sequential columns at a set rate.
//!
//! ```sql
//! CREATE SOURCE s (id BIGINT, v DOUBLE PRECISION, name VARCHAR) WITH (
//!   connector = 'datagen', datagen.rows.per.second = 100, datagen.rows.total = 1000,
//!   fields.id.kind = 'sequence', fields.id.start = 1,
//!   fields.v.min = 0, fields.v.max = 10, fields.name.length = 8, datagen.seed = 7
//! );
//! ```
//! `kind` is `random` (default; `min`/`max` for numbers and timestamps as epoch
//! milliseconds, `length` for text) or `sequence` (`start`, default 1; numbers only).

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, SchemaRef};

use super::generator::Pacer;
use super::options::{Options, invalid};
use crate::error::Result;

#[derive(Debug, Clone)]
enum FieldKind {
    Random { min: f64, max: f64, length: usize },
    Sequence { start: i64 },
}

/// A configured datagen source.
#[derive(Debug, Clone)]
pub struct DatagenConfig {
    schema: SchemaRef,
    fields: Vec<FieldKind>,
    rate: u64,
    total: Option<u64>,
    seed: u64,
}

impl DatagenConfig {
    /// Reads the datagen options for columns `schema`.
    pub fn from_options(schema: SchemaRef, options: &mut Options) -> Result<Self> {
        let rate = options.parse_or("datagen.rows.per.second", 10u64)?;
        let total = match options.get("datagen.rows.total") {
            Some(v) => Some(
                v.parse()
                    .map_err(|_| invalid(format!("datagen.rows.total = '{v}' is not a number")))?,
            ),
            None => None,
        };
        let seed = options.parse_or("datagen.seed", 42u64)?;
        let mut fields = Vec::new();
        for field in schema.fields() {
            let prefix = format!("fields.{}.", field.name());
            let kind = options
                .get(&format!("{prefix}kind"))
                .unwrap_or_else(|| "random".into());
            let numeric = field.data_type().is_numeric()
                || matches!(field.data_type(), DataType::Timestamp(..));
            fields.push(match kind.as_str() {
                "random" => FieldKind::Random {
                    min: options.parse_or(&format!("{prefix}min"), 0.0)?,
                    max: options.parse_or(
                        &format!("{prefix}max"),
                        if matches!(field.data_type(), DataType::Timestamp(..)) { 1_700_000_000_000.0 } else { 1000.0 },
                    )?,
                    length: options.parse_or(&format!("{prefix}length"), 10usize)?,
                },
                "sequence" if numeric => FieldKind::Sequence {
                    start: options.parse_or(&format!("{prefix}start"), 1i64)?,
                },
                other => {
                    return Err(invalid(format!(
                        "fields.{}.kind = '{other}' is not supported for {} (random, or sequence for numbers)",
                        field.name(),
                        field.data_type()
                    )));
                }
            });
            match field.data_type() {
                t if t.is_numeric() => {}
                DataType::Utf8 | DataType::Boolean | DataType::Timestamp(..) => {}
                other => {
                    return Err(invalid(format!(
                        "datagen cannot generate {other} (column {})",
                        field.name()
                    )));
                }
            }
        }
        Ok(DatagenConfig {
            schema,
            fields,
            rate,
            total,
            seed,
        })
    }

    /// A generator that has produced `rows` rows already (0: a fresh one; each
    /// reader gets its own stream). Sequences go on exactly; the random state is
    /// where `rows` rows leave it (each row draws a fixed number of values).
    pub fn reader_at(&self, rows: u64) -> DatagenReader {
        // As `next_batch` draws: a character per string character, one value for
        // any other random field.
        let draws_per_row: u64 = self
            .fields
            .iter()
            .zip(self.schema.fields())
            .map(|(kind, field)| match (kind, field.data_type()) {
                (FieldKind::Sequence { .. }, _) => 0,
                (FieldKind::Random { length, .. }, DataType::Utf8) => *length as u64,
                (FieldKind::Random { .. }, _) => 1,
            })
            .sum();
        DatagenReader {
            config: self.clone(),
            pacer: Pacer::resuming(self.rate, self.total, rows),
            state: self
                .seed
                .wrapping_add(rows.wrapping_mul(draws_per_row).wrapping_mul(GOLDEN_GAMMA)),
        }
    }
}

/// SplitMix64's increment: each draw adds it to the state.
const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// Produces datagen batches.
#[derive(Debug)]
pub struct DatagenReader {
    config: DatagenConfig,
    pacer: Pacer,
    state: u64,
}

impl DatagenReader {
    /// SplitMix64: small, fast, deterministic.
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The next batch; `None` once `datagen.rows.total` rows were produced.
    pub fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        let first = self.pacer.produced();
        let Some(n) = self.pacer.next_chunk() else {
            return Ok(None);
        };
        let schema = self.config.schema.clone();
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
        for (i, field) in schema.fields().iter().enumerate() {
            let kind = self.config.fields[i].clone();
            let column: ArrayRef = match (&kind, field.data_type()) {
                (FieldKind::Sequence { start }, t) => {
                    let values = Int64Array::from_iter_values(
                        (0..n as i64).map(|k| start + first as i64 + k),
                    );
                    cast(&values, t)?
                }
                (FieldKind::Random { length, .. }, DataType::Utf8) => {
                    let values: Vec<String> = (0..n)
                        .map(|_| {
                            (0..*length)
                                .map(|_| (b'a' + (self.next_u64() % 26) as u8) as char)
                                .collect()
                        })
                        .collect();
                    Arc::new(StringArray::from(values))
                }
                (FieldKind::Random { .. }, DataType::Boolean) => Arc::new(BooleanArray::from_iter(
                    (0..n).map(|_| Some(self.next_u64().is_multiple_of(2))),
                )),
                (FieldKind::Random { min, max, .. }, DataType::Timestamp(unit, tz)) => {
                    let millis: Vec<i64> = (0..n)
                        .map(|_| (min + self.unit() * (max - min)) as i64)
                        .collect();
                    let micros = TimestampMicrosecondArray::from_iter_values(
                        millis.iter().map(|m| m * 1000),
                    );
                    cast(&micros, &DataType::Timestamp(*unit, tz.clone()))?
                }
                (FieldKind::Random { min, max, .. }, t) => {
                    let integer = t.is_integer();
                    let values = Float64Array::from_iter_values((0..n).map(|_| {
                        let v = min + self.unit() * (max - min);
                        if integer { v.floor() } else { v }
                    }));
                    cast(&values, t)?
                }
            };
            columns.push(column);
        }
        Ok(Some(RecordBatch::try_new(schema, columns)?))
    }
}
