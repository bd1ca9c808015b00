//! [`SourceConfig`] (a validated `CREATE SOURCE`) and [`Source`] (the catalog object
//! that starts one reader per view reading it).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int32Array, Int64Array, RecordBatch, TimestampMicrosecondArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Field, Schema, SchemaRef, TimeUnit, TimestampMicrosecondType,
};
use datafusion::physical_expr::PhysicalExpr;

use super::datagen::DatagenConfig;
use super::decode::{Decoder, Encoding};
use super::kafka::{KafkaConfig, KafkaReader, RawMessage, StartupMode};
use super::nexmark::NexmarkSourceConfig;
use super::options::{Options, invalid};
use super::status::ReaderStatus;
use crate::dataflow::barrier::{PartitionPosition, SourcePosition};
use crate::dataflow::{ChangeBatch, ChangeSender, Delivery, Message, Sequencer};
use crate::error::{Result, SluiceError};
use crate::sql::types::UTC;

/// Default time after which a silent partition with nothing left to read stops
/// holding back the watermark.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// How many rows a reader may have sent its view that the view (and the views reading
/// it) has not processed yet; beyond that the reader waits. About eight of Kafka's
/// decoded batches: enough to keep a view busy while the reader decodes the next, and
/// a bounded inbox however slow the view.
pub const BACKLOG_ROWS: usize = 65_536;

/// A Kafka metadata column added with `INCLUDE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Include {
    /// `INCLUDE partition`: INT.
    Partition,
    /// `INCLUDE offset`: BIGINT.
    Offset,
    /// `INCLUDE timestamp`: TIMESTAMPTZ (the message's timestamp).
    Timestamp,
}

/// Which connector and its settings.
#[derive(Debug, Clone)]
pub enum Connector {
    /// Random / sequence data.
    Datagen(DatagenConfig),
    /// Nexmark events.
    Nexmark(NexmarkSourceConfig),
    /// A Kafka topic.
    Kafka {
        /// Topic and client settings.
        config: KafkaConfig,
        /// Payload encoding.
        encoding: Encoding,
        /// Metadata columns, in order after the declared columns.
        includes: Vec<Include>,
    },
}

/// A validated source definition.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    /// The source's name.
    pub name: String,
    /// The declared columns.
    pub declared: SchemaRef,
    /// Declared columns followed by `INCLUDE` columns: what views read.
    pub schema: SchemaRef,
    /// Where rows come from.
    pub connector: Connector,
    /// The watermark expression over the declared columns (event time minus delay).
    pub watermark: Option<Arc<dyn PhysicalExpr>>,
    /// The declared column the watermark is for (`WATERMARK FOR column AS ...`);
    /// set exactly when `watermark` is.
    pub watermark_column: Option<String>,
    /// See [`DEFAULT_IDLE_TIMEOUT`].
    pub idle_timeout: Duration,
    /// The column declared `AS PROCTIME()`, by position in `schema`: not produced by
    /// the connector (it is not among `declared`) but filled with the time each batch
    /// is delivered to the view.
    pub proctime: Option<usize>,
}

impl SourceConfig {
    /// Validates the connector options. `include` lists the `INCLUDE` columns with
    /// their names; `encoding` is the `FORMAT ... ENCODE` clause.
    pub fn try_new(
        name: &str,
        declared: SchemaRef,
        watermark: Option<(String, Arc<dyn PhysicalExpr>)>,
        include: Vec<(Include, String)>,
        encoding: Option<(String, std::collections::BTreeMap<String, String>)>,
        options: std::collections::BTreeMap<String, String>,
    ) -> Result<Self> {
        let mut options = Options::new(options);
        let connector_name = options.required("connector")?.to_lowercase();
        let idle_timeout =
            Duration::from_millis(options.parse_or("watermark.idle.timeout.ms", 5000u64)?);
        let generator = connector_name != "kafka";
        if generator && (!include.is_empty() || encoding.is_some()) {
            return Err(invalid(format!(
                "connector '{connector_name}' generates rows itself: INCLUDE and FORMAT ... ENCODE do not apply"
            )));
        }
        let connector = match connector_name.as_str() {
            "datagen" => {
                Connector::Datagen(DatagenConfig::from_options(declared.clone(), &mut options)?)
            }
            "nexmark" => Connector::Nexmark(NexmarkSourceConfig::from_options(
                declared.clone(),
                &mut options,
            )?),
            "kafka" => {
                let encoding = match encoding {
                    None => {
                        return Err(invalid(
                            "a Kafka source needs FORMAT PLAIN ENCODE JSON or CSV",
                        ));
                    }
                    Some((e, opts)) => encoding_of(&e, opts)?,
                };
                Connector::Kafka {
                    config: KafkaConfig::from_options(&mut options)?,
                    encoding,
                    includes: include.iter().map(|(i, _)| *i).collect(),
                }
            }
            other => {
                return Err(SluiceError::not_supported(format!(
                    "connector '{other}' is not supported (kafka, datagen, nexmark)"
                )));
            }
        };
        options.finish()?;
        let mut fields: Vec<Field> = declared
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        for (what, name) in &include {
            let data_type = match what {
                Include::Partition => DataType::Int32,
                Include::Offset => DataType::Int64,
                Include::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into())),
            };
            if fields.iter().any(|f| f.name() == name) {
                return Err(SluiceError::coded(
                    "42701",
                    format!("column \"{name}\" specified more than once"),
                ));
            }
            fields.push(Field::new(name, data_type, true));
        }
        Ok(SourceConfig {
            name: name.to_string(),
            declared,
            schema: Arc::new(Schema::new(fields)),
            connector,
            watermark_column: watermark.as_ref().map(|(column, _)| column.clone()),
            watermark: watermark.map(|(_, expr)| expr),
            idle_timeout,
            proctime: None,
        })
    }

    /// The source with the processing-time column `proctime` (its position among
    /// the declared columns, and its field) put back among the columns views read.
    pub fn with_proctime(mut self, proctime: Option<(usize, Field)>) -> Result<Self> {
        let Some((index, field)) = proctime else {
            return Ok(self);
        };
        if self
            .schema
            .fields()
            .iter()
            .any(|f| f.name() == field.name())
        {
            return Err(SluiceError::coded(
                "42701",
                format!("column \"{}\" specified more than once", field.name()),
            ));
        }
        let mut fields: Vec<Field> = self
            .schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        let index = index.min(fields.len());
        fields.insert(index, field);
        self.schema = Arc::new(Schema::new(fields));
        self.proctime = Some(index);
        Ok(self)
    }
}

fn encoding_of(
    name: &str,
    options: std::collections::BTreeMap<String, String>,
) -> Result<Encoding> {
    let mut options = Options::new(options);
    let encoding = match name {
        "json" => Encoding::Json,
        "csv" => {
            let delimiter = options.get("delimiter").unwrap_or_else(|| ",".into());
            let delimiter = match delimiter.as_bytes() {
                [d] => *d,
                _ => {
                    return Err(invalid(format!(
                        "CSV delimiter '{delimiter}' must be one character"
                    )));
                }
            };
            let without_header: bool = options.parse_or("without_header", false)?;
            Encoding::Csv {
                delimiter,
                skip_headers: !without_header,
            }
        }
        other => {
            return Err(SluiceError::not_supported(format!(
                "ENCODE {other} is not supported (JSON, CSV)"
            )));
        }
    };
    options.finish()?;
    Ok(encoding)
}

/// A source in the catalog. Rows flow only to views: each [`Source::attach`]
/// starts a reader for one view.
#[derive(Debug)]
pub struct Source {
    config: SourceConfig,
    /// Each reader's status and its view's inbox (the reader is listed while the
    /// view exists, also after a bounded generator finished).
    readers: Mutex<Vec<(Arc<ReaderStatus>, ChangeSender)>>,
}

impl Source {
    /// A source with no reader yet.
    pub fn new(config: SourceConfig) -> Self {
        Source {
            config,
            readers: Mutex::new(Vec::new()),
        }
    }

    /// The definition.
    pub fn config(&self) -> &SourceConfig {
        &self.config
    }

    /// Statuses of the readers of existing views.
    pub fn readers(&self) -> Vec<Arc<ReaderStatus>> {
        let mut readers = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        readers.retain(|(_, inbox)| !inbox.is_closed());
        readers.iter().map(|(status, _)| status.clone()).collect()
    }

    /// Starts a reader feeding `sender` (tagged `input`) for view `reader_name`,
    /// from the source's startup position, or from `resume` (a checkpointed
    /// position: Kafka partitions at its offsets, generators after its rows).
    pub fn attach(
        &self,
        reader_name: &str,
        input: usize,
        sender: ChangeSender,
        sequencer: Arc<Sequencer>,
        resume: Option<SourcePosition>,
    ) -> Result<()> {
        let status = Arc::new(ReaderStatus::new(
            &self.config.name,
            reader_name,
            self.config.watermark.is_some(),
            self.config.idle_timeout,
        ));
        let position = resume.unwrap_or_default();
        for (partition, at) in &position {
            status.add_partition(*partition, at.next_offset);
            status.advance(*partition, at.next_offset, at.max_event_time);
        }
        self.readers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((status.clone(), sender.clone()));
        let config = self.config.clone();
        std::thread::Builder::new()
            .name(format!("source-{}", config.name))
            .spawn(move || {
                let delivery = Deliver {
                    proctime: config.proctime.map(|index| (index, config.schema.clone())),
                    sender,
                    input,
                    sequencer,
                    status: status.clone(),
                    watermark: config.watermark.clone(),
                    sent_watermark: std::cell::Cell::new(None),
                    position: std::cell::RefCell::new(position),
                };
                if let Err(e) = read(&config, &delivery) {
                    tracing::error!(source = %config.name, "source reader stopped: {e}");
                    status.set_state(format!("failed: {e}"));
                }
            })?;
        Ok(())
    }
}

/// Where a reader's rows go.
struct Deliver {
    sender: ChangeSender,
    input: usize,
    sequencer: Arc<Sequencer>,
    status: Arc<ReaderStatus>,
    watermark: Option<Arc<dyn PhysicalExpr>>,
    sent_watermark: std::cell::Cell<Option<i64>>,
    /// Where the reader is: what the view has been sent (see
    /// [`crate::dataflow::barrier`]).
    position: std::cell::RefCell<SourcePosition>,
    /// The processing-time column's position and the schema with it
    /// ([`SourceConfig::proctime`]).
    proctime: Option<(usize, SchemaRef)>,
}

impl Deliver {
    /// Tells the view when the source watermark advanced (after the rows it covers).
    fn forward_watermark(&self) {
        let Some(now) = self.status.watermark() else {
            return;
        };
        if self.sent_watermark.get().is_some_and(|sent| now <= sent) {
            return;
        }
        self.sent_watermark.set(Some(now));
        let _ = self.sender.send(Message::Watermark {
            input: self.input,
            micros: now,
        });
    }

    fn closed(&self) -> bool {
        self.sender.is_closed()
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
        self.send(empty.clone(), &empty, &[], new.into_iter())
    }

    /// The offset the next row of generator partition 0 has (rows delivered so far).
    fn generated(&self) -> i64 {
        self.position
            .borrow()
            .get(&0)
            .map_or(0, |p| p.next_offset.max(0))
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

    /// Sends `rows` (declared + INCLUDE columns, from `partitions`) as inserts,
    /// after updating the position — past every message `read`, skipped ones
    /// included — and the watermarks from `declared` (the declared columns alone).
    /// The position follows the rows under the sequencer's lock.
    fn send(
        &self,
        rows: RecordBatch,
        declared: &RecordBatch,
        partitions: &[i32],
        read: impl Iterator<Item = (i32, i64)>,
    ) -> Result<()> {
        // Back-pressure: the view takes these rows once it has worked off the backlog.
        self.status
            .backlog
            .wait_below(BACKLOG_ROWS, || self.closed());
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
        let position = moved.then_some(updates);
        if rows.num_rows() == 0 && position.is_none() {
            return Ok(());
        }
        self.status.add_rows(rows.num_rows() as u64);
        let rows = self.with_proctime(rows)?;
        let mut order = self.sequencer.lock();
        // A closed inbox means the view is gone; the reader loop notices and stops.
        if rows.num_rows() > 0 {
            let delivery = Delivery {
                epoch: order.next_epoch(),
                input: self.input,
                credit: Some(self.status.backlog.credit(rows.num_rows())),
                batch: ChangeBatch::inserts(rows),
            };
            let _ = self.sender.send(Message::Change(delivery));
        }
        if let Some(position) = position {
            let _ = self.sender.send(Message::SourcePosition {
                input: self.input,
                position,
            });
        }
        drop(order);
        self.forward_watermark();
        Ok(())
    }
}

fn read(config: &SourceConfig, out: &Deliver) -> Result<()> {
    match &config.connector {
        Connector::Datagen(c) => {
            let mut reader = c.reader_at(out.generated() as u64);
            generate(out, || reader.next_batch())
        }
        Connector::Nexmark(c) => {
            let mut reader = c.reader_at(out.generated() as u64);
            generate(out, || reader.next_batch())
        }
        Connector::Kafka {
            config: kafka,
            encoding,
            includes,
        } => {
            let decoder = Decoder::new(encoding.clone(), config.declared.clone());
            while !out.closed() {
                let Some(mut reader) = connect(kafka, out) else {
                    return Ok(());
                };
                if kafka.startup == StartupMode::Latest {
                    out.adopt_assigned()?;
                }
                while !out.closed() && !reader.lost() {
                    consume(&mut reader, &decoder, includes, &config.schema, out)?;
                    // Partitions turn idle without rows: the watermark may move then.
                    out.forward_watermark();
                }
            }
            Ok(())
        }
    }
}

/// A reader of the topic, retrying with back-off until the broker answers; `None`
/// when the view is gone.
fn connect(kafka: &KafkaConfig, out: &Deliver) -> Option<KafkaReader> {
    let mut backoff = Duration::from_millis(100);
    loop {
        if out.closed() {
            return None;
        }
        match kafka.reader(out.status.clone()) {
            Ok(reader) => return Some(reader),
            Err(e) => {
                out.status.set_state(format!("retrying: {e}"));
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

fn generate(out: &Deliver, mut next: impl FnMut() -> Result<Option<RecordBatch>>) -> Result<()> {
    out.status.set_state("running");
    let mut offset = out.generated();
    while !out.closed() {
        match next()? {
            Some(batch) => {
                let n = batch.num_rows();
                let read = (offset..offset + n as i64).map(|o| (0, o));
                offset += n as i64;
                out.send(batch.clone(), &batch, &vec![0; n], read)?;
            }
            None => {
                out.status.set_state("finished");
                return Ok(());
            }
        }
    }
    Ok(())
}

fn consume(
    reader: &mut KafkaReader,
    decoder: &Decoder,
    includes: &[Include],
    schema: &SchemaRef,
    out: &Deliver,
) -> Result<()> {
    let messages: Vec<RawMessage> = reader.poll_batch(Duration::from_millis(100));
    if messages.is_empty() {
        return Ok(());
    }
    let payloads: Vec<&[u8]> = messages.iter().map(|m| m.payload.as_slice()).collect();
    let decoded = decoder.decode(&payloads)?;
    for (index, reason) in &decoded.errors {
        let m = &messages[*index];
        out.status
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
    let options =
        datafusion::arrow::array::RecordBatchOptions::new().with_row_count(Some(kept.len()));
    let rows = RecordBatch::try_new_with_options(schema.clone(), columns, &options)?;
    let partitions: Vec<i32> = kept.iter().map(|m| m.partition).collect();
    // Skipped messages count too: the position moves past them.
    let read = messages.iter().map(|m| (m.partition, m.offset));
    out.send(rows, &decoded.batch, &partitions, read)
}
