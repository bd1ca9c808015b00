//! [`Sink`]: a sink in the catalog — its entry, the view it reads, where it writes,
//! and its running dataflow side and writer.

use std::sync::Arc;

use super::CatalogEntry;
use crate::connectors::sink_format::SinkFormat;
use crate::dataflow::sink::RunningSink;

/// A sink in the catalog.
#[derive(Debug)]
pub struct Sink {
    entry: CatalogEntry,
    input: String,
    format: SinkFormat,
    topic: String,
    running: Arc<RunningSink>,
}

impl Sink {
    /// Wraps a started sink reading view `input`, writing `format` to `topic`.
    pub fn new(
        entry: CatalogEntry,
        input: String,
        format: SinkFormat,
        topic: String,
        running: Arc<RunningSink>,
    ) -> Self {
        Sink {
            entry,
            input,
            format,
            topic,
            running,
        }
    }

    /// The sink's catalog entry.
    pub fn entry(&self) -> &CatalogEntry {
        &self.entry
    }

    /// The view it reads.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// Its format.
    pub fn format(&self) -> SinkFormat {
        self.format
    }

    /// The topic it writes.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The running sink.
    pub fn running(&self) -> &Arc<RunningSink> {
        &self.running
    }
}
