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

use super::generator::{Generator, Pacer};
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

/// One random column's values of a batch, as drawn.
enum Drawn {
    /// A sequence column: nothing drawn.
    None,
    Text(Vec<String>),
    Bool(Vec<bool>),
    /// Numbers and timestamps (milliseconds), in `[min, max)`.
    Number(Vec<f64>),
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
}

impl Generator for DatagenReader {
    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        let first = self.pacer.produced();
        let Some(n) = self.pacer.next_chunk() else {
            return Ok(None);
        };
        // Row by row, each column in order: a row's values depend on its number
        // alone, not on how the rows are cut into batches (paced, unpaced, resumed).
        let schema = self.config.schema.clone();
        let fields = self.config.fields.clone();
        let mut drawn: Vec<Drawn> = fields
            .iter()
            .zip(schema.fields())
            .map(|(kind, field)| match (kind, field.data_type()) {
                (FieldKind::Sequence { .. }, _) => Drawn::None,
                (FieldKind::Random { .. }, DataType::Utf8) => Drawn::Text(Vec::with_capacity(n)),
                (FieldKind::Random { .. }, DataType::Boolean) => Drawn::Bool(Vec::with_capacity(n)),
                _ => Drawn::Number(Vec::with_capacity(n)),
            })
            .collect();
        for _ in 0..n {
            for (kind, values) in fields.iter().zip(&mut drawn) {
                let FieldKind::Random { min, max, length } = kind else {
                    continue;
                };
                match values {
                    Drawn::None => {}
                    Drawn::Text(values) => values.push(
                        (0..*length)
                            .map(|_| (b'a' + (self.next_u64() % 26) as u8) as char)
                            .collect(),
                    ),
                    Drawn::Bool(values) => values.push(self.next_u64().is_multiple_of(2)),
                    Drawn::Number(values) => values.push(min + self.unit() * (max - min)),
                }
            }
        }
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
        for ((kind, field), values) in fields.iter().zip(schema.fields()).zip(drawn) {
            let column: ArrayRef = match (kind, field.data_type(), values) {
                (FieldKind::Sequence { start }, t, _) => {
                    let values = Int64Array::from_iter_values(
                        (0..n as i64).map(|k| start + first as i64 + k),
                    );
                    cast(&values, t)?
                }
                (_, _, Drawn::Text(values)) => Arc::new(StringArray::from(values)),
                (_, _, Drawn::Bool(values)) => Arc::new(BooleanArray::from(values)),
                (_, DataType::Timestamp(unit, tz), Drawn::Number(millis)) => {
                    let micros = TimestampMicrosecondArray::from_iter_values(
                        millis.iter().map(|m| (*m as i64) * 1000),
                    );
                    cast(&micros, &DataType::Timestamp(*unit, tz.clone()))?
                }
                (_, t, Drawn::Number(values)) => {
                    let integer = t.is_integer();
                    let values = Float64Array::from_iter_values(
                        values
                            .into_iter()
                            .map(|v| if integer { v.floor() } else { v }),
                    );
                    cast(&values, t)?
                }
                (_, _, Drawn::None) => {
                    return Err(crate::error::SluiceError::Internal(format!(
                        "datagen drew no values for column {}",
                        field.name()
                    )));
                }
            };
            columns.push(column);
        }
        Ok(Some(RecordBatch::try_new(schema, columns)?))
    }

    fn set_paced(&mut self, paced: bool) {
        self.pacer.set_paced(paced);
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::compute::concat_batches;
    use datafusion::arrow::datatypes::{Field, Schema, TimeUnit};

    use super::*;

    fn config(rate: u64) -> DatagenConfig {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("v", DataType::Int32, true),
            Field::new("name", DataType::Utf8, true),
            Field::new("ok", DataType::Boolean, true),
            Field::new("at", DataType::Timestamp(TimeUnit::Microsecond, None), true),
        ]));
        let options = [
            ("datagen.rows.per.second", rate.to_string()),
            ("datagen.rows.total", "5000".into()),
            ("fields.id.kind", "sequence".into()),
            ("fields.name.length", "3".into()),
        ];
        let options = options.map(|(k, v)| (k.to_string(), v)).into();
        DatagenConfig::from_options(schema, &mut Options::new(options)).unwrap()
    }

    fn rows(mut reader: DatagenReader) -> RecordBatch {
        let batches: Vec<RecordBatch> =
            std::iter::from_fn(|| reader.next_batch().unwrap()).collect();
        concat_batches(&batches[0].schema(), &batches).unwrap()
    }

    #[test]
    fn a_rows_values_depend_on_its_number_alone() {
        // Unpaced: batches of 4,096; at 500,000 rows a second: batches of 5,000 / 100.
        let unpaced = rows(config(0).reader_at(0));
        let paced = rows(config(500_000).reader_at(0));
        assert_eq!(unpaced.num_rows(), 5000);
        assert_eq!(unpaced, paced);
        let resumed = rows(config(0).reader_at(2500));
        assert_eq!(resumed, unpaced.slice(2500, 2500));
    }
}
