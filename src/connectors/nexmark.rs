//! The `nexmark` connector: the Nexmark auction benchmark's bid, auction or person
//! events (from the `nexmark` crate), reproducible from a fixed base time.
//!
//! ```sql
//! CREATE SOURCE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR,
//!                    url VARCHAR, date_time TIMESTAMP, extra VARCHAR)
//! WITH (connector = 'nexmark', nexmark.table.type = 'bid',
//!       nexmark.event.num = 100000, nexmark.events.per.second = 0);
//! ```
//! Declared columns are matched by name to the event's fields (any subset, any
//! order, cast to the declared types).

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::SchemaRef;
use nexmark::EventGenerator;
use nexmark::config::NexmarkConfig;
use nexmark::event::{Event, EventType};

use super::generator::{Generator, Pacer};
use super::options::{Options, invalid};
use crate::error::Result;

/// 2024-01-01T00:00:00Z: the default base time, so runs are reproducible.
pub const DEFAULT_BASE_TIME_MS: u64 = 1_704_067_200_000;

const BID: &[&str] = &[
    "auction",
    "bidder",
    "price",
    "channel",
    "url",
    "date_time",
    "extra",
];
const AUCTION: &[&str] = &[
    "id",
    "item_name",
    "description",
    "initial_bid",
    "reserve",
    "date_time",
    "expires",
    "seller",
    "category",
    "extra",
];
const PERSON: &[&str] = &[
    "id",
    "name",
    "email_address",
    "credit_card",
    "city",
    "state",
    "date_time",
    "extra",
];

/// A configured nexmark source.
#[derive(Debug, Clone)]
pub struct NexmarkSourceConfig {
    schema: SchemaRef,
    table: &'static str,
    rate: u64,
    total: Option<u64>,
    base_time: u64,
}

impl NexmarkSourceConfig {
    /// Reads the nexmark options for columns `schema`.
    pub fn from_options(schema: SchemaRef, options: &mut Options) -> Result<Self> {
        let (table, fields) = match options
            .required("nexmark.table.type")?
            .to_lowercase()
            .as_str()
        {
            "bid" => ("bid", BID),
            "auction" => ("auction", AUCTION),
            "person" => ("person", PERSON),
            other => {
                return Err(invalid(format!(
                    "nexmark.table.type = '{other}': use bid, auction or person"
                )));
            }
        };
        for field in schema.fields() {
            if !fields.contains(&field.name().as_str()) {
                return Err(invalid(format!(
                    "nexmark {table} events have no field {}; fields: {}",
                    field.name(),
                    fields.join(", ")
                )));
            }
        }
        let total = match options.get("nexmark.event.num") {
            Some(v) => Some(
                v.parse()
                    .map_err(|_| invalid(format!("nexmark.event.num = '{v}' is not a number")))?,
            ),
            None => None,
        };
        Ok(NexmarkSourceConfig {
            schema,
            table,
            rate: options.parse_or("nexmark.events.per.second", 10_000u64)?,
            total,
            base_time: options.parse_or("nexmark.base.time", DEFAULT_BASE_TIME_MS)?,
        })
    }

    /// A generator that has produced `events` events already (0: a fresh one;
    /// each reader gets its own, identical stream).
    pub fn reader_at(&self, events: u64) -> NexmarkReader {
        let config = NexmarkConfig {
            base_time: self.base_time,
            ..NexmarkConfig::default()
        };
        let kind = match self.table {
            "bid" => EventType::Bid,
            "auction" => EventType::Auction,
            _ => EventType::Person,
        };
        NexmarkReader {
            config: self.clone(),
            events: EventGenerator::new(config)
                .with_type_filter(kind)
                .with_offset(events),
            pacer: Pacer::resuming(self.rate, self.total, events),
        }
    }
}

/// Produces nexmark batches.
pub struct NexmarkReader {
    config: NexmarkSourceConfig,
    events: EventGenerator,
    pacer: Pacer,
}

impl std::fmt::Debug for NexmarkReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NexmarkReader")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

enum Column {
    Int(Vec<i64>),
    Text(Vec<String>),
    Time(Vec<i64>),
}

impl Generator for NexmarkReader {
    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        let Some(n) = self.pacer.next_chunk() else {
            return Ok(None);
        };
        let names: Vec<String> = self
            .config
            .schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let mut columns: Vec<Column> = names
            .iter()
            .map(|name| match name.as_str() {
                "channel" | "url" | "extra" | "item_name" | "description" | "name"
                | "email_address" | "credit_card" | "city" | "state" => {
                    Column::Text(Vec::with_capacity(n))
                }
                "date_time" | "expires" => Column::Time(Vec::with_capacity(n)),
                _ => Column::Int(Vec::with_capacity(n)),
            })
            .collect();
        for _ in 0..n {
            let event = self
                .events
                .next()
                .ok_or_else(|| invalid("nexmark generator ended"))?;
            for (name, column) in names.iter().zip(columns.iter_mut()) {
                push(column, &event, name);
            }
        }
        let arrays = columns
            .into_iter()
            .zip(self.config.schema.fields())
            .map(|(column, field)| {
                let raw: ArrayRef = match column {
                    Column::Int(v) => Arc::new(Int64Array::from(v)),
                    Column::Text(v) => Arc::new(StringArray::from(v)),
                    Column::Time(v) => Arc::new(TimestampMillisecondArray::from(v)),
                };
                Ok(cast(&raw, field.data_type())?)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(RecordBatch::try_new(
            self.config.schema.clone(),
            arrays,
        )?))
    }

    fn set_paced(&mut self, paced: bool) {
        self.pacer.set_paced(paced);
    }
}

fn push(column: &mut Column, event: &Event, name: &str) {
    let int = |v: usize| v as i64;
    match (column, event) {
        (Column::Int(out), Event::Bid(b)) => out.push(match name {
            "auction" => int(b.auction),
            "bidder" => int(b.bidder),
            _ => int(b.price),
        }),
        (Column::Text(out), Event::Bid(b)) => out.push(match name {
            "channel" => b.channel.clone(),
            "url" => b.url.clone(),
            _ => b.extra.clone(),
        }),
        (Column::Time(out), Event::Bid(b)) => out.push(b.date_time as i64),
        (Column::Int(out), Event::Auction(a)) => out.push(match name {
            "id" => int(a.id),
            "initial_bid" => int(a.initial_bid),
            "reserve" => int(a.reserve),
            "seller" => int(a.seller),
            _ => int(a.category),
        }),
        (Column::Text(out), Event::Auction(a)) => out.push(match name {
            "item_name" => a.item_name.clone(),
            "description" => a.description.clone(),
            _ => a.extra.clone(),
        }),
        (Column::Time(out), Event::Auction(a)) => out.push(if name == "expires" {
            a.expires
        } else {
            a.date_time
        } as i64),
        (Column::Int(out), Event::Person(p)) => out.push(int(p.id)),
        (Column::Text(out), Event::Person(p)) => out.push(match name {
            "name" => p.name.clone(),
            "email_address" => p.email_address.clone(),
            "credit_card" => p.credit_card.clone(),
            "city" => p.city.clone(),
            "state" => p.state.clone(),
            _ => p.extra.clone(),
        }),
        (Column::Time(out), Event::Person(p)) => out.push(p.date_time as i64),
    }
}
