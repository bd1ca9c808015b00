//! [`SourceConfig`] (a validated `CREATE SOURCE`) and [`Source`] (the catalog object,
//! whose readers the views reading it share: [`super::feeds`]).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::physical_expr::PhysicalExpr;

use super::datagen::DatagenConfig;
use super::decode::Encoding;
use super::feeds::{FeedStatus, Feeds, ReaderSummary};
use super::kafka::{KafkaConfig, StartupMode};
use super::nexmark::NexmarkSourceConfig;
use super::options::{Options, invalid};
use super::reader::ReaderTask;
use crate::dataflow::barrier::SourcePosition;
use crate::dataflow::{ChangeSender, Sequencer, SequencerGuard};
use crate::error::{Result, SluiceError};
use crate::sql::types::UTC;

/// Default time after which a silent partition with nothing left to read stops
/// holding back the watermark.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// How many rows a reader may have sent a view that the view (and the views reading
/// it) has not processed yet; beyond that the reader waits, for every view it feeds. About eight of Kafka's
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

/// A source in the catalog. Rows flow only to views, through readers shared by the
/// views (see [`super::feeds`]).
#[derive(Debug)]
pub struct Source {
    config: SourceConfig,
    feeds: Arc<Mutex<Feeds>>,
}

impl Source {
    /// A source with no reader yet.
    pub fn new(config: SourceConfig) -> Self {
        let startup = match &config.connector {
            Connector::Kafka { config, .. } => config.startup,
            Connector::Datagen(_) | Connector::Nexmark(_) => StartupMode::Earliest,
        };
        let feeds = Feeds::new(
            &config.name,
            startup,
            config.watermark.is_some(),
            config.idle_timeout,
        );
        Source {
            config,
            feeds: Arc::new(Mutex::new(feeds)),
        }
    }

    /// The definition.
    pub fn config(&self) -> &SourceConfig {
        &self.config
    }

    /// What each view reading the source is sent.
    pub fn feeds(&self) -> Vec<FeedStatus> {
        lock(&self.feeds).statuses()
    }

    /// The source's readers and the views each feeds.
    pub fn readers(&self) -> Vec<ReaderSummary> {
        lock(&self.feeds).readers()
    }

    /// Feeds `sender` (input `input` of view `view`) from the source's startup
    /// position, or from `resume` (a checkpointed position: Kafka partitions at its
    /// offsets, generators after its rows): through the source's live reader when
    /// the view misses nothing that way, else through a reader of its own that
    /// backfills the view and then hands it over (see [`super::feeds`]).
    pub fn attach(
        &self,
        order: &SequencerGuard<'_>,
        view: &str,
        input: usize,
        sender: ChangeSender,
        sequencer: Arc<Sequencer>,
        resume: Option<SourcePosition>,
    ) -> Result<()> {
        let mut feeds = lock(&self.feeds);
        let Some(new) = feeds.attach(order, view, input, sender, resume) else {
            return Ok(());
        };
        let id = new.id;
        let task = ReaderTask::new(&self.config, new, self.feeds.clone(), sequencer);
        let config = self.config.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("source-{}", config.name))
            .spawn(move || task.run(&config));
        if let Err(e) = spawned {
            feeds.end(id, true);
            return Err(e.into());
        }
        Ok(())
    }
}

/// The feeds, whatever a panicking holder left (they stay consistent between calls).
pub(super) fn lock(feeds: &Mutex<Feeds>) -> std::sync::MutexGuard<'_, Feeds> {
    feeds.lock().unwrap_or_else(|p| p.into_inner())
}
