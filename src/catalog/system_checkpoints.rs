//! Rows of the checkpoint relations of `sluice_catalog`: `checkpoints` and
//! `checkpoint_status` (definitions in `catalog/sluice_catalog.sql`).

use std::sync::Arc;

use datafusion::arrow::array::TimestampMicrosecondArray;
use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::SchemaRef;

use super::Catalog;
use crate::dataflow::checkpoints::SharedCheckpointStatus;
use crate::error::Result;
use crate::sql::types::UTC;

/// The rows of checkpoint relation `name`.
pub fn rows(
    catalog: &Catalog,
    status: &SharedCheckpointStatus,
    name: &str,
    schema: &SchemaRef,
) -> Result<RecordBatch> {
    let status = status.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let time = |values: Vec<Option<i64>>| -> ArrayRef {
        Arc::new(TimestampMicrosecondArray::from(values).with_timezone(UTC))
    };
    let bigint = |values: Vec<Option<i64>>| -> ArrayRef { Arc::new(Int64Array::from(values)) };
    let text = |values: Vec<Option<String>>| -> ArrayRef { Arc::new(StringArray::from(values)) };
    let last = status.last.as_deref();
    let columns: Vec<ArrayRef> = if name == "checkpoint_status" {
        vec![
            bigint(vec![Some(status.interval.as_millis() as i64)]),
            bigint(vec![last.map(|m| m.id as i64)]),
            time(vec![last.map(|m| m.taken_at_ms as i64 * 1000)]),
            bigint(vec![last.map(|m| m.duration_ms as i64)]),
            bigint(vec![Some(status.failures as i64)]),
            text(vec![status.last_error.clone()]),
            bigint(vec![Some(status.taken as i64)]),
            bigint(vec![Some(status.bytes_written as i64)]),
        ]
    } else {
        let views = catalog.views();
        let mut rows = Vec::new();
        for entry in last.iter().flat_map(|m| m.views.values()) {
            let Some(view) = views.iter().find(|v| v.entry().id == entry.view_id) else {
                continue;
            };
            let sources: Vec<String> = entry
                .checkpoint
                .sources
                .iter()
                .map(|(input, position)| {
                    let source = view.inputs().get(*input).map_or("?", String::as_str);
                    let offsets: Vec<String> = position
                        .iter()
                        .map(|(partition, at)| format!("{partition}={}", at.next_offset))
                        .collect();
                    format!("{source} {}", offsets.join(","))
                })
                .collect();
            rows.push((
                view.entry().name.clone(),
                entry.checkpoint.state.bytes_written as i64,
                (!sources.is_empty()).then(|| sources.join("; ")),
            ));
        }
        let each = |value: Option<i64>| vec![value; rows.len()];
        vec![
            text(rows.iter().map(|r| Some(r.0.clone())).collect()),
            bigint(each(last.map(|m| m.id as i64))),
            bigint(each(last.map(|m| m.epoch as i64))),
            time(each(last.map(|m| m.taken_at_ms as i64 * 1000))),
            bigint(each(last.map(|m| m.duration_ms as i64))),
            bigint(rows.iter().map(|r| Some(r.1)).collect()),
            text(rows.iter().map(|r| r.2.clone()).collect()),
        ]
    };
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}
