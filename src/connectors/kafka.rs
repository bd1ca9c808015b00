//! The `kafka` connector: every partition of a topic, read with manual assignment
//! (Sluice tracks its own offsets; consumer-group commits play no part).
//!
//! Options: `topic`, `properties.bootstrap.server`, `scan.startup.mode`
//! (`earliest` | `latest`); every other `properties.*` key is handed to librdkafka
//! unchanged (security, fetch sizes, ...).
//!
//! Messages are gathered into batches of up to [`MAX_BATCH`] or for at most
//! [`LINGER`] after the first one, whichever comes first. Partition end and start
//! offsets come from librdkafka's statistics (the high watermark and log start offset
//! of fetch responses), with the client's position, which moves past transaction
//! markers: together they give each partition's lag (see [`super::watermark`]). Broker
//! errors are reported in the reader's state while librdkafka reconnects with
//! back-off and the reader resumes at its own offsets.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::statistics::Statistics;
use rdkafka::{ClientContext, Message, Offset, TopicPartitionList};

use super::options::{Options, invalid};
use super::status::ReaderStatus;
use crate::error::{Result, SluiceError, sqlstate};

/// Most messages per batch.
pub const MAX_BATCH: usize = 8192;
/// Longest wait for more messages once a batch has started.
pub const LINGER: Duration = Duration::from_millis(5);
/// How long `CREATE SOURCE` waits for the broker's metadata.
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

/// Where to start reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartupMode {
    /// From the first retained message.
    Earliest,
    /// From messages produced after the reader starts.
    Latest,
}

/// Kafka's longest topic name.
pub const MAX_TOPIC_NAME: usize = 249;

/// Refuses what Kafka would not accept as a topic name (it is also passed to
/// librdkafka, which must not see an unbounded string).
pub(crate) fn check_topic_name(topic: &str) -> Result<()> {
    if topic.len() > MAX_TOPIC_NAME {
        return Err(SluiceError::coded(
            sqlstate::NAME_TOO_LONG,
            format!(
                "Kafka topic name is {} characters long; Kafka allows at most {MAX_TOPIC_NAME}",
                topic.len()
            ),
        ));
    }
    let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if topic.is_empty() || topic == "." || topic == ".." || !topic.chars().all(legal) {
        return Err(invalid(format!(
            "topic = '{topic}' is not a Kafka topic name (letters, digits, '.', '_' and '-')"
        )));
    }
    Ok(())
}

/// A configured Kafka source.
#[derive(Debug, Clone)]
pub struct KafkaConfig {
    /// The topic.
    pub topic: String,
    /// Where readers start.
    pub startup: StartupMode,
    /// librdkafka properties (bootstrap servers included).
    pub properties: BTreeMap<String, String>,
}

impl KafkaConfig {
    /// Reads the Kafka options.
    pub fn from_options(options: &mut Options) -> Result<Self> {
        let topic = options.required("topic")?;
        check_topic_name(&topic)?;
        let startup = match options.get("scan.startup.mode").as_deref() {
            None | Some("earliest") => StartupMode::Earliest,
            Some("latest") => StartupMode::Latest,
            Some(other) => {
                return Err(invalid(format!(
                    "scan.startup.mode = '{other}': use earliest or latest"
                )));
            }
        };
        let properties = librdkafka_properties(options)?;
        Ok(KafkaConfig {
            topic,
            startup,
            properties,
        })
    }

    fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("group.id", format!("sluice-{}", self.topic))
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "false")
            // A saved offset the broker no longer holds (retention deleted it): go
            // on from the oldest message it still has, never skip to the end.
            .set("auto.offset.reset", "earliest")
            .set("statistics.interval.ms", "1000")
            .set("reconnect.backoff.ms", "100")
            .set("reconnect.backoff.max.ms", "5000");
        for (key, value) in &self.properties {
            config.set(key, value);
        }
        config
    }

    /// Checks that the broker answers and the topic exists; returns its partitions.
    pub fn check(&self) -> Result<Vec<i32>> {
        let consumer: BaseConsumer = self.client_config().create().map_err(kafka_error)?;
        partitions(&consumer, &self.topic)
    }

    /// A reader of every partition, reporting to `status`. Partitions `status` already
    /// has an offset for resume there (after a broker outage); the others start at the
    /// startup position.
    pub fn reader(&self, status: Arc<ReaderStatus>) -> Result<KafkaReader> {
        let lost = Arc::new(AtomicBool::new(false));
        let context = ReaderContext {
            status: status.clone(),
            topic: self.topic.clone(),
            lost: lost.clone(),
        };
        let consumer: BaseConsumer<ReaderContext> = self
            .client_config()
            .create_with_context(context)
            .map_err(kafka_error)?;
        let mut assignment = TopicPartitionList::new();
        let (offset, known) = match self.startup {
            StartupMode::Earliest => (Offset::Beginning, 0),
            StartupMode::Latest => (Offset::End, -1),
        };
        let resume = status.snapshot().partitions;
        for partition in partitions(&consumer, &self.topic)? {
            match resume
                .get(&partition)
                .map(|p| p.next_offset)
                .filter(|o| *o >= 0)
            {
                Some(next) => assignment
                    .add_partition_offset(&self.topic, partition, Offset::Offset(next))
                    .map_err(kafka_error)?,
                None if self.startup == StartupMode::Latest => {
                    // The end is resolved now, so that the position is known (and
                    // checkpointed) before any message arrives.
                    let (_, end) = consumer
                        .fetch_watermarks(&self.topic, partition, METADATA_TIMEOUT)
                        .map_err(kafka_error)?;
                    assignment
                        .add_partition_offset(&self.topic, partition, Offset::Offset(end))
                        .map_err(kafka_error)?;
                    status.add_partition(partition, end);
                }
                None => {
                    assignment
                        .add_partition_offset(&self.topic, partition, offset)
                        .map_err(kafka_error)?;
                    status.add_partition(partition, known);
                }
            }
        }
        consumer.assign(&assignment).map_err(kafka_error)?;
        status.set_state("running");
        Ok(KafkaReader {
            consumer,
            status,
            lost,
        })
    }
}

/// The `properties.*` options, for librdkafka: `properties.bootstrap.server` (as
/// RisingWave spells it; librdkafka wants the plural) is required.
pub(crate) fn librdkafka_properties(options: &mut Options) -> Result<BTreeMap<String, String>> {
    let mut properties = options.with_prefix("properties.");
    if let Some(servers) = properties.remove("bootstrap.server") {
        properties.insert("bootstrap.servers".into(), servers);
    }
    if !properties.contains_key("bootstrap.servers") {
        return Err(invalid("option properties.bootstrap.server is required"));
    }
    Ok(properties)
}

pub(crate) fn kafka_error(e: KafkaError) -> SluiceError {
    match e {
        // A properties.* setting librdkafka rejects is a bad option, not a lost broker.
        KafkaError::ClientConfig(..) => invalid(format!("Kafka: {e}")),
        _ => SluiceError::coded("08001", format!("Kafka: {e}")),
    }
}

pub(crate) fn partitions<C: ConsumerContext>(
    consumer: &impl Consumer<C>,
    topic: &str,
) -> Result<Vec<i32>> {
    let metadata = consumer
        .fetch_metadata(Some(topic), METADATA_TIMEOUT)
        .map_err(|e| SluiceError::coded("08001", format!("cannot reach the Kafka broker: {e}")))?;
    let found = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .filter(|t| t.error().is_none() && !t.partitions().is_empty())
        .ok_or_else(|| {
            SluiceError::coded("08001", format!("Kafka topic \"{topic}\" does not exist"))
        })?;
    Ok(found.partitions().iter().map(|p| p.id()).collect())
}

/// Receives librdkafka's statistics and errors for one reader.
struct ReaderContext {
    status: Arc<ReaderStatus>,
    topic: String,
    /// Set when every broker is unreachable: the reader then starts over with a new
    /// client (see [`KafkaReader::lost`]).
    lost: Arc<AtomicBool>,
}

impl ClientContext for ReaderContext {
    fn stats(&self, statistics: Statistics) {
        if let Some(topic) = statistics.topics.get(&self.topic) {
            for (id, partition) in &topic.partitions {
                if *id >= 0 {
                    self.status.set_broker_offsets(
                        *id,
                        partition.hi_offset,
                        partition.lo_offset,
                        partition.app_offset,
                    );
                }
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::warn!(source = %self.status.source, "Kafka: {error}: {reason}");
        self.status.set_state(format!("retrying: {reason}"));
        if matches!(
            error.rdkafka_error_code(),
            Some(RDKafkaErrorCode::AllBrokersDown | RDKafkaErrorCode::BrokerTransportFailure)
        ) {
            self.lost.store(true, Ordering::Release);
        }
    }
}

impl ConsumerContext for ReaderContext {}

/// One message's payload and position.
#[derive(Debug)]
pub struct RawMessage {
    /// The value bytes (empty for a null value).
    pub payload: Vec<u8>,
    /// Partition.
    pub partition: i32,
    /// Offset in the partition.
    pub offset: i64,
    /// The message timestamp (ms since the epoch), if any.
    pub timestamp: Option<i64>,
}

/// Reads a topic for one subscriber.
pub struct KafkaReader {
    consumer: BaseConsumer<ReaderContext>,
    status: Arc<ReaderStatus>,
    lost: Arc<AtomicBool>,
}

impl std::fmt::Debug for KafkaReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaReader")
            .field("source", &self.status.source)
            .finish_non_exhaustive()
    }
}

impl KafkaReader {
    /// True once the connection to the brokers was lost. The caller drops this reader
    /// and makes a new one, which resumes at Sluice's own offsets: a fresh client also
    /// starts with fresh topic metadata (librdkafka's cached metadata for a topic that
    /// disappeared and came back has crashed the process in tests).
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::Acquire)
    }

    /// Waits up to `wait` for messages and returns the batch gathered.
    pub fn poll_batch(&mut self, wait: Duration) -> Vec<RawMessage> {
        let mut out = Vec::new();
        let mut deadline = Instant::now() + wait;
        while out.len() < MAX_BATCH {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            match self.consumer.poll(deadline - now) {
                None => break,
                Some(Ok(message)) => {
                    if out.is_empty() {
                        deadline = Instant::now() + LINGER;
                    }
                    out.push(RawMessage {
                        payload: message.payload().map(<[u8]>::to_vec).unwrap_or_default(),
                        partition: message.partition(),
                        offset: message.offset(),
                        timestamp: message.timestamp().to_millis(),
                    });
                }
                Some(Err(e)) => {
                    self.status.set_state(format!("retrying: {e}"));
                    break;
                }
            }
        }
        if !out.is_empty() {
            self.status.set_state("running");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_follow_kafka_rules() {
        check_topic_name("bids.v2_raw-1").unwrap();
        check_topic_name(&"t".repeat(MAX_TOPIC_NAME)).unwrap();
        let long = check_topic_name(&"t".repeat(100_000)).unwrap_err();
        assert_eq!(long.sqlstate(), sqlstate::NAME_TOO_LONG);
        for bad in ["", ".", "..", "a b", "a/b", "é"] {
            let err = check_topic_name(bad).unwrap_err();
            assert_eq!(err.sqlstate(), sqlstate::INVALID_PARAMETER_VALUE, "{bad:?}");
        }
    }
}
