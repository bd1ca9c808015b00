//! Rows of the model relations of `sluice_catalog`: `models`, `model_io` and
//! `model_stats` (definitions in `catalog/sluice_catalog.sql`).

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::SchemaRef;

use super::Catalog;
use crate::error::{Result, SluiceError};

/// The rows of model relation `name`.
pub fn rows(catalog: &Catalog, name: &str, schema: &SchemaRef) -> Result<RecordBatch> {
    let models: Vec<_> = catalog.models().into_iter().map(|m| m.model).collect();
    let text = |values: Vec<String>| -> ArrayRef { Arc::new(StringArray::from(values)) };
    let int = |values: Vec<usize>| -> ArrayRef {
        Arc::new(Int32Array::from_iter_values(
            values.into_iter().map(|v| v as i32),
        ))
    };
    let bigint = |values: Vec<u64>| -> ArrayRef {
        Arc::new(Int64Array::from_iter_values(
            values.into_iter().map(|v| v as i64),
        ))
    };
    let columns: Vec<ArrayRef> = match name {
        "models" => vec![
            text(models.iter().map(|m| m.name().to_string()).collect()),
            bigint(models.iter().map(|m| m.version()).collect()),
            text(models.iter().map(|m| m.checksum().to_string()).collect()),
            text(
                models
                    .iter()
                    .map(|m| m.path().display().to_string())
                    .collect(),
            ),
            text(models.iter().map(|m| m.source().to_string()).collect()),
            text(
                models
                    .iter()
                    .map(|m| m.signature().describe_inputs())
                    .collect(),
            ),
            text(
                models
                    .iter()
                    .map(|m| m.signature().describe_outputs())
                    .collect(),
            ),
            int(models.iter().map(|m| m.sessions()).collect()),
            int(models.iter().map(|m| m.options().threads).collect()),
            int(models.iter().map(|m| m.options().batch_size).collect()),
        ],
        "model_io" => {
            let mut cols: [Vec<String>; 6] = Default::default();
            let mut versions = Vec::new();
            let mut positions = Vec::new();
            for model in &models {
                let signature = model.signature();
                let tensors = signature
                    .inputs
                    .iter()
                    .enumerate()
                    .map(|t| ("input", t))
                    .chain(signature.outputs.iter().enumerate().map(|t| ("output", t)));
                for (kind, (position, spec)) in tensors {
                    cols[0].push(model.name().to_string());
                    cols[1].push(model.checksum().to_string());
                    cols[2].push(kind.to_string());
                    cols[3].push(spec.name.clone());
                    cols[4].push(spec.element.sql_name().to_string());
                    cols[5].push(spec.shape_text());
                    versions.push(model.version());
                    positions.push(position + 1);
                }
            }
            let [model, checksum, kind, tensor, element, shape] = cols;
            vec![
                text(model),
                bigint(versions),
                text(checksum),
                text(kind),
                int(positions),
                text(tensor),
                text(element),
                text(shape),
            ]
        }
        "model_stats" => {
            let stats: Vec<_> = models.iter().map(|m| m.stats().snapshot()).collect();
            vec![
                text(models.iter().map(|m| m.name().to_string()).collect()),
                bigint(models.iter().map(|m| m.version()).collect()),
                bigint(stats.iter().map(|s| s.rows).collect()),
                bigint(stats.iter().map(|s| s.batches).collect()),
                bigint(stats.iter().map(|s| s.calls).collect()),
                Arc::new(Float64Array::from_iter_values(
                    stats.iter().map(|s| s.total_ms),
                )),
                Arc::new(Float64Array::from(
                    stats.iter().map(|s| s.recent_ms).collect::<Vec<_>>(),
                )),
            ]
        }
        other => {
            return Err(SluiceError::Internal(format!(
                "{other} is not a model relation"
            )));
        }
    };
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}
