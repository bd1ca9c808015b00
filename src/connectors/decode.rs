//! Message payloads (JSON objects or CSV lines) to Arrow batches, vectorized.
//!
//! A batch of payloads is decoded in one pass by arrow's JSON or CSV decoder. Only
//! when that fails (or yields a different number of rows than messages) is the
//! batch decoded again message by message, to find and skip the bad ones: a bad
//! message costs time only in the batch it arrives in.
//!
//! arrow's JSON decoder is a lenient tokenizer (it reads `{"id": 1,, "v": 2}` or
//! `{"id": 1,}` as a row), so every JSON payload is first checked by serde_json, a
//! strict RFC 8259 parser: a message that is not exactly one JSON value never
//! becomes a row.
//!
//! Timestamps are decoded as text first, then converted column-wise, so a value may
//! be an RFC 3339 string or a number of milliseconds since the epoch. Integers and
//! numerics are decoded with one decimal place more than their column keeps, then
//! rounded half away from zero as PostgreSQL rounds (`1.5` is 2 in an integer column,
//! `12.345` is 12.35 in `NUMERIC(10,2)`); arrow's decoders would cut the extra digits.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Decimal256Array, Int64Array, RecordBatch,
};
use datafusion::arrow::compute::kernels::zip::zip;
use datafusion::arrow::compute::{
    CastOptions, cast_with_options, filter_record_batch, is_not_null,
};
use datafusion::arrow::datatypes::{
    DataType, Decimal128Type, Decimal256Type, Field, Int64Type, Schema, SchemaRef, TimeUnit, i256,
};
use datafusion::arrow::util::display::array_value_to_string;

use rayon::prelude::*;

use crate::error::{Result, SluiceError};
use crate::numeric::{Rounding, exact_array, round_half_away, round_half_away_256, shift_256};

/// Below this many payloads a batch is decoded on the reader's thread alone.
const PARALLEL_DECODE_MIN: usize = 2048;

/// How payloads are encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encoding {
    /// One JSON object per message.
    Json,
    /// One CSV line per message.
    Csv {
        /// Field separator.
        delimiter: u8,
        /// When true, lines equal to the column names are headers and skipped.
        skip_headers: bool,
    },
}

/// Decodes payloads into rows of a declared schema.
#[derive(Debug)]
pub struct Decoder {
    encoding: Encoding,
    schema: SchemaRef,
    wire: SchemaRef,
    header: Vec<u8>,
}

/// The result of decoding a batch of payloads.
#[derive(Debug)]
pub struct Decoded {
    /// The good rows, in message order.
    pub batch: RecordBatch,
    /// For each good row, the index of its message.
    pub messages: Vec<usize>,
    /// Messages skipped: (index, reason).
    pub errors: Vec<(usize, String)>,
}

/// The type a column is decoded as: timestamps as text ([`timestamps`] converts
/// them), integers and numerics with one more decimal place ([`rounded`] rounds them
/// to the column's type); other types as declared.
fn wire_type(declared: &DataType) -> DataType {
    match declared {
        DataType::Timestamp(..) => DataType::Utf8,
        // bigint's 19 digits, and a decimal place.
        DataType::Int16 | DataType::Int32 | DataType::Int64 => DataType::Decimal128(20, 1),
        DataType::Decimal128(precision, scale) if *precision < 38 => {
            DataType::Decimal128(precision + 1, scale + 1)
        }
        DataType::Decimal128(precision, scale) => DataType::Decimal256(precision + 1, scale + 1),
        // At 76 digits, the extra decimal place takes an integer digit's room.
        DataType::Decimal256(precision, scale) => {
            DataType::Decimal256((precision + 1).min(76), scale + 1)
        }
        other => other.clone(),
    }
}

impl Decoder {
    /// A decoder producing rows of `schema`.
    pub fn new(encoding: Encoding, schema: SchemaRef) -> Self {
        let wire_fields: Vec<Field> = schema
            .fields()
            .iter()
            .map(|f| Field::new(f.name(), wire_type(f.data_type()), true))
            .collect();
        let delimiter = match &encoding {
            Encoding::Csv { delimiter, .. } => *delimiter as char,
            Encoding::Json => ',',
        };
        let header = schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect::<Vec<_>>()
            .join(&delimiter.to_string())
            .into_bytes();
        Decoder {
            encoding,
            schema,
            wire: Arc::new(Schema::new(wire_fields)),
            header,
        }
    }

    /// Decodes `payloads`, skipping (and reporting) the ones that do not fit. A large
    /// batch is cut into one slice per thread of the shared pool, decoded in parallel:
    /// decoding is what bounds a Kafka source's reader.
    pub fn decode(&self, payloads: &[&[u8]]) -> Result<Decoded> {
        let threads = rayon::current_num_threads();
        if payloads.len() < PARALLEL_DECODE_MIN || threads < 2 {
            return self.decode_slice(payloads);
        }
        let size = payloads.len().div_ceil(threads);
        let slices: Vec<Result<Decoded>> = payloads
            .par_chunks(size)
            .map(|slice| self.decode_slice(slice))
            .collect();
        let mut batches = Vec::with_capacity(slices.len());
        let mut messages = Vec::with_capacity(payloads.len());
        let mut errors = Vec::new();
        for (k, slice) in slices.into_iter().enumerate() {
            let slice = slice?;
            let first = k * size;
            messages.extend(slice.messages.iter().map(|m| first + m));
            errors.extend(slice.errors.into_iter().map(|(m, why)| (first + m, why)));
            batches.push(slice.batch);
        }
        // Every slice's batch has one schema (the decoder's output, as one piece has).
        let schema = batches
            .first()
            .map_or_else(|| self.schema.clone(), |b| b.schema());
        Ok(Decoded {
            batch: datafusion::arrow::compute::concat_batches(&schema, &batches)?,
            messages,
            errors,
        })
    }

    /// [`Decoder::decode`] on the calling thread.
    fn decode_slice(&self, payloads: &[&[u8]]) -> Result<Decoded> {
        let mut errors = Vec::new();
        let mut kept: Vec<usize> = Vec::with_capacity(payloads.len());
        let mut inputs: Vec<&[u8]> = Vec::with_capacity(payloads.len());
        for (i, payload) in payloads.iter().enumerate() {
            let payload = trim_line(payload);
            if payload.is_empty() {
                errors.push((i, "empty message".to_string()));
            } else if self.is_header(payload) {
                continue;
            } else if let Err(reason) = self.check_syntax(payload) {
                errors.push((i, reason));
            } else {
                kept.push(i);
                inputs.push(payload);
            }
        }
        let wire = match self.decode_all(&inputs) {
            Ok(batch) if batch.num_rows() == inputs.len() => batch,
            _ => {
                // Slow path: find the bad messages one by one.
                let mut good = Vec::new();
                let mut good_batches = Vec::new();
                for (i, payload) in kept.iter().zip(&inputs) {
                    match self.decode_all(std::slice::from_ref(payload)) {
                        Ok(b) if b.num_rows() == 1 => {
                            good.push(*i);
                            good_batches.push(b);
                        }
                        Ok(b) => errors.push((
                            *i,
                            format!("message holds {} records, expected 1", b.num_rows()),
                        )),
                        Err(e) => errors.push((*i, e.to_string())),
                    }
                }
                kept = good;
                datafusion::arrow::compute::concat_batches(&self.wire, &good_batches)?
            }
        };
        let (batch, bad_rows) = self.convert(&wire)?;
        if !bad_rows.is_empty() {
            let mut keep = vec![true; batch.num_rows()];
            for (row, reason) in bad_rows {
                keep[row] = false;
                errors.push((kept[row], reason));
            }
            let mask = datafusion::arrow::array::BooleanArray::from(keep.clone());
            let batch = filter_record_batch(&batch, &mask)?;
            let messages = kept
                .iter()
                .zip(&keep)
                .filter(|(_, k)| **k)
                .map(|(m, _)| *m)
                .collect();
            errors.sort_by_key(|(i, _)| *i);
            return Ok(Decoded {
                batch,
                messages,
                errors,
            });
        }
        errors.sort_by_key(|(i, _)| *i);
        Ok(Decoded {
            batch,
            messages: kept,
            errors,
        })
    }

    /// Rejects payloads the encoding's grammar does not allow, where the vectorized
    /// decoder would be lenient (JSON only: arrow's CSV decoder is strict enough).
    fn check_syntax(&self, payload: &[u8]) -> std::result::Result<(), String> {
        match self.encoding {
            Encoding::Json => serde_json::from_slice::<serde::de::IgnoredAny>(payload)
                .map(|_| ())
                .map_err(|e| format!("invalid JSON: {e}")),
            Encoding::Csv { .. } => Ok(()),
        }
    }

    fn is_header(&self, payload: &[u8]) -> bool {
        matches!(
            self.encoding,
            Encoding::Csv {
                skip_headers: true,
                ..
            }
        ) && payload == self.header.as_slice()
    }

    fn decode_all(&self, payloads: &[&[u8]]) -> Result<RecordBatch> {
        match &self.encoding {
            Encoding::Json => {
                let mut decoder = datafusion::arrow::json::ReaderBuilder::new(self.wire.clone())
                    .with_coerce_primitive(true)
                    .with_batch_size(payloads.len().max(1))
                    .build_decoder()?;
                for payload in payloads {
                    let consumed = decoder.decode(payload)?;
                    if consumed != payload.len() {
                        return Err(SluiceError::coded(
                            "22P02",
                            "trailing data after the JSON value",
                        ));
                    }
                }
                let batch = decoder.flush()?;
                Ok(batch.unwrap_or_else(|| RecordBatch::new_empty(self.wire.clone())))
            }
            Encoding::Csv { delimiter, .. } => {
                let mut decoder =
                    datafusion::arrow::csv::reader::ReaderBuilder::new(self.wire.clone())
                        .with_header(false)
                        .with_delimiter(*delimiter)
                        .with_batch_size(payloads.len().max(1))
                        .build_decoder();
                let mut text = Vec::new();
                for payload in payloads {
                    text.extend_from_slice(payload);
                    text.push(b'\n');
                }
                let mut rest = text.as_slice();
                while !rest.is_empty() {
                    let consumed = decoder.decode(rest)?;
                    if consumed == 0 {
                        break;
                    }
                    rest = &rest[consumed..];
                }
                let batch = decoder.flush()?;
                Ok(batch.unwrap_or_else(|| RecordBatch::new_empty(self.wire.clone())))
            }
        }
    }

    /// Wire batch to the declared schema: converts timestamp text; reports rows whose
    /// value does not convert or that are NULL in a NOT NULL column.
    fn convert(&self, wire: &RecordBatch) -> Result<(RecordBatch, Vec<(usize, String)>)> {
        let mut bad: Vec<(usize, String)> = Vec::new();
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(wire.num_columns());
        for (column, field) in wire.columns().iter().zip(self.schema.fields()) {
            let converted = match field.data_type() {
                DataType::Timestamp(unit, tz) => {
                    let out = timestamps(column, unit, tz.clone())?;
                    for row in 0..column.len() {
                        if column.is_valid(row) && out.is_null(row) {
                            let text = column.as_string::<i32>().value(row);
                            bad.push((
                                row,
                                format!("column {}: \"{text}\" is not a timestamp", field.name()),
                            ));
                        }
                    }
                    out
                }
                declared @ (DataType::Int16
                | DataType::Int32
                | DataType::Int64
                | DataType::Decimal128(..)
                | DataType::Decimal256(..)) => {
                    let (out, out_of_range) = rounded(column, declared)?;
                    for row in out_of_range {
                        let text = array_value_to_string(column, row)?;
                        bad.push((
                            row,
                            format!("column {}: {text} is out of range", field.name()),
                        ));
                    }
                    out
                }
                _ => column.clone(),
            };
            if !field.is_nullable() {
                for row in 0..converted.len() {
                    if converted.is_null(row) {
                        bad.push((
                            row,
                            format!(
                                "column {} is NOT NULL but the message has no value",
                                field.name()
                            ),
                        ));
                    }
                }
            }
            columns.push(converted);
        }
        bad.sort_by_key(|(row, _)| *row);
        bad.dedup_by_key(|(row, _)| *row);
        let loose = crate::dataflow::change::nullable(&self.schema);
        let batch = RecordBatch::try_new(loose, columns)?;
        let batch = if bad.is_empty() {
            RecordBatch::try_new(self.schema.clone(), batch.columns().to_vec())?
        } else {
            batch
        };
        Ok((batch, bad))
    }

    /// The declared schema.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

fn trim_line(payload: &[u8]) -> &[u8] {
    let mut end = payload.len();
    while end > 0 && matches!(payload[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    &payload[..end]
}

/// Numbers decoded with one decimal place more than `declared` keeps ([`wire_type`]),
/// rounded to it half away from zero; and the rows whose value is out of its range,
/// which are NULL in the result.
fn rounded(wire: &ArrayRef, declared: &DataType) -> Result<(ArrayRef, Vec<usize>)> {
    let mut out_of_range = Vec::new();
    if let DataType::Decimal256(precision, _) = *declared {
        let limit = i256::from_i128(10).checked_pow(u32::from(precision));
        let array: Decimal256Array = wire
            .as_primitive::<Decimal256Type>()
            .iter()
            .enumerate()
            .map(|(row, value)| {
                let rounded = shift_256(value?, 1, Rounding::HalfAwayFromZero)
                    .filter(|v| limit.is_none_or(|limit| v.wrapping_abs() < limit));
                if rounded.is_none() {
                    out_of_range.push(row);
                }
                rounded
            })
            .collect();
        return Ok((
            Arc::new(array.with_data_type(declared.clone())),
            out_of_range,
        ));
    }
    let array = match wire.data_type() {
        DataType::Decimal128(..) => exact_array(
            wire.as_primitive::<Decimal128Type>()
                .iter()
                .map(|v| v.and_then(|v| round_half_away(v, 1))),
            declared,
            &mut out_of_range,
        )?,
        // A value beyond 128 bits is beyond every column's range: i128::MAX says so.
        DataType::Decimal256(..) => exact_array(
            wire.as_primitive::<Decimal256Type>()
                .iter()
                .map(|v| v.map(|v| round_half_away_256(v, 1).unwrap_or(i128::MAX))),
            declared,
            &mut out_of_range,
        )?,
        other => {
            return Err(SluiceError::Internal(format!(
                "a number column decoded as {other}"
            )));
        }
    };
    Ok((array, out_of_range))
}

/// Text that is either a number of milliseconds since the epoch or a date-time
/// string, to timestamps; NULL where neither parses.
fn timestamps(text: &ArrayRef, unit: &TimeUnit, tz: Option<Arc<str>>) -> Result<ArrayRef> {
    let safe = CastOptions {
        safe: true,
        ..Default::default()
    };
    let target = DataType::Timestamp(*unit, tz.clone());
    let millis = cast_with_options(text, &DataType::Int64, &safe)?;
    let per_ms: i64 = match unit {
        TimeUnit::Second => 0,
        TimeUnit::Millisecond => 1,
        TimeUnit::Microsecond => 1_000,
        TimeUnit::Nanosecond => 1_000_000,
    };
    let scaled: Int64Array = millis
        .as_primitive::<Int64Type>()
        .iter()
        .map(|v| {
            v.and_then(|ms| {
                if per_ms == 0 {
                    Some(ms / 1000)
                } else {
                    ms.checked_mul(per_ms)
                }
            })
        })
        .collect();
    let from_numbers = cast_with_options(&(Arc::new(scaled) as ArrayRef), &target, &safe)?;
    let from_text = cast_with_options(text, &target, &safe)?;
    let use_numbers = is_not_null(&from_numbers)?;
    Ok(zip(&use_numbers, &from_numbers, &from_text)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::TimestampMicrosecondArray;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
            Field::new("at", DataType::Timestamp(TimeUnit::Microsecond, None), true),
        ]))
    }

    #[test]
    fn a_large_batch_decodes_in_parallel_as_it_does_in_one_piece() {
        let decoder = Decoder::new(Encoding::Json, schema());
        let texts: Vec<String> = (0..5000)
            .map(|i| match i % 997 {
                13 => "{not json".to_string(),
                14 => format!(r#"{{"id": {i}, "at": "yesterday"}}"#),
                _ => format!(
                    r#"{{"id": {i}, "name": "n{i}", "at": {}}}"#,
                    1_704_067_200_000i64 + i
                ),
            })
            .collect();
        let payloads: Vec<&[u8]> = texts.iter().map(|t| t.as_bytes()).collect();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        let parallel = pool.install(|| decoder.decode(&payloads)).unwrap();
        let whole = decoder.decode_slice(&payloads).unwrap();
        assert_eq!(parallel.batch, whole.batch);
        assert_eq!(parallel.messages, whole.messages);
        assert_eq!(parallel.errors, whole.errors);
        // Two bad messages in each 997: at 13 + 997k and 14 + 997k, k = 0..=5.
        assert_eq!(whole.errors.len(), 12, "{:?}", whole.errors);
        assert_eq!(whole.errors[11].0, 4999);
        assert_eq!(whole.batch.num_rows(), 4988);
    }

    #[test]
    fn json_fast_path_with_missing_and_extra_fields_and_both_timestamp_forms() {
        let decoder = Decoder::new(Encoding::Json, schema());
        let payloads: Vec<&[u8]> = vec![
            br#"{"id": 1, "name": "a", "at": "2024-01-01T00:00:01Z", "extra": [1]}"#,
            br#"{"id": 2, "at": 1704067202000}"#,
        ];
        let decoded = decoder.decode(&payloads).unwrap();
        assert!(decoded.errors.is_empty(), "{:?}", decoded.errors);
        assert_eq!(decoded.messages, vec![0, 1]);
        let at = decoded
            .batch
            .column(2)
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .unwrap();
        assert_eq!(at.value(0), 1_704_067_201_000_000);
        assert_eq!(at.value(1), 1_704_067_202_000_000);
        assert!(decoded.batch.column(1).is_null(1));
    }

    /// An unconstrained `NUMERIC` reads 65 digits before the point from a message (the
    /// 66th's room holds the decimal place that rounds).
    #[test]
    fn unconstrained_numerics_read_wide_values() {
        let numeric = crate::sql::types::DEFAULT_NUMERIC;
        let schema = Arc::new(Schema::new(vec![Field::new(
            "n",
            DataType::Decimal256(numeric.0, numeric.1),
            true,
        )]));
        let wide = format!("{}.123456789012345", "9".repeat(50));
        let json = [
            format!(r#"{{"n": {wide}}}"#),
            r#"{"n": -0.00000000005}"#.to_string(),
            format!(r#"{{"n": 1{}}}"#, "0".repeat(66)),
        ];
        let payloads: Vec<&[u8]> = json.iter().map(|t| t.as_bytes()).collect();
        let decoded = Decoder::new(Encoding::Json, schema)
            .decode(&payloads)
            .unwrap();
        let rows: Vec<usize> = decoded.errors.iter().map(|(row, _)| *row).collect();
        assert_eq!(rows, vec![2], "{:?}", decoded.errors);
        let text = |row: usize| array_value_to_string(decoded.batch.column(0), row).unwrap();
        assert_eq!(text(0), format!("{}.1234567890", "9".repeat(50)));
        assert_eq!(text(1), "-0.0000000001");
    }

    #[test]
    fn numbers_round_half_away_from_zero_into_integers_and_numerics() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, true),
            Field::new("s", DataType::Int16, true),
            Field::new("price", DataType::Decimal128(10, 2), true),
            Field::new("wide", DataType::Decimal128(38, 2), true),
        ]));
        let wide = "123456789012345678901234567890123456.785";
        let json = [
            r#"{"k": 1.5, "s": -2.5, "price": 12.345, "wide": 1}"#.to_string(),
            r#"{"k": "3.5", "s": 1.49, "price": -12.345, "wide": 0.004}"#.to_string(),
            r#"{"k": 1e3, "s": -0.4, "price": "0.005", "wide": null}"#.to_string(),
            format!(r#"{{"k": 9223372036854775807, "price": 99999999.994, "wide": {wide}}}"#),
            r#"{"k": 9223372036854775807.5}"#.to_string(),
            r#"{"s": 32767.5}"#.to_string(),
            r#"{"price": 99999999.995}"#.to_string(),
        ];
        let payloads: Vec<&[u8]> = json.iter().map(|t| t.as_bytes()).collect();
        let decoded = Decoder::new(Encoding::Json, schema.clone())
            .decode(&payloads)
            .unwrap();
        let rows: Vec<usize> = decoded.errors.iter().map(|(row, _)| *row).collect();
        assert_eq!(rows, vec![4, 5, 6], "{:?}", decoded.errors);
        assert!(
            decoded.errors[0].1.contains("out of range"),
            "{:?}",
            decoded.errors
        );
        let text = |column: usize, row: usize| {
            array_value_to_string(decoded.batch.column(column), row).unwrap()
        };
        let column = |column: usize| (0..4).map(|row| text(column, row)).collect::<Vec<_>>();
        assert_eq!(column(0), ["2", "4", "1000", "9223372036854775807"]);
        assert_eq!(column(1), ["-3", "1", "0", ""]);
        assert_eq!(column(2), ["12.35", "-12.35", "0.01", "99999999.99"]);
        assert_eq!(
            column(3),
            [
                "1.00",
                "0.00",
                "",
                "123456789012345678901234567890123456.79"
            ]
        );

        // CSV fields are read the same way.
        let csv = Decoder::new(
            Encoding::Csv {
                delimiter: b',',
                skip_headers: false,
            },
            schema,
        );
        let decoded = csv.decode(&[b"2.5,-1.5,0.125,-0.005"]).unwrap();
        assert!(decoded.errors.is_empty(), "{:?}", decoded.errors);
        let row: Vec<String> = (0..4)
            .map(|c| array_value_to_string(decoded.batch.column(c), 0).unwrap())
            .collect();
        assert_eq!(row, ["3", "-2", "0.13", "-0.01"]);
    }

    #[test]
    fn bad_json_messages_are_skipped_and_reported() {
        let decoder = Decoder::new(Encoding::Json, schema());
        let payloads: Vec<&[u8]> = vec![
            br#"{"id": 1}"#,
            br#"{"id": "#,
            br#"{"id": "not a number"}"#,
            b"",
            br#"{"name": "no id"}"#,
            br#"{"id": 6, "at": "yesterday"}"#,
            br#"{"id": 7}{"id": 8}"#,
            br#"{"id": 9}"#,
        ];
        let decoded = decoder.decode(&payloads).unwrap();
        assert_eq!(decoded.messages, vec![0, 7]);
        let bad: Vec<usize> = decoded.errors.iter().map(|(i, _)| *i).collect();
        assert_eq!(bad, vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(decoded.batch.num_rows(), 2);
    }

    #[test]
    fn json_with_misplaced_commas_or_missing_separators_is_never_a_row() {
        let decoder = Decoder::new(Encoding::Json, schema());
        let payloads: Vec<&[u8]> = vec![
            br#"{"id": 1,, "name": "a"}"#,
            br#"{"id": 2, "name": "b"}"#,
            br#"{"id": 4 "name": "c"}"#,
            br#"{,"id": 3}"#,
            br#"{"id": 5,}"#,
            br#"{"id": 6, "name": "d",}"#,
            br#"[{"id": 7}]"#,
            br#"{"id": 8} x"#,
            br#"{"id": 9, "at": [1,]}"#,
            br#"{"id": 10}"#,
        ];
        let decoded = decoder.decode(&payloads).unwrap();
        assert_eq!(decoded.messages, vec![1, 9]);
        let bad: Vec<usize> = decoded.errors.iter().map(|(i, _)| *i).collect();
        assert_eq!(bad, vec![0, 2, 3, 4, 5, 6, 7, 8]);
        assert!(
            decoded.errors[0].1.starts_with("invalid JSON"),
            "{:?}",
            decoded.errors
        );
        let ids = decoded.batch.column(0).as_primitive::<Int64Type>();
        assert_eq!(ids.values().to_vec(), vec![2, 10]);
    }

    #[test]
    fn csv_lines_with_headers_skipped() {
        let decoder = Decoder::new(
            Encoding::Csv {
                delimiter: b'|',
                skip_headers: true,
            },
            schema(),
        );
        let payloads: Vec<&[u8]> = vec![
            b"id|name|at",
            b"1|x|2024-01-01 00:00:00\n",
            b"2||",
            b"oops|x|",
            b"3|y",
        ];
        let decoded = decoder.decode(&payloads).unwrap();
        assert_eq!(decoded.messages, vec![1, 2]);
        assert_eq!(
            decoded.errors.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            vec![3, 4]
        );
    }
}
