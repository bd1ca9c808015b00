//! [`OrderedPartitions`]: an input's rows kept by partition and, within a partition,
//! in a sort order — the state of the operators that read a partition front to back
//! (top-N, window functions over `OVER (PARTITION BY ... ORDER BY ...)`).
//!
//! The rows are one [`Spine`]: each entry is the partition key's encoding, then the
//! order key's, then the row's, then the offset of the row's encoding (4 bytes,
//! little-endian), weighted by the row's multiplicity. Arrow's row encodings sort as
//! SQL sorts (directions and NULL placement included) and none is a prefix of
//! another, so a partition's rows are the entries its key prefixes, in the
//! partition's order; rows tied in the order follow their own encoding, so ties are
//! always broken the same way.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, new_empty_array};
use datafusion::arrow::compute::SortOptions;
use datafusion::arrow::datatypes::{FieldRef, Schema};
use datafusion::arrow::row::{RowConverter, Rows, SortField};
use datafusion::physical_expr::PhysicalExpr;
use foldhash::HashMap;

use super::ChangeBatch;
use super::change::row_codec;
use super::exchange::Partitioning;
use super::operator::{ErrorLog, canonical_floats, evaluate_rows};
use super::state::Spine;
use crate::error::Result;

/// A sort key: an expression and its direction and NULL placement.
pub type OrderKey = (Arc<dyn PhysicalExpr>, SortOptions);

/// A change in entry form (see the module docs).
#[derive(Debug, Default)]
pub struct Entries {
    /// One entry per surviving row of the change.
    pub entries: Vec<Vec<u8>>,
    /// The rows' weights.
    pub weights: Vec<i64>,
    /// The partition keys the change touches, each once, in the change's order.
    pub touched: Vec<Vec<u8>>,
    /// Per entry, the index of its partition key in `touched`.
    pub partition_of: Vec<usize>,
    /// The entries' order keys, evaluated: one column per key, a row per entry.
    pub order_keys: Vec<ArrayRef>,
}

/// Rows by partition, in order. See the module docs.
#[derive(Debug)]
pub struct OrderedPartitions {
    partition: Vec<Arc<dyn PhysicalExpr>>,
    order: Vec<Arc<dyn PhysicalExpr>>,
    partition_codec: Option<RowConverter>,
    order_codec: Option<RowConverter>,
    rows: RowConverter,
    fields: Vec<FieldRef>,
    /// Invariant: every weight is the multiplicity of its row (> 0).
    state: Spine,
}

impl OrderedPartitions {
    /// Rows shaped `input`, partitioned by `partition` and ordered by `order`.
    pub fn try_new(
        input: &Schema,
        partition: Vec<Arc<dyn PhysicalExpr>>,
        order: Vec<OrderKey>,
    ) -> Result<Self> {
        let codec = |fields: Vec<SortField>| -> Result<Option<RowConverter>> {
            Ok(if fields.is_empty() {
                None
            } else {
                Some(RowConverter::new(fields)?)
            })
        };
        let partition_codec = codec(
            partition
                .iter()
                .map(|e| Ok(SortField::new(e.data_type(input)?)))
                .collect::<Result<_>>()?,
        )?;
        let order_codec = codec(
            order
                .iter()
                .map(|(e, options)| Ok(SortField::new_with_options(e.data_type(input)?, *options)))
                .collect::<Result<_>>()?,
        )?;
        Ok(OrderedPartitions {
            partition,
            order: order.into_iter().map(|(e, _)| e).collect(),
            partition_codec,
            order_codec,
            rows: row_codec(input.fields())?,
            fields: input.fields().to_vec(),
            state: Spine::new(),
        })
    }

    /// The encodings of `columns` (`None` when there are no keys).
    fn encode(codec: &Option<RowConverter>, columns: &[ArrayRef]) -> Result<Option<Rows>> {
        match codec {
            Some(codec) => Ok(Some(codec.convert_columns(&canonical_floats(columns)?)?)),
            None => Ok(None),
        }
    }

    /// The change's rows as entries; rows whose keys fail to evaluate are recorded in
    /// `errors` and left out.
    pub fn entries(&self, change: &ChangeBatch, errors: &mut ErrorLog) -> Result<Entries> {
        let keys: Vec<Arc<dyn PhysicalExpr>> =
            self.partition.iter().chain(&self.order).cloned().collect();
        let (change, columns) = evaluate_rows(&keys, change, errors)?;
        let (partition_columns, order_columns) = columns.split_at(self.partition.len());
        let partitions = Self::encode(&self.partition_codec, partition_columns)?;
        let orders = Self::encode(&self.order_codec, order_columns)?;
        let rows = self.rows.convert_columns(change.data().columns())?;
        let mut out = Entries {
            entries: Vec::with_capacity(change.num_rows()),
            weights: change.weights().values().to_vec(),
            touched: Vec::new(),
            partition_of: Vec::with_capacity(change.num_rows()),
            order_keys: order_columns.to_vec(),
        };
        let mut seen: HashMap<&[u8], usize> = HashMap::default();
        for row in 0..change.num_rows() {
            let partition = partitions.as_ref().map_or(&[][..], |p| p.row(row).data());
            let order = orders.as_ref().map_or(&[][..], |o| o.row(row).data());
            let row_start = (partition.len() + order.len()) as u32;
            out.entries.push(
                [
                    partition,
                    order,
                    rows.row(row).data(),
                    &row_start.to_le_bytes(),
                ]
                .concat(),
            );
            let index = *seen.entry(partition).or_insert_with(|| {
                out.touched.push(partition.to_vec());
                out.touched.len() - 1
            });
            out.partition_of.push(index);
        }
        Ok(out)
    }

    /// Adds `change`'s rows with their weights.
    pub fn apply(&mut self, change: &Entries) -> Result<()> {
        self.adjust(&change.entries, &change.weights)
    }

    /// Adds `entries` (read from this state) with `weights`.
    pub fn adjust(&mut self, entries: &[Vec<u8>], weights: &[i64]) -> Result<()> {
        let keys: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
        self.state.apply(&keys, weights)
    }

    /// The rows of the partition whose key encodes as `prefix`, in order, with their
    /// multiplicities.
    pub fn partition(&self, prefix: &[u8]) -> impl Iterator<Item = (&[u8], i64)> {
        self.state.prefix(prefix)
    }

    /// The input columns of the rows of `entries`.
    pub fn columns<'a>(
        &self,
        entries: impl ExactSizeIterator<Item = &'a [u8]>,
    ) -> Result<Vec<ArrayRef>> {
        if entries.len() == 0 {
            return Ok(self
                .fields
                .iter()
                .map(|f| new_empty_array(f.data_type()))
                .collect());
        }
        let parser = self.rows.parser();
        Ok(self
            .rows
            .convert_rows(entries.map(|entry| parser.parse(split_entry(entry, 0).1)))?)
    }

    /// By partition key (each partition is kept whole on one worker), or on one
    /// worker without `PARTITION BY`.
    pub fn partitioning(&self) -> Partitioning {
        Partitioning::by(&self.partition)
    }

    /// The partition and order expressions, for `describe`.
    pub fn describe_keys(&self) -> (String, String) {
        let list = |exprs: &[Arc<dyn PhysicalExpr>]| {
            exprs
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        (list(&self.partition), list(&self.order))
    }

    pub fn bytes(&self) -> usize {
        self.state.bytes()
    }

    pub fn spine(&mut self) -> &mut Spine {
        &mut self.state
    }
}

/// An entry's order key and row encodings, after a partition prefix of `prefix_len`
/// bytes (the order key is only right with the true prefix length).
pub fn split_entry(entry: &[u8], prefix_len: usize) -> (&[u8], &[u8]) {
    let body = &entry[..entry.len().saturating_sub(4)];
    let mut offset = [0u8; 4];
    offset.copy_from_slice(&entry[body.len()..]);
    let row_start = (u32::from_le_bytes(offset) as usize).min(body.len());
    (
        &body[prefix_len.min(row_start)..row_start],
        &body[row_start..],
    )
}
