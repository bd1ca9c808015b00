//! Arrow IPC encoding of single record batches (log records, snapshots).

use std::io::Cursor;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;

use crate::error::{Result, SluiceError};

/// Encodes `batch` (with its schema) as an Arrow IPC stream.
pub fn encode(batch: &RecordBatch) -> Result<Vec<u8>> {
    let mut writer = StreamWriter::try_new(Vec::new(), &batch.schema())?;
    writer.write(batch)?;
    writer.finish()?;
    Ok(writer.into_inner()?)
}

/// Decodes every batch of an Arrow IPC stream produced by [`encode`] or [`encode_all`].
pub fn decode_all(bytes: &[u8]) -> Result<Vec<RecordBatch>> {
    let reader = StreamReader::try_new(Cursor::new(bytes), None)?;
    Ok(reader.collect::<std::result::Result<Vec<_>, _>>()?)
}

/// Decodes the one batch of an IPC stream produced by [`encode`].
pub fn decode(bytes: &[u8]) -> Result<RecordBatch> {
    decode_all(bytes)?
        .into_iter()
        .next()
        .ok_or_else(|| SluiceError::Internal("IPC stream holds no batch".into()))
}

/// Encodes several batches of one schema as one IPC stream.
pub fn encode_all(
    schema: &datafusion::arrow::datatypes::Schema,
    batches: &[RecordBatch],
) -> Result<Vec<u8>> {
    let mut writer = StreamWriter::try_new(Vec::new(), schema)?;
    for batch in batches {
        writer.write(batch)?;
    }
    writer.finish()?;
    Ok(writer.into_inner()?)
}
