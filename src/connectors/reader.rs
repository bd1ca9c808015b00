//! [`ReaderTask`]: the thread of one source reader. It polls Kafka (reconnecting
//! with back-off) or runs a generator, decodes each batch once, keeps its
//! position and per-partition watermarks, waits while a view it feeds has too
//! much unprocessed (back-pressure), and hands the rows to [`Feeds::deliver`],
//! which sends each view its share.

use std::cell::RefCell;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int32Array, Int64Array, RecordBatch, RecordBatchOptions,
    TimestampMicrosecondArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Schema, SchemaRef, TimeUnit, TimestampMicrosecondType,
};
use datafusion::physical_expr::PhysicalExpr;

use super::decode::Decoder;
use super::feeds::{Feeds, NewReader, Read};
use super::generator::Generator;
use super::kafka::{KafkaConfig, KafkaReader, RawMessage, StartupMode};
use super::source::{BACKLOG_ROWS, Connector, Include, SourceConfig, lock};
use super::status::ReaderStatus;
use crate::dataflow::Sequencer;
use crate::dataflow::barrier::{PartitionPosition, SourcePosition};
use crate::error::Result;
use crate::sql::types::UTC;

/// One reader's thread state.
pub(super) struct ReaderTask {
    id: u64,
    feeds: Arc<Mutex<Feeds>>,
    sequencer: Arc<Sequencer>,
    status: Arc<ReaderStatus>,
    watermark: Option<Arc<dyn PhysicalExpr>>,
    /// Where the reader is: what it has read and handed to its views (see
    /// [`crate::dataflow::barrier`]).
    position: RefCell<SourcePosition>,
    /// The processing-time column's position and the schema with it
    /// ([`SourceConfig::proctime`]).
    proctime: Option<(usize, SchemaRef)>,
}

impl ReaderTask {
    /// The task of reader `new` of `config`'s source.
    pub(super) fn new(
        config: &SourceConfig,
        new: NewReader,
        feeds: Arc<Mutex<Feeds>>,
        sequencer: Arc<Sequencer>,
    ) -> Self {
        ReaderTask {
            id: new.id,
            feeds,
            sequencer,
            status: new.status,
            watermark: config.watermark.clone(),
            position: RefCell::new(new.position),
            proctime: config.proctime.map(|index| (index, config.schema.clone())),
        }
    }

    /// Reads until no view is left to feed (or a bounded generator finished, or
    /// reading failed: said in the status and the log).
    pub(super) fn run(self, config: &SourceConfig) {
        let outcome = self.read(config);
        if let Err(e) = &outcome {
            tracing::error!(source = %config.name, "source reader stopped: {e}");
            self.status.set_state(format!("failed: {e}"));
        }
        lock(&self.feeds).end(self.id, outcome.is_err());
    }

    fn read(&self, config: &SourceConfig) -> Result<()> {
        match &config.connector {
            Connector::Datagen(c) => self.generate(&mut c.reader_at(self.generated())),
            Connector::Nexmark(c) => self.generate(&mut c.reader_at(self.generated())),
            Connector::Kafka {
                config: kafka,
                encoding,
                includes,
            } => {
                let decoder = Decoder::new(encoding.clone(), config.declared.clone());
                while !self.closed() {
                    let Some(mut reader) = self.connect(kafka) else {
                        return Ok(());
                    };
                    if kafka.startup == StartupMode::Latest {
                        self.adopt_assigned()?;
                    }
                    while !self.closed() && !reader.lost() {
                        self.consume(&mut reader, &decoder, includes, &config.schema)?;
                        // Partitions turn idle without rows: the watermark may move then.
                        self.forward_watermark();
                    }
                }
                Ok(())
            }
        }
    }

    /// Whether no view is left to feed.
    fn closed(&self) -> bool {
        !lock(&self.feeds).is_reading(self.id)
    }

    /// Tells the views when the source watermark advanced (after the rows it covers).
    fn forward_watermark(&self) {
        if let Some(now) = self.status.watermark() {
            lock(&self.feeds).forward_watermark(self.id, now);
        }
    }

    /// Makes the partitions assigned at known offsets part of the position (a
    /// `latest` reader's start), so that a restart goes on from there.
    fn adopt_assigned(&self) -> Result<()> {
        let assigned: Vec<(i32, i64)> = self
            .status
            .snapshot()
            .partitions
            .iter()
            .filter(|(_, p)| p.next_offset >= 0)
            .map(|(partition, p)| (*partition, p.next_offset - 1))
            .collect();
        let known = self.position.borrow().clone();
        let new: Vec<(i32, i64)> = assigned
            .into_iter()
            .filter(|(partition, _)| !known.contains_key(partition))
            .collect();
        if new.is_empty() {
            return Ok(());
        }
        let empty = RecordBatch::new_empty(Arc::new(Schema::empty()));
        self.send(
            empty.clone(),
            &empty,
            Vec::new(),
            Vec::new(),
            new.into_iter(),
        )
    }

    /// The offset the next row of generator partition 0 has (rows read so far).
    fn generated(&self) -> u64 {
        self.position
            .borrow()
            .get(&0)
            .map_or(0, |p| p.next_offset.max(0) as u64)
    }

    /// `rows` with the processing-time column, if the source has one: the time now,
    /// as the rows are delivered.
    fn with_proctime(&self, rows: RecordBatch) -> Result<RecordBatch> {
        let Some((index, schema)) = &self.proctime else {
            return Ok(rows);
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let now = i64::try_from(now.as_micros()).unwrap_or(i64::MAX);
        let data_type = schema.field(*index).data_type();
        let zone = match data_type {
            DataType::Timestamp(_, zone) => zone.clone(),
            _ => None,
        };
        let times: ArrayRef = Arc::new(
            TimestampMicrosecondArray::from(vec![now; rows.num_rows()]).with_timezone_opt(zone),
        );
        let mut columns = rows.columns().to_vec();
        columns.insert(*index, cast(&times, data_type)?);
        Ok(RecordBatch::try_new(schema.clone(), columns)?)
    }

    /// Hands `rows` (declared + INCLUDE columns, at `partitions` and `offsets`) to
    /// the views, after updating the position — past every message `read`, skipped
    /// ones included — and the watermarks from `declared` (the declared columns
    /// alone). The views take the rows and the position under the sequencer's lock.
    fn send(
        &self,
        rows: RecordBatch,
        declared: &RecordBatch,
        partitions: Vec<i32>,
        offsets: Vec<i64>,
        read: impl Iterator<Item = (i32, i64)>,
    ) -> Result<()> {
        // Back-pressure: each view takes these rows once it has worked off its backlog.
        let backlogs = lock(&self.feeds).backlogs(self.id);
        for (backlog, inbox) in backlogs {
            backlog.wait_below(BACKLOG_ROWS, || inbox.is_closed() || self.closed());
        }
        let event_times = match &self.watermark {
            Some(expr) if declared.num_rows() > 0 => {
                let values = expr.evaluate(declared)?.into_array(declared.num_rows())?;
                let micros = cast(&values, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
                Some(micros.as_primitive::<TimestampMicrosecondType>().clone())
            }
            _ => None,
        };
        let mut updates = self.position.borrow().clone();
        let unknown = PartitionPosition {
            next_offset: -1,
            max_event_time: None,
        };
        for (partition, offset) in read {
            let entry = updates.entry(partition).or_insert(unknown);
            entry.next_offset = entry.next_offset.max(offset + 1);
        }
        if let Some(times) = &event_times {
            for (row, &partition) in partitions.iter().enumerate() {
                if times.is_valid(row) {
                    let t = times.value(row);
                    let entry = updates.entry(partition).or_insert(unknown);
                    entry.max_event_time = Some(entry.max_event_time.map_or(t, |m| m.max(t)));
                }
            }
        }
        let before = self.position.replace(updates.clone());
        // Only the partitions that delivered: the others' silence goes on.
        let mut moved = false;
        for (partition, at) in &updates {
            if before.get(partition) != Some(at) {
                moved = true;
                self.status
                    .advance(*partition, at.next_offset, at.max_event_time);
            }
        }
        if rows.num_rows() == 0 && !moved {
            return Ok(());
        }
        self.status.add_rows(rows.num_rows() as u64);
        let read = Read {
            rows: self.with_proctime(rows)?,
            partitions,
            offsets,
            position: updates,
        };
        let mut order = self.sequencer.lock();
        lock(&self.feeds).deliver(&mut order, self.id, &read)?;
        drop(order);
        self.forward_watermark();
        Ok(())
    }

    /// A reader of the topic, retrying with back-off until the broker answers;
    /// `None` when no view is left to feed.
    fn connect(&self, kafka: &KafkaConfig) -> Option<KafkaReader> {
        let mut backoff = Duration::from_millis(100);
        loop {
            if self.closed() {
                return None;
            }
            match kafka.reader(self.status.clone()) {
                Ok(reader) => return Some(reader),
                Err(e) => {
                    self.status.set_state(format!("retrying: {e}"));
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// Runs a generator: paced while this is the live reader, as fast as the views
    /// take the rows while it backfills.
    fn generate(&self, generator: &mut dyn Generator) -> Result<()> {
        self.status.set_state("running");
        let mut offset = self.generated() as i64;
        while !self.closed() {
            generator.set_paced(lock(&self.feeds).is_live(self.id));
            match generator.next_batch()? {
                Some(batch) => {
                    let rows = offset..offset + batch.num_rows() as i64;
                    offset = rows.end;
                    let offsets: Vec<i64> = rows.clone().collect();
                    let partitions = vec![0; offsets.len()];
                    let read = rows.map(|o| (0, o));
                    self.send(batch.clone(), &batch, partitions, offsets, read)?;
                }
                None => {
                    self.status.set_state("finished");
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    fn consume(
        &self,
        reader: &mut KafkaReader,
        decoder: &Decoder,
        includes: &[Include],
        schema: &SchemaRef,
    ) -> Result<()> {
        let messages: Vec<RawMessage> = reader.poll_batch(Duration::from_millis(100));
        if messages.is_empty() {
            return Ok(());
        }
        let payloads: Vec<&[u8]> = messages.iter().map(|m| m.payload.as_slice()).collect();
        let decoded = decoder.decode(&payloads)?;
        for (index, reason) in &decoded.errors {
            let m = &messages[*index];
            self.status
                .record_error(m.partition, m.offset, reason.clone(), &m.payload);
        }
        let mut columns: Vec<ArrayRef> = decoded.batch.columns().to_vec();
        let kept: Vec<&RawMessage> = decoded.messages.iter().map(|&i| &messages[i]).collect();
        for include in includes {
            columns.push(match include {
                Include::Partition => Arc::new(Int32Array::from_iter_values(
                    kept.iter().map(|m| m.partition),
                )),
                Include::Offset => {
                    Arc::new(Int64Array::from_iter_values(kept.iter().map(|m| m.offset)))
                }
                Include::Timestamp => Arc::new(
                    TimestampMicrosecondArray::from(
                        kept.iter()
                            .map(|m| m.timestamp.map(|t| t * 1000))
                            .collect::<Vec<_>>(),
                    )
                    .with_timezone(UTC),
                ),
            });
        }
        let options = RecordBatchOptions::new().with_row_count(Some(kept.len()));
        let rows = RecordBatch::try_new_with_options(schema.clone(), columns, &options)?;
        let partitions: Vec<i32> = kept.iter().map(|m| m.partition).collect();
        let offsets: Vec<i64> = kept.iter().map(|m| m.offset).collect();
        // Skipped messages count too: the position moves past them.
        let read = messages.iter().map(|m| (m.partition, m.offset));
        self.send(rows, &decoded.batch, partitions, offsets, read)
    }
}
