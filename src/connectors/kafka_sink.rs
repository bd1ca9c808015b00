//! Kafka sinks: the writer that commits a sink's backlog
//! ([`crate::dataflow::sink`]) to a topic, one Kafka transaction per complete
//! checkpoint, exactly once.
//!
//! ```text
//!  checkpoint K complete ──▶ parts ≤ K ──encode──▶ begin transaction
//!       messages to the topic + offset K committed for group <transactional.id>
//!       on (topic, partition 0) in the same transaction ──▶ commit
//!  (re)connect: init_transactions (fences an older producer of the same id and
//!       finishes or aborts its open transaction), then the group's committed
//!       offset says which checkpoint Kafka holds: those parts are dropped
//! ```
//!
//! The committed offset is the marker: it commits atomically with the messages,
//! so after a crash (ours or the broker's) Kafka itself says whether a checkpoint's
//! part is in the topic; a `read_committed` consumer sees every part exactly once.
//! While the broker is away the writer retries with back-off (100 ms doubling to
//! 10 s); the view goes on and the backlog waits.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

use super::kafka::{check_topic_name, kafka_error, librdkafka_properties, partitions};
use super::options::{Options, invalid};
use super::sink_format::{SinkEncoder, SinkMessage};
use crate::dataflow::sink::{Backlog, SinkProgress};
use crate::error::{Result, SluiceError};

/// How long one request of an attempt to reach the broker or commit may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long aborting a failed transaction may take: not long, since the next
/// connection's `init_transactions` aborts it anyway.
const ABORT_TIMEOUT: Duration = Duration::from_secs(1);
/// Back-off between failed attempts: from this, doubling...
const FIRST_RETRY: Duration = Duration::from_millis(100);
/// ...up to this.
const LAST_RETRY: Duration = Duration::from_secs(10);

/// A Kafka sink's connection settings.
#[derive(Debug, Clone)]
pub struct KafkaSinkConfig {
    /// The topic written.
    pub topic: String,
    /// librdkafka properties (`properties.*`, bootstrap servers included).
    pub properties: BTreeMap<String, String>,
    /// The producer's `transactional.id`, also the consumer group whose committed
    /// offset marks the last checkpoint written.
    pub transactional_id: String,
}

impl KafkaSinkConfig {
    /// Reads the Kafka options; `default_id` is the transactional id unless
    /// `properties.transactional.id` gives one.
    pub fn from_options(options: &mut Options, default_id: &str) -> Result<Self> {
        let topic = options.required("topic")?;
        check_topic_name(&topic)?;
        let mut properties = librdkafka_properties(options)?;
        for fixed in ["enable.idempotence", "isolation.level", "group.id"] {
            if properties.contains_key(fixed) {
                return Err(invalid(format!(
                    "properties.{fixed} is set by the sink (exactly-once writes need it)"
                )));
            }
        }
        let transactional_id = properties
            .remove("transactional.id")
            .unwrap_or_else(|| default_id.to_string());
        Ok(KafkaSinkConfig {
            topic,
            properties,
            transactional_id,
        })
    }

    fn producer_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("transactional.id", &self.transactional_id)
            .set("enable.idempotence", "true")
            .set("linger.ms", "5")
            .set("queue.buffering.max.messages", "1000000")
            .set("reconnect.backoff.ms", "100")
            .set("reconnect.backoff.max.ms", "5000");
        for (key, value) in &self.properties {
            config.set(key, value);
        }
        config
    }

    fn marker_consumer_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        for (key, value) in &self.properties {
            config.set(key, value);
        }
        config
            .set("group.id", &self.transactional_id)
            .set("enable.auto.commit", "false")
            .set("isolation.level", "read_committed");
        config
    }

    /// Checks that the broker answers and the topic exists (`08001` otherwise), and
    /// that librdkafka takes the properties (`22023`).
    pub fn check(&self) -> Result<()> {
        self.producer_config()
            .create::<BaseProducer>()
            .map_err(kafka_error)?;
        let consumer: BaseConsumer = self
            .marker_consumer_config()
            .create()
            .map_err(kafka_error)?;
        partitions(&consumer, &self.topic).map(|_| ())
    }
}

/// The header naming the checkpoint a message's transaction writes (its marker).
pub const CHECKPOINT_HEADER: &str = "sluice.checkpoint";
/// The header naming the connection that wrote a message: with the checkpoint, it
/// identifies the transaction.
pub const WRITER_HEADER: &str = "sluice.writer";

/// A transactional producer and the consumer that reads the marker.
struct Connection {
    producer: BaseProducer,
    consumer: BaseConsumer,
    /// Identifies this connection in the messages' [`WRITER_HEADER`].
    writer: String,
}

impl Connection {
    /// Connects, fencing any older producer of the same transactional id, and
    /// returns the last checkpoint Kafka holds.
    fn open(config: &KafkaSinkConfig) -> Result<(Connection, Option<u64>)> {
        let producer: BaseProducer = config.producer_config().create().map_err(kafka_error)?;
        producer
            .init_transactions(ATTEMPT_TIMEOUT)
            .map_err(kafka_error)?;
        let consumer: BaseConsumer = config
            .marker_consumer_config()
            .create()
            .map_err(kafka_error)?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let writer = format!("{:x}", nanos ^ (u128::from(std::process::id()) << 64));
        let connection = Connection {
            producer,
            consumer,
            writer,
        };
        let marker = connection.marker(&config.topic)?;
        Ok((connection, marker))
    }

    fn marker(&self, topic: &str) -> Result<Option<u64>> {
        let mut wanted = TopicPartitionList::new();
        wanted.add_partition(topic, 0);
        let committed = self
            .consumer
            .committed_offsets(wanted, ATTEMPT_TIMEOUT)
            .map_err(kafka_error)?;
        Ok(committed.elements().first().and_then(|e| match e.offset() {
            Offset::Offset(n) if n >= 0 => Some(n as u64),
            _ => None,
        }))
    }

    /// Writes `messages` and the marker `barrier` in one transaction.
    fn commit(&self, topic: &str, barrier: u64, messages: &[SinkMessage]) -> Result<()> {
        let result = self.try_commit(topic, barrier, messages);
        if result.is_err() {
            // Leaves nothing half-done; a transaction that cannot be aborted is
            // aborted by the next connection's init_transactions.
            let _ = self.producer.abort_transaction(ABORT_TIMEOUT);
        }
        result
    }

    fn try_commit(&self, topic: &str, barrier: u64, messages: &[SinkMessage]) -> Result<()> {
        self.producer.begin_transaction().map_err(kafka_error)?;
        let checkpoint = barrier.to_string();
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: CHECKPOINT_HEADER,
                value: Some(&checkpoint),
            })
            .insert(Header {
                key: WRITER_HEADER,
                value: Some(&self.writer),
            });
        for message in messages {
            let mut record = BaseRecord::<str, str>::to(topic).headers(headers.clone());
            if let Some(key) = &message.key {
                record = record.key(key.as_str());
            }
            if let Some(value) = &message.value {
                record = record.payload(value.as_str());
            }
            loop {
                match self.producer.send(record) {
                    Ok(()) => break,
                    Err((
                        rdkafka::error::KafkaError::MessageProduction(
                            rdkafka::types::RDKafkaErrorCode::QueueFull,
                        ),
                        returned,
                    )) => {
                        record = returned;
                        self.producer.poll(Duration::from_millis(10));
                    }
                    Err((e, _)) => return Err(kafka_error(e)),
                }
            }
            self.producer.poll(Duration::ZERO);
        }
        let mut marker = TopicPartitionList::new();
        marker
            .add_partition_offset(topic, 0, Offset::Offset(barrier as i64))
            .map_err(kafka_error)?;
        let group = self.consumer.group_metadata().ok_or_else(|| {
            SluiceError::Internal("the marker consumer has no group metadata".into())
        })?;
        self.producer
            .send_offsets_to_transaction(&marker, &group, ATTEMPT_TIMEOUT)
            .map_err(kafka_error)?;
        // Committing flushes every message: allow for a large part (0.1 ms each).
        let flush = Duration::from_micros(100 * messages.len() as u64);
        self.producer
            .commit_transaction(ATTEMPT_TIMEOUT + flush)
            .map_err(kafka_error)
    }
}

/// What the writer works from; see [`spawn_writer`].
pub struct Writer {
    /// Where to write.
    pub config: KafkaSinkConfig,
    /// How.
    pub encoder: SinkEncoder,
    /// What: the sink's backlog.
    pub backlog: Arc<Mutex<Backlog>>,
    /// Reported to `sink_status`.
    pub progress: Arc<Mutex<SinkProgress>>,
    /// The last complete checkpoint's id.
    pub completed: tokio::sync::watch::Receiver<u64>,
    /// Set when the sink is dropped.
    pub stopped: tokio::sync::watch::Receiver<bool>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Starts the writer: until the sink stops, writes every complete checkpoint's
/// parts (see the module docs).
pub fn spawn_writer(writer: Writer) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(writer))
}

async fn run(mut writer: Writer) {
    let mut connection: Option<Arc<Connection>> = None;
    write_until_stopped(&mut writer, &mut connection).await;
    close(connection);
}

/// Closes a connection off the runtime's workers: closing a producer waits for
/// librdkafka's threads, which can take seconds while the broker is away.
fn close(connection: Option<Arc<Connection>>) {
    if let Some(connection) = connection {
        tokio::task::spawn_blocking(move || drop(connection));
    }
}

async fn write_until_stopped(writer: &mut Writer, connection: &mut Option<Arc<Connection>>) {
    let mut retry = FIRST_RETRY;
    loop {
        if *writer.stopped.borrow() {
            return;
        }
        let attempt = match connection {
            None => connect(writer).await.map(|c| *connection = Some(c)),
            Some(open) => match write_ready(writer, open.clone()).await {
                Ok(true) => Ok(()),
                Ok(false) => {
                    // Nothing to write until the next checkpoint completes.
                    tokio::select! {
                        changed = writer.completed.changed() => if changed.is_err() { return },
                        _ = writer.stopped.changed() => {}
                    }
                    continue;
                }
                Err(e) => {
                    close(connection.take());
                    Err(e)
                }
            },
        };
        match attempt {
            Ok(()) => retry = FIRST_RETRY,
            Err(e) => {
                tracing::warn!(topic = %writer.config.topic, "sink cannot write to Kafka (retrying in {retry:?}): {e}");
                {
                    let mut progress = lock(&writer.progress);
                    progress.retries += 1;
                    progress.last_error = Some(e.to_string());
                }
                tokio::select! {
                    () = tokio::time::sleep(retry) => {}
                    _ = writer.stopped.changed() => {}
                }
                retry = (retry * 2).min(LAST_RETRY);
            }
        }
    }
}

async fn connect(writer: &Writer) -> Result<Arc<Connection>> {
    let config = writer.config.clone();
    let (connection, marker) = tokio::task::spawn_blocking(move || Connection::open(&config))
        .await
        .map_err(|e| SluiceError::Internal(format!("sink writer failed: {e}")))??;
    tracing::info!(topic = %writer.config.topic, writer = %connection.writer, checkpoint = ?marker, "sink connected to Kafka: it holds the changes up to this checkpoint");
    if let Some(marker) = marker {
        lock(&writer.backlog).committed_through(marker);
    }
    lock(&writer.progress).retries = 0;
    Ok(Arc::new(connection))
}

/// Writes the parts of the last complete checkpoint; `false` when there were none.
async fn write_ready(writer: &Writer, connection: Arc<Connection>) -> Result<bool> {
    let through = *writer.completed.borrow();
    let part = {
        let mut backlog = lock(&writer.backlog);
        let part = backlog.ready(through)?;
        if part.is_none() {
            // Nothing changed up to that checkpoint: Kafka holds all of it already.
            backlog.committed_through(through);
        }
        part
    };
    let Some(part) = part else {
        return Ok(false);
    };
    let (encoder, topic) = (writer.encoder.clone(), writer.config.topic.clone());
    let encoded = tokio::task::spawn_blocking(move || -> Result<_> {
        let encoded = encoder.encode(&part.changes()?)?;
        connection.commit(&topic, through, &encoded.messages)?;
        Ok(encoded)
    })
    .await
    .map_err(|e| SluiceError::Internal(format!("sink writer failed: {e}")))??;
    lock(&writer.backlog).committed_through(through);
    let mut progress = lock(&writer.progress);
    progress.rows_written += encoded.rows;
    progress.messages_written += encoded.messages.len() as u64;
    progress.commits += 1;
    progress.rejected_rows += encoded.rejected_rows;
    progress.retries = 0;
    if let Some(why) = encoded.rejection {
        tracing::warn!(topic = %writer.config.topic, "sink rejected rows: {why}");
        progress.last_error = Some(why);
    }
    Ok(true)
}
