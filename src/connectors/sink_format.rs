//! How a sink's changes become messages: `FORMAT PLAIN | UPSERT | DEBEZIUM ENCODE
//! JSON`, from one consolidated part of its backlog (see [`crate::dataflow::sink`]).
//!
//! - `PLAIN`: one message per inserted row (a row held twice: two messages); the key
//!   is the primary key's JSON when one is declared, none otherwise. A removal
//!   cannot be said in this format: it is dropped with `force_append_only`, else
//!   counted as a rejected row.
//! - `UPSERT`: per primary key, the row it now holds (key and value JSON), or a
//!   tombstone (null value) when it holds none.
//! - `DEBEZIUM`: per primary key, an envelope `{"before", "after", "op", "ts_ms",
//!   "source"}` with `op` `c` (created), `u` (updated) or `d` (deleted, followed by
//!   a tombstone, as Debezium's `tombstones.on.delete` does).
//!
//! Values: integers, floating-point numbers and booleans are JSON numbers and
//! booleans (NaN and infinities are the strings `"NaN"`, `"Infinity"`,
//! `"-Infinity"`); text is a string; every other type is the string PostgreSQL
//! prints for it (`numeric` exactly, `"2024-05-01 12:00:00.5"` for a timestamp,
//! `"2024-05-01 12:00:00+00:00"` for a timestamptz, `"2024-05-01"` for a date).

use std::collections::BTreeMap;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, Float32Type, Float64Type, SchemaRef};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use serde_json::Value;

use crate::dataflow::ChangeBatch;
use crate::error::Result;

/// `FORMAT ...` of a sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkFormat {
    /// Inserted rows only; `force_append_only` drops removals instead of rejecting them.
    Plain {
        /// `force_append_only = 'true'`.
        force_append_only: bool,
    },
    /// The row each primary key holds, or a tombstone.
    Upsert,
    /// Debezium change envelopes.
    Debezium,
}

impl SinkFormat {
    /// Whether the format needs a primary key.
    pub fn keyed(&self) -> bool {
        !matches!(self, SinkFormat::Plain { .. })
    }

    /// The name in `FORMAT name`.
    pub fn name(&self) -> &'static str {
        match self {
            SinkFormat::Plain { .. } => "plain",
            SinkFormat::Upsert => "upsert",
            SinkFormat::Debezium => "debezium",
        }
    }
}

/// One message: its key and value (a tombstone has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkMessage {
    /// The key's JSON.
    pub key: Option<String>,
    /// The value's JSON; `None` for a tombstone.
    pub value: Option<String>,
}

/// The messages of one part, and what could not be said in the format.
#[derive(Debug, Default)]
pub struct Encoded {
    /// In the order to send them (per key: the order Kafka keeps).
    pub messages: Vec<SinkMessage>,
    /// Changed rows the messages stand for.
    pub rows: u64,
    /// Rows rejected (see [`crate::dataflow::sink::SinkProgress::rejected_rows`]).
    pub rejected_rows: u64,
    /// Why, for the first rejected row.
    pub rejection: Option<String>,
}

/// Encodes a sink's changes. See the module docs.
#[derive(Debug, Clone)]
pub struct SinkEncoder {
    format: SinkFormat,
    schema: SchemaRef,
    /// The primary key's columns, in the order declared.
    key: Vec<usize>,
    /// The sink's input, named in Debezium's `source.table`.
    relation: String,
}

/// A row: its key's JSON, its own JSON, its weight.
struct Row {
    key: Option<String>,
    value: String,
    weight: i64,
}

impl SinkEncoder {
    /// An encoder of `schema`'s rows, keyed by the columns `key`.
    pub fn new(format: SinkFormat, schema: SchemaRef, key: Vec<usize>, relation: &str) -> Self {
        SinkEncoder {
            format,
            schema,
            key,
            relation: relation.to_string(),
        }
    }

    /// The messages for one consolidated part.
    pub fn encode(&self, changes: &[ChangeBatch]) -> Result<Encoded> {
        let mut encoded = Encoded::default();
        let rows = changes
            .iter()
            .map(|change| self.rows(change))
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .flatten();
        match self.format {
            SinkFormat::Plain { force_append_only } => {
                for row in rows {
                    if row.weight < 0 {
                        if !force_append_only {
                            encoded.reject(
                                row.weight.unsigned_abs(),
                                "a PLAIN sink received a removal (its view is not append-only); \
                                 use FORMAT UPSERT or DEBEZIUM, or force_append_only = 'true'",
                            );
                        }
                        continue;
                    }
                    encoded.rows += row.weight as u64;
                    for _ in 0..row.weight {
                        encoded.messages.push(SinkMessage {
                            key: row.key.clone(),
                            value: Some(row.value.clone()),
                        });
                    }
                }
            }
            SinkFormat::Upsert | SinkFormat::Debezium => {
                // Per key: the rows removed and added, each repeated by its weight.
                let mut by_key: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
                for row in rows {
                    let entry = by_key.entry(row.key.unwrap_or_default()).or_default();
                    let side = if row.weight < 0 {
                        &mut entry.0
                    } else {
                        &mut entry.1
                    };
                    for _ in 0..row.weight.unsigned_abs() {
                        side.push(row.value.clone());
                    }
                }
                for (key, (removed, mut added)) in by_key {
                    encoded.rows += removed.len().max(added.len()) as u64;
                    if added.len() > 1 {
                        encoded.reject(
                            added.len() as u64 - 1,
                            &format!(
                                "primary key {key} is held by {} rows of the view; the last \
                                 one was written",
                                added.len()
                            ),
                        );
                    }
                    self.keyed_messages(&mut encoded.messages, key, removed.first(), added.pop());
                }
            }
        }
        Ok(encoded)
    }

    /// The messages for one key that held `before` and holds `after`.
    fn keyed_messages(
        &self,
        out: &mut Vec<SinkMessage>,
        key: String,
        before: Option<&String>,
        after: Option<String>,
    ) {
        let message = |value: Option<String>| SinkMessage {
            key: Some(key.clone()),
            value,
        };
        if self.format == SinkFormat::Upsert {
            out.push(message(after));
            return;
        }
        let op = match (before, &after) {
            (_, None) => "d",
            (None, Some(_)) => "c",
            (Some(_), Some(_)) => "u",
        };
        let ts_ms = chrono::Utc::now().timestamp_millis();
        let envelope = format!(
            r#"{{"before":{},"after":{},"op":"{op}","ts_ms":{ts_ms},"source":{{"connector":"sluice","db":"sluice","table":{}}}}}"#,
            before.map_or("null", String::as_str),
            after.as_deref().unwrap_or("null"),
            Value::String(self.relation.clone()),
        );
        out.push(message(Some(envelope)));
        if op == "d" {
            out.push(message(None));
        }
    }

    /// Each row of `change` as JSON, with its key's JSON.
    fn rows(&self, change: &ChangeBatch) -> Result<Vec<Row>> {
        let data = change.data();
        let columns = data
            .columns()
            .iter()
            .map(|column| json_values(column.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        let names: Vec<String> = self
            .schema
            .fields()
            .iter()
            .map(|f| Value::String(f.name().clone()).to_string())
            .collect();
        let object = |row: usize, indices: &mut dyn Iterator<Item = usize>| {
            let fields: Vec<String> = indices
                .map(|i| format!("{}:{}", names[i], columns[i][row]))
                .collect();
            format!("{{{}}}", fields.join(","))
        };
        Ok((0..data.num_rows())
            .map(|row| Row {
                key: (!self.key.is_empty()).then(|| object(row, &mut self.key.iter().copied())),
                value: object(row, &mut (0..columns.len())),
                weight: change.weights().value(row),
            })
            .collect())
    }
}

impl Encoded {
    fn reject(&mut self, rows: u64, why: &str) {
        self.rejected_rows += rows;
        self.rejection.get_or_insert_with(|| why.to_string());
    }
}

/// A column's values as JSON. See the module docs for the mapping.
fn json_values(array: &dyn Array) -> Result<Vec<Value>> {
    let float = |v: f64| {
        serde_json::Number::from_f64(v).map_or_else(
            || {
                Value::String(match v {
                    v if v.is_nan() => "NaN".into(),
                    v if v > 0.0 => "Infinity".into(),
                    _ => "-Infinity".into(),
                })
            },
            Value::Number,
        )
    };
    let valid = |row: usize| array.is_valid(row);
    let values = match array.data_type() {
        DataType::Boolean => {
            let array = array.as_boolean();
            (0..array.len())
                .map(|i| valid(i).then(|| Value::Bool(array.value(i))))
                .collect::<Vec<_>>()
        }
        DataType::Float32 => {
            // Through its shortest decimal form: 0.1f32 is written 0.1, not the
            // 0.10000000149011612 its widening to f64 would print.
            let array = array.as_primitive::<Float32Type>();
            let widen = |v: f32| v.to_string().parse::<f64>().unwrap_or(f64::from(v));
            (0..array.len())
                .map(|i| valid(i).then(|| float(widen(array.value(i)))))
                .collect()
        }
        DataType::Float64 => {
            let array = array.as_primitive::<Float64Type>();
            (0..array.len())
                .map(|i| valid(i).then(|| float(array.value(i))))
                .collect()
        }
        t if t.is_integer() => {
            let formatter = ArrayFormatter::try_new(array, &FormatOptions::default())?;
            (0..array.len())
                .map(|i| {
                    valid(i).then(|| {
                        let text = formatter.value(i).to_string();
                        serde_json::from_str(&text).unwrap_or(Value::String(text))
                    })
                })
                .collect()
        }
        _ => {
            let options = FormatOptions::default()
                .with_timestamp_format(Some("%Y-%m-%d %H:%M:%S%.f"))
                .with_timestamp_tz_format(Some("%Y-%m-%d %H:%M:%S%.f%:z"));
            let formatter = ArrayFormatter::try_new(array, &options)?;
            (0..array.len())
                .map(|i| valid(i).then(|| Value::String(formatter.value(i).to_string())))
                .collect()
        }
    };
    Ok(values
        .into_iter()
        .map(|v| v.unwrap_or(Value::Null))
        .collect())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{
        Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
    };
    use datafusion::arrow::datatypes::{Field, Schema, TimeUnit};

    use super::*;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
            Field::new("score", DataType::Float64, true),
            Field::new("at", DataType::Timestamp(TimeUnit::Microsecond, None), true),
        ]))
    }

    fn change(rows: &[(i64, &str, f64, i64)]) -> ChangeBatch {
        let data = RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))),
                Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.2))),
                Arc::new(TimestampMicrosecondArray::from_iter_values(
                    rows.iter().map(|_| 1_714_564_800_500_000),
                )),
            ],
        )
        .unwrap();
        ChangeBatch::try_new(data, Int64Array::from_iter_values(rows.iter().map(|r| r.3))).unwrap()
    }

    fn values(encoded: &Encoded) -> Vec<(Option<&str>, Option<&str>)> {
        encoded
            .messages
            .iter()
            .map(|m| (m.key.as_deref(), m.value.as_deref()))
            .collect()
    }

    #[test]
    fn plain_writes_each_inserted_row_and_rejects_removals() {
        let encoder = SinkEncoder::new(
            SinkFormat::Plain {
                force_append_only: false,
            },
            schema(),
            vec![],
            "v",
        );
        let encoded = encoder
            .encode(&[change(&[(1, "a\"b", f64::NAN, 2), (2, "c", 0.5, -1)])])
            .unwrap();
        let row = r#"{"id":1,"name":"a\"b","score":"NaN","at":"2024-05-01 12:00:00.500"}"#;
        assert_eq!(values(&encoded), vec![(None, Some(row)), (None, Some(row))]);
        assert_eq!((encoded.rows, encoded.rejected_rows), (2, 1));
        assert!(encoded.rejection.unwrap().contains("force_append_only"));
    }

    #[test]
    fn upsert_writes_the_row_a_key_holds_or_a_tombstone() {
        let encoder = SinkEncoder::new(SinkFormat::Upsert, schema(), vec![0], "v");
        let encoded = encoder
            .encode(&[change(&[
                (1, "old", 1.0, -1),
                (1, "new", 2.0, 1),
                (2, "gone", 3.0, -1),
            ])])
            .unwrap();
        let got = values(&encoded);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, Some(r#"{"id":1}"#));
        assert!(got[0].1.unwrap().contains(r#""name":"new""#));
        assert_eq!(got[1], (Some(r#"{"id":2}"#), None));
        assert_eq!(encoded.rejected_rows, 0);
    }

    #[test]
    fn a_key_held_by_two_rows_is_reported() {
        let encoder = SinkEncoder::new(SinkFormat::Upsert, schema(), vec![0], "v");
        let encoded = encoder
            .encode(&[change(&[(1, "a", 1.0, 1), (1, "b", 2.0, 1)])])
            .unwrap();
        assert_eq!(encoded.messages.len(), 1);
        assert_eq!(encoded.rejected_rows, 1);
        assert!(encoded.rejection.unwrap().contains("held by 2 rows"));
    }

    #[test]
    fn debezium_says_create_update_and_delete() {
        let encoder = SinkEncoder::new(SinkFormat::Debezium, schema(), vec![0], "scores");
        let encoded = encoder
            .encode(&[change(&[
                (1, "old", 1.0, -1),
                (1, "new", 2.0, 1),
                (2, "born", 3.0, 1),
                (3, "gone", 4.0, -1),
            ])])
            .unwrap();
        let envelopes: Vec<Value> = encoded
            .messages
            .iter()
            .filter_map(|m| m.value.as_deref())
            .map(|v| serde_json::from_str(v).unwrap())
            .collect();
        let ops: Vec<&str> = envelopes
            .iter()
            .map(|e| e["op"].as_str().unwrap())
            .collect();
        assert_eq!(ops, ["u", "c", "d"]);
        assert_eq!(envelopes[0]["before"]["name"], "old");
        assert_eq!(envelopes[0]["after"]["name"], "new");
        assert_eq!(envelopes[2]["after"], Value::Null);
        assert_eq!(envelopes[2]["source"]["table"], "scores");
        // The delete is followed by a tombstone.
        assert_eq!(encoded.messages.last().unwrap().value, None);
        assert_eq!(encoded.messages.len(), 4);
    }
}
