//! [`Sink`]: a sink in the catalog — its entry, what it reads, where it writes,
//! and its running parts: the backlog's worker (and writer), and the view it runs of
//! its query when it writes one.

use std::sync::Arc;

use super::CatalogEntry;
use crate::connectors::sink_format::SinkFormat;
use crate::dataflow::sink::RunningSink;
use crate::dataflow::view::MaterializedView;

/// What a sink reads.
#[derive(Debug)]
pub struct SinkReads {
    /// What `sink_status` shows: the view, or the relations its query reads.
    pub shown_as: String,
    /// The relations its dataflow reads (a view's sink: the view).
    pub inputs: Vec<String>,
    /// The models its own view calls.
    pub models: Vec<String>,
    /// The view it runs of its query (`AS`, or `FROM` a table or source).
    pub own_view: Option<Arc<MaterializedView>>,
}

/// A sink in the catalog.
#[derive(Debug)]
pub struct Sink {
    entry: CatalogEntry,
    reads: SinkReads,
    format: SinkFormat,
    topic: String,
    running: Arc<RunningSink>,
}

impl Sink {
    /// Wraps a started sink reading `reads`, writing `format` to `topic`.
    pub fn new(
        entry: CatalogEntry,
        reads: SinkReads,
        format: SinkFormat,
        topic: String,
        running: Arc<RunningSink>,
    ) -> Self {
        Sink {
            entry,
            reads,
            format,
            topic,
            running,
        }
    }

    /// The sink's catalog entry.
    pub fn entry(&self) -> &CatalogEntry {
        &self.entry
    }

    /// What it reads, as `sink_status` shows it.
    pub fn input(&self) -> &str {
        &self.reads.shown_as
    }

    /// The relations its dataflow reads.
    pub fn inputs(&self) -> &[String] {
        &self.reads.inputs
    }

    /// The models its own view calls.
    pub fn models(&self) -> &[String] {
        &self.reads.models
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

    /// Stops it: its own view, the backlog's worker and the writer.
    pub fn stop(&self) {
        if let Some(view) = &self.reads.own_view {
            view.stop();
        }
        self.running.stop();
    }
}
