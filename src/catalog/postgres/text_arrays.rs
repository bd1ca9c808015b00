//! A `pg_catalog` crate relation whose array columns the crate keeps as text
//! (`pg_proc.proacl`: `{=X/postgres,postgres=X/postgres}`), with those columns as
//! arrays of text, as PostgreSQL's `aclitem[]` reads (psql's `\df+` gives `proacl` to
//! `array_to_string`).
//!
//! [`TextArrayColumns::scan`] reads the crate's rows (a few thousand, built in
//! memory) and parses each such cell as a PostgreSQL array literal: elements
//! separated by commas, double-quoted ones with `\` escapes, `NULL` unquoted a NULL.
//! A cell that is not an array literal is an error, not a guess.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, ListBuilder, RecordBatch, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::Session;
use datafusion::common::cast::as_string_array;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::{ExecutionPlan, collect};

/// `inner` with its text columns `columns` as arrays of text.
#[derive(Debug)]
pub struct TextArrayColumns {
    inner: Arc<dyn TableProvider>,
    schema: SchemaRef,
    columns: &'static [&'static str],
}

impl TextArrayColumns {
    pub fn new(inner: Arc<dyn TableProvider>, columns: &'static [&'static str]) -> Self {
        let fields: Vec<Field> = inner
            .schema()
            .fields()
            .iter()
            .map(|field| {
                if columns.contains(&field.name().as_str()) && field.data_type() == &DataType::Utf8
                {
                    let item = Arc::new(Field::new_list_field(DataType::Utf8, true));
                    Field::new(field.name(), DataType::List(item), true)
                } else {
                    field.as_ref().clone()
                }
            })
            .collect();
        TextArrayColumns {
            inner,
            schema: Arc::new(Schema::new(fields)),
            columns,
        }
    }

    /// `batch` (the inner relation's) with the columns converted.
    fn convert(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let mut arrays = Vec::with_capacity(batch.num_columns());
        for (field, array) in self.schema.fields().iter().zip(batch.columns()) {
            if self.columns.contains(&field.name().as_str())
                && matches!(field.data_type(), DataType::List(_))
                && array.data_type() == &DataType::Utf8
            {
                let mut lists = ListBuilder::new(StringBuilder::new());
                for cell in as_string_array(array)?.iter() {
                    match cell {
                        None => lists.append_null(),
                        Some(text) => {
                            for item in parse_array_literal(text)? {
                                lists.values().append_option(item);
                            }
                            lists.append(true);
                        }
                    }
                }
                arrays.push(Arc::new(lists.finish()) as ArrayRef);
            } else {
                arrays.push(array.clone());
            }
        }
        Ok(RecordBatch::try_new(self.schema.clone(), arrays)?)
    }
}

#[async_trait]
impl TableProvider for TextArrayColumns {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        // No filter or limit is pushed down (the default): the rows are read whole.
        let plan = self.inner.scan(state, None, &[], None).await?;
        let batches = collect(plan, state.task_ctx()).await?;
        let converted = batches
            .iter()
            .map(|b| self.convert(b))
            .collect::<Result<Vec<_>>>()?;
        MemorySourceConfig::try_new_exec(&[converted], self.schema(), projection.cloned())
            .map(|exec| exec as Arc<dyn ExecutionPlan>)
    }
}

/// The elements of a PostgreSQL array literal of one dimension (`{a,"b c",NULL}`).
fn parse_array_literal(text: &str) -> Result<Vec<Option<String>>> {
    let malformed = || DataFusionError::Execution(format!("malformed array literal: {text}"));
    let inner = text
        .trim()
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .ok_or_else(malformed)?;
    let mut items = Vec::new();
    if inner.trim().is_empty() {
        return Ok(items);
    }
    let mut chars = inner.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let item = if chars.peek() == Some(&'"') {
            chars.next();
            let mut item = String::new();
            loop {
                match chars.next().ok_or_else(malformed)? {
                    '"' => break,
                    '\\' => item.push(chars.next().ok_or_else(malformed)?),
                    c => item.push(c),
                }
            }
            Some(item)
        } else {
            let mut item = String::new();
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                if c == '"' || c == '{' {
                    return Err(malformed());
                }
                item.push(c);
                chars.next();
            }
            let item = item.trim_end().to_string();
            (!item.eq_ignore_ascii_case("null")).then_some(item)
        };
        items.push(item);
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.next() {
            None => return Ok(items),
            Some(',') => {}
            Some(_) => return Err(malformed()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_literals_parse_as_postgresql_reads_them() {
        let some = |items: &[&str]| -> Vec<Option<String>> {
            items.iter().map(|s| Some(s.to_string())).collect()
        };
        assert_eq!(
            parse_array_literal("{=X/postgres,postgres=X/postgres}").unwrap(),
            some(&["=X/postgres", "postgres=X/postgres"])
        );
        assert_eq!(
            parse_array_literal(r#"{"a b","c\"d",NULL, e }"#).unwrap(),
            vec![
                Some("a b".into()),
                Some("c\"d".into()),
                None,
                Some("e".into())
            ]
        );
        assert_eq!(parse_array_literal("{}").unwrap(), vec![]);
        for bad in ["", "a,b", "{a", "{\"a}", "{a\"b}"] {
            assert!(parse_array_literal(bad).is_err(), "{bad}");
        }
    }
}
