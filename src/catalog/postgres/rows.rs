//! A catalog table's record batch, built row by row by column name: each row names
//! the columns it knows, the others get PostgreSQL's empty value for their type (`0`,
//! `false`, `''`) or NULL where the column takes NULL. So a table keeps every column
//! PostgreSQL has while the code fills only the ones that mean something for Sluice.

use datafusion::arrow::array::{ArrayRef, RecordBatch, new_empty_array};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::{Result, ScalarValue};

/// One cell's value, converted to its column's type when the batch is built.
#[derive(Debug, Clone)]
pub enum Value {
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(String),
    /// An `int2[]` / `int2vector`, e.g. `conkey`, `indkey`.
    Int2s(Vec<i16>),
    /// An `oidvector` (`int4` items, as the other OID columns), e.g. `indclass`.
    Ints(Vec<i64>),
    /// A `text[]` (or `aclitem[]`, shown as text), e.g. `relacl`.
    Texts(Vec<String>),
    Null,
}

impl From<&str> for Value {
    fn from(text: &str) -> Value {
        Value::Text(text.to_string())
    }
}

impl From<String> for Value {
    fn from(text: String) -> Value {
        Value::Text(text)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<i32> for Value {
    fn from(n: i32) -> Value {
        Value::Int(n.into())
    }
}

impl From<Option<String>> for Value {
    fn from(text: Option<String>) -> Value {
        text.map_or(Value::Null, Value::Text)
    }
}

/// A row: (column name, value) pairs.
pub type Row = Vec<(&'static str, Value)>;

/// The rows of one table, in the table's `schema`.
pub struct Rows {
    schema: SchemaRef,
    rows: Vec<Row>,
}

impl Rows {
    pub fn new(schema: SchemaRef) -> Rows {
        Rows {
            schema,
            rows: Vec::new(),
        }
    }

    pub fn push(&mut self, row: Row) {
        self.rows.push(row);
    }

    /// The batch; a value that does not convert to its column's type is an error
    /// (a mistake in this module, not in the user's input).
    pub fn finish(self) -> Result<RecordBatch> {
        let columns = self
            .schema
            .fields()
            .iter()
            .map(|field| {
                let cells = self.rows.iter().map(|row| {
                    let value = row
                        .iter()
                        .find(|(name, _)| *name == field.name())
                        .map(|(_, value)| value);
                    cell(value, field.data_type(), field.is_nullable())
                });
                let cells: Vec<ScalarValue> = cells.collect::<Result<_>>()?;
                if cells.is_empty() {
                    Ok(new_empty_array(field.data_type()))
                } else {
                    ScalarValue::iter_to_array(cells)
                }
            })
            .collect::<Result<Vec<ArrayRef>>>()?;
        Ok(RecordBatch::try_new(self.schema, columns)?)
    }
}

fn cell(value: Option<&Value>, data_type: &DataType, nullable: bool) -> Result<ScalarValue> {
    let scalar = match value {
        Some(Value::Int(n)) => ScalarValue::Int64(Some(*n)),
        Some(Value::Float(f)) => ScalarValue::Float64(Some(*f)),
        Some(Value::Bool(b)) => ScalarValue::Boolean(Some(*b)),
        Some(Value::Text(t)) => ScalarValue::Utf8(Some(t.clone())),
        Some(Value::Int2s(items)) => {
            if let DataType::Utf8 = data_type {
                // A column the static catalog keeps as text: PostgreSQL's text form.
                let items: Vec<String> = items.iter().map(i16::to_string).collect();
                ScalarValue::Utf8(Some(format!("{{{}}}", items.join(","))))
            } else {
                let items: Vec<ScalarValue> =
                    items.iter().map(|n| ScalarValue::Int16(Some(*n))).collect();
                ScalarValue::List(ScalarValue::new_list_nullable(&items, &DataType::Int16))
            }
        }
        Some(Value::Ints(items)) => {
            let items: Vec<ScalarValue> =
                items.iter().map(|n| ScalarValue::Int64(Some(*n))).collect();
            let item_type = match data_type {
                DataType::List(item) => item.data_type().clone(),
                _ => DataType::Int64,
            };
            let items = items
                .into_iter()
                .map(|n| n.cast_to(&item_type))
                .collect::<Result<Vec<_>>>()?;
            ScalarValue::List(ScalarValue::new_list_nullable(&items, &item_type))
        }
        Some(Value::Texts(items)) => {
            let items: Vec<ScalarValue> = items
                .iter()
                .map(|t| ScalarValue::Utf8(Some(t.clone())))
                .collect();
            ScalarValue::List(ScalarValue::new_list_nullable(&items, &DataType::Utf8))
        }
        Some(Value::Null) => ScalarValue::try_from(data_type)?,
        None if nullable => ScalarValue::try_from(data_type)?,
        None => match data_type {
            DataType::Utf8 => ScalarValue::Utf8(Some(String::new())),
            DataType::Boolean => ScalarValue::Boolean(Some(false)),
            other => ScalarValue::new_zero(other)?,
        },
    };
    scalar.cast_to(data_type)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::arrow::util::pretty::pretty_format_batches;

    use super::*;

    #[test]
    fn rows_fill_unnamed_columns_with_empty_values_or_null() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("oid", DataType::Int32, false),
            Field::new("name", DataType::Utf8, false),
            Field::new("flag", DataType::Boolean, false),
            Field::new("note", DataType::Utf8, true),
            Field::new(
                "keys",
                DataType::List(Arc::new(Field::new_list_field(DataType::Int16, true))),
                true,
            ),
            Field::new("keys_text", DataType::Utf8, true),
        ]));
        let mut rows = Rows::new(schema);
        rows.push(vec![
            ("oid", 7.into()),
            ("keys", Value::Int2s(vec![1, 3])),
            ("keys_text", Value::Int2s(vec![2])),
        ]);
        rows.push(vec![("name", "t".into()), ("flag", true.into())]);
        let text = pretty_format_batches(&[rows.finish().unwrap()])
            .unwrap()
            .to_string();
        let expected = "\
+-----+------+-------+------+--------+-----------+
| oid | name | flag  | note | keys   | keys_text |
+-----+------+-------+------+--------+-----------+
| 7   |      | false |      | [1, 3] | {2}       |
| 0   | t    | true  |      |        |           |
+-----+------+-------+------+--------+-----------+";
        assert_eq!(text, expected);
    }
}
