//! Schema `sluice_catalog`: Sluice's own system relations, defined in
//! `catalog/sluice_catalog.sql` and filled from the live catalog on every read.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::catalog::SchemaProvider;
use datafusion::datasource::{MemTable, TableProvider};
use datafusion::sql::sqlparser::ast::{ColumnOption, Statement};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

use super::Catalog;
use crate::dataflow::checkpoints::SharedCheckpointStatus;
use crate::error::{Result, SluiceError};
use crate::sql::types::{arrow_type, sql_name};

/// Name of the schema holding the system relations.
pub const SYSTEM_SCHEMA: &str = "sluice_catalog";
const DEFINITIONS: &str = include_str!("../../catalog/sluice_catalog.sql");

/// Schema provider for [`SYSTEM_SCHEMA`].
#[derive(Debug)]
pub struct SystemSchema {
    catalog: Arc<Catalog>,
    checkpoints: SharedCheckpointStatus,
    schemas: BTreeMap<String, SchemaRef>,
}

impl SystemSchema {
    /// Parses the relation definitions and binds them to `catalog` and the
    /// server's `checkpoints`.
    pub fn new(catalog: Arc<Catalog>, checkpoints: SharedCheckpointStatus) -> Result<Self> {
        Ok(SystemSchema {
            catalog,
            checkpoints,
            schemas: relation_schemas()?,
        })
    }

    fn rows(&self, name: &str, schema: &SchemaRef) -> Result<RecordBatch> {
        let relations = self.catalog.relations();
        let columns: Vec<ArrayRef> = match name {
            "relations" => vec![
                Arc::new(Int64Array::from_iter_values(
                    relations.iter().map(|r| r.entry().id as i64),
                )),
                Arc::new(StringArray::from_iter_values(
                    relations.iter().map(|r| &r.entry().name),
                )),
                Arc::new(StringArray::from_iter_values(
                    relations.iter().map(|r| r.entry().kind.as_str()),
                )),
                Arc::new(StringArray::from_iter_values(
                    relations.iter().map(|r| &r.entry().definition),
                )),
            ],
            "columns" => {
                let mut relation = Vec::new();
                let mut position = Vec::new();
                let mut column = Vec::new();
                let mut data_type = Vec::new();
                let mut nullable = Vec::new();
                let mut primary_key = Vec::new();
                for r in &relations {
                    let keys = match r {
                        super::Relation::Table(t) => t.store().layout().primary_key.clone(),
                        super::Relation::View(_) | super::Relation::Source(_) => Vec::new(),
                    };
                    for (i, field) in r.schema().fields().iter().enumerate() {
                        relation.push(r.entry().name.clone());
                        position.push(i as i32 + 1);
                        column.push(field.name().clone());
                        data_type.push(sql_name(field.data_type()));
                        nullable.push(field.is_nullable());
                        primary_key.push(keys.contains(&i));
                    }
                }
                vec![
                    Arc::new(StringArray::from(relation)),
                    Arc::new(Int32Array::from(position)),
                    Arc::new(StringArray::from(column)),
                    Arc::new(StringArray::from(data_type)),
                    Arc::new(BooleanArray::from(nullable)),
                    Arc::new(BooleanArray::from(primary_key)),
                ]
            }
            "view_status" => {
                let views = self.catalog.views();
                let stats: Vec<_> = views
                    .iter()
                    .map(|v| (v.running().stats(), v.running().watermark()))
                    .collect();
                vec![
                    Arc::new(StringArray::from_iter_values(
                        views.iter().map(|v| v.entry().name.as_str()),
                    )),
                    Arc::new(Int64Array::from_iter_values(
                        stats.iter().map(|((rows, _, _), _)| *rows as i64),
                    )),
                    Arc::new(Int64Array::from_iter_values(
                        stats.iter().map(|((_, bytes, _), _)| *bytes as i64),
                    )),
                    Arc::new(Int64Array::from_iter_values(
                        stats.iter().map(|((_, _, bytes), _)| *bytes as i64),
                    )),
                    Arc::new(TimestampMicrosecondArray::from(
                        stats
                            .iter()
                            .map(|(_, (watermark, _))| *watermark)
                            .collect::<Vec<_>>(),
                    )),
                    Arc::new(Int64Array::from_iter_values(
                        stats.iter().map(|(_, (_, late))| *late as i64),
                    )),
                ]
            }
            "sink_status" => sink_rows(&self.catalog),
            "source_status" | "source_partitions" | "source_errors" => {
                return self.source_rows(name, schema);
            }
            "source_readers" => source_readers(&self.catalog),
            "checkpoints" | "checkpoint_status" => {
                return super::system_checkpoints::rows(
                    &self.catalog,
                    &self.checkpoints,
                    name,
                    schema,
                );
            }
            "models" | "model_io" | "model_stats" => {
                return super::system_models::rows(&self.catalog, name, schema);
            }
            other => {
                return Err(SluiceError::Internal(format!(
                    "system relation {other} has no row source"
                )));
            }
        };
        Ok(RecordBatch::try_new(schema.clone(), columns)?)
    }
}

/// `sluice_catalog.source_readers`: every reader of every source.
fn source_readers(catalog: &Catalog) -> Vec<ArrayRef> {
    let mut rows = Vec::new();
    for source in catalog.sources() {
        for reader in source.source().readers() {
            rows.push((source.entry().name.clone(), reader));
        }
    }
    vec![
        Arc::new(StringArray::from_iter_values(rows.iter().map(|(s, _)| s))),
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|(_, r)| r.id as i64),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter()
                .map(|(_, r)| if r.live { "live" } else { "backfill" }),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|(_, r)| r.snapshot.state.as_str()),
        )),
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|(_, r)| r.snapshot.rows as i64),
        )),
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|(_, r)| r.snapshot.errors as i64),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|(_, r)| r.views.join(",")),
        )),
    ]
}

impl SystemSchema {
    fn source_rows(&self, name: &str, schema: &SchemaRef) -> Result<RecordBatch> {
        let mut text: Vec<Vec<String>> = vec![Vec::new(); 6];
        let mut ints: Vec<Vec<Option<i64>>> = vec![Vec::new(); 6];
        let mut times: Vec<Option<i64>> = Vec::new();
        for source in self.catalog.sources() {
            let has_watermark = source.source().config().watermark.is_some();
            for feed in source.source().feeds() {
                let snap = &feed.snapshot;
                let who = [source.entry().name.clone(), feed.view.clone()];
                match name {
                    "source_status" => {
                        text[0].push(who[0].clone());
                        text[1].push(who[1].clone());
                        text[2].push(snap.state.clone());
                        ints[0].push(Some(snap.rows as i64));
                        ints[1].push(Some(snap.errors as i64));
                        ints[2].push(Some(feed.backlog as i64));
                        times.push(snap.watermark);
                    }
                    "source_partitions" => {
                        for (id, p) in &snap.partitions {
                            text[0].push(who[0].clone());
                            text[1].push(who[1].clone());
                            ints[0].push(Some(i64::from(*id)));
                            let next = (p.next_offset >= 0).then_some(p.next_offset);
                            ints[1].push(next);
                            let high = (p.high_watermark >= 0).then_some(p.high_watermark);
                            ints[2].push(high);
                            ints[3].push(p.lag());
                            times.push(p.max_event_time.filter(|_| has_watermark));
                        }
                    }
                    _ => {
                        for e in &snap.recent {
                            text[0].push(who[0].clone());
                            text[1].push(who[1].clone());
                            text[2].push(e.reason.clone());
                            text[3].push(e.payload.clone());
                            ints[0].push(Some(i64::from(e.partition)));
                            ints[1].push(Some(e.offset));
                            let micros =
                                e.at.duration_since(std::time::UNIX_EPOCH)
                                    .map(|d| d.as_micros() as i64)
                                    .unwrap_or_default();
                            times.push(Some(micros));
                        }
                    }
                }
            }
        }
        let strings = |i: usize| -> ArrayRef { Arc::new(StringArray::from(text[i].clone())) };
        let longs = |i: usize| -> ArrayRef { Arc::new(Int64Array::from(ints[i].clone())) };
        let partition = || -> ArrayRef {
            Arc::new(Int32Array::from(
                ints[0]
                    .iter()
                    .map(|v| v.map(|p| p as i32))
                    .collect::<Vec<_>>(),
            ))
        };
        let stamps = |utc: bool| -> ArrayRef {
            let array = TimestampMicrosecondArray::from(times.clone());
            if utc {
                Arc::new(array.with_timezone(crate::sql::types::UTC))
            } else {
                Arc::new(array)
            }
        };
        let columns: Vec<ArrayRef> = match name {
            "source_status" => vec![
                strings(0),
                strings(1),
                strings(2),
                longs(0),
                longs(1),
                stamps(false),
                longs(2),
            ],
            "source_partitions" => vec![
                strings(0),
                strings(1),
                partition(),
                longs(1),
                longs(2),
                longs(3),
                stamps(false),
            ],
            _ => vec![
                strings(0),
                strings(1),
                partition(),
                longs(1),
                strings(2),
                strings(3),
                stamps(true),
            ],
        };
        Ok(RecordBatch::try_new(schema.clone(), columns)?)
    }
}

#[async_trait]
impl SchemaProvider for SystemSchema {
    fn table_names(&self) -> Vec<String> {
        self.schemas.keys().cloned().collect()
    }

    async fn table(&self, name: &str) -> datafusion::error::Result<Option<Arc<dyn TableProvider>>> {
        let Some(schema) = self.schemas.get(name) else {
            return Ok(None);
        };
        let batch = self
            .rows(name, schema)
            .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
        Ok(Some(Arc::new(MemTable::try_new(
            schema.clone(),
            vec![vec![batch]],
        )?)))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.schemas.contains_key(name)
    }
}

/// Reads the `CREATE TABLE sluice_catalog.x (...)` statements of the definitions file.
/// The columns of `sink_status`.
fn sink_rows(catalog: &Catalog) -> Vec<ArrayRef> {
    let sinks = catalog.sinks();
    let states: Vec<_> = sinks
        .iter()
        .map(|s| {
            let running = s.running();
            let progress = running
                .progress()
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            let backlog = running.backlog().lock().unwrap_or_else(|p| p.into_inner());
            (progress, backlog.committed(), backlog.rows())
        })
        .collect();
    let text = |f: &dyn Fn(usize) -> String| -> ArrayRef {
        Arc::new(StringArray::from_iter_values((0..sinks.len()).map(f)))
    };
    let bigint = |f: &dyn Fn(usize) -> u64| -> ArrayRef {
        Arc::new(Int64Array::from_iter_values(
            (0..sinks.len()).map(|i| f(i) as i64),
        ))
    };
    vec![
        text(&|i| sinks[i].entry().name.clone()),
        text(&|i| sinks[i].input().to_string()),
        text(&|i| sinks[i].format().name().to_string()),
        text(&|i| sinks[i].topic().to_string()),
        bigint(&|i| states[i].0.rows_written),
        bigint(&|i| states[i].0.messages_written),
        bigint(&|i| states[i].0.commits),
        Arc::new(Int64Array::from(
            states
                .iter()
                .map(|s| s.1.map(|c| c as i64))
                .collect::<Vec<_>>(),
        )),
        bigint(&|i| states[i].2 as u64),
        bigint(&|i| states[i].0.rejected_rows),
        bigint(&|i| states[i].0.retries),
        Arc::new(StringArray::from(
            states
                .iter()
                .map(|s| s.0.last_error.clone())
                .collect::<Vec<_>>(),
        )),
    ]
}

/// The system relations' schemas, by name.
pub fn relation_schemas() -> Result<BTreeMap<String, SchemaRef>> {
    parse_definitions(DEFINITIONS)
}

fn parse_definitions(sql: &str) -> Result<BTreeMap<String, SchemaRef>> {
    let mut schemas = BTreeMap::new();
    for statement in Parser::parse_sql(&PostgreSqlDialect {}, sql)? {
        let Statement::CreateTable(create) = statement else {
            return Err(SluiceError::Internal(
                "catalog/sluice_catalog.sql may only hold CREATE TABLE statements".into(),
            ));
        };
        let name = create
            .name
            .0
            .last()
            .map(|part| part.to_string())
            .ok_or_else(|| SluiceError::Internal("system relation without a name".into()))?;
        let mut fields = Vec::new();
        for column in &create.columns {
            let not_null = column
                .options
                .iter()
                .any(|o| matches!(o.option, ColumnOption::NotNull));
            fields.push(Field::new(
                column.name.value.clone(),
                arrow_type(&column.data_type)?,
                !not_null,
            ));
        }
        schemas.insert(name, Arc::new(Schema::new(fields)));
    }
    Ok(schemas)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_definitions_parse() {
        let schemas = parse_definitions(DEFINITIONS).unwrap();
        assert_eq!(
            schemas.keys().cloned().collect::<Vec<_>>(),
            vec![
                "checkpoint_status",
                "checkpoints",
                "columns",
                "model_io",
                "model_stats",
                "models",
                "relations",
                "sink_status",
                "source_errors",
                "source_partitions",
                "source_readers",
                "source_status",
                "view_status"
            ]
        );
        assert_eq!(schemas["relations"].fields().len(), 4);
    }
}
