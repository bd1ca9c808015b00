//! [`Model`]: one version of a model, loaded — its signature, a pool of ONNX Runtime
//! sessions, and counters — and [`Tensor`], the flat row-major data it runs on.
//!
//! A call with many rows is cut into chunks of `batch_size` rows (exactly the
//! model's batch when it is fixed, the last chunk padded with zeros and the padding's
//! results dropped). Chunks are spread over the pool's sessions on scoped threads:
//! each session runs one chunk at a time with one intra-op thread, the data-parallel
//! layout that measured fastest on small machines.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use ort::session::Session;
use ort::session::SessionInputValue;
use ort::value::{DynValue, PrimitiveTensorElementType, Tensor as OrtTensor, TensorRef};

use super::runtime;
use super::signature::{Element, Signature, TensorSpec};
use super::stats::ModelStats;
use super::store::Manifest;
use crate::error::{Result, SluiceError};

/// Settings of `CREATE MODEL ... WITH (...)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModelOptions {
    /// Intra-op threads per session.
    pub threads: usize,
    /// Most rows per call (for a model with a symbolic batch dimension).
    pub batch_size: usize,
    /// Sessions in the pool: how many chunks run at once.
    pub sessions: usize,
}

impl Default for ModelOptions {
    fn default() -> Self {
        ModelOptions {
            threads: 1,
            batch_size: 1024,
            sessions: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// Flat, row-major tensor data: `rows * width` elements.
#[derive(Debug, Clone, PartialEq)]
pub enum Tensor {
    /// `float` elements.
    Float32(Vec<f32>),
    /// `double` elements.
    Float64(Vec<f64>),
    /// `int32` elements.
    Int32(Vec<i32>),
    /// `int64` elements.
    Int64(Vec<i64>),
}

impl Tensor {
    /// An empty tensor of `element`s with room for `len` elements.
    pub fn with_capacity(element: Element, len: usize) -> Tensor {
        match element {
            Element::Float32 => Tensor::Float32(Vec::with_capacity(len)),
            Element::Float64 => Tensor::Float64(Vec::with_capacity(len)),
            Element::Int32 => Tensor::Int32(Vec::with_capacity(len)),
            Element::Int64 => Tensor::Int64(Vec::with_capacity(len)),
        }
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        match self {
            Tensor::Float32(v) => v.len(),
            Tensor::Float64(v) => v.len(),
            Tensor::Int32(v) => v.len(),
            Tensor::Int64(v) => v.len(),
        }
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The elements `rows` as an input of `spec`'s shape: ONNX Runtime reads this
    /// buffer directly, except when `padded_rows` asks for zero rows appended (a
    /// fixed-batch model's last chunk), which copies.
    fn input(
        &self,
        spec: &TensorSpec,
        rows: std::ops::Range<usize>,
        padded_rows: usize,
    ) -> ort::Result<SessionInputValue<'_>> {
        let width = spec.width();
        let range = rows.start * width..rows.end * width;
        let count = rows.len();
        fn value<'a, T: PrimitiveTensorElementType + Copy + Default + std::fmt::Debug + 'static>(
            data: &'a [T],
            shape: Vec<i64>,
            pad: usize,
        ) -> ort::Result<SessionInputValue<'a>> {
            if pad == 0 {
                return Ok(TensorRef::from_array_view((shape, data))?.into());
            }
            let mut padded = Vec::with_capacity(data.len() + pad);
            padded.extend_from_slice(data);
            padded.resize(data.len() + pad, T::default());
            Ok(OrtTensor::from_array((shape, padded))?.into())
        }
        let shape = spec.shape(count + padded_rows);
        let pad = padded_rows * width;
        match self {
            Tensor::Float32(v) => value(&v[range], shape, pad),
            Tensor::Float64(v) => value(&v[range], shape, pad),
            Tensor::Int32(v) => value(&v[range], shape, pad),
            Tensor::Int64(v) => value(&v[range], shape, pad),
        }
    }

    /// Appends `other`'s elements (of the same type).
    fn append(&mut self, other: Tensor) {
        match (self, other) {
            (Tensor::Float32(a), Tensor::Float32(b)) => a.extend(b),
            (Tensor::Float64(a), Tensor::Float64(b)) => a.extend(b),
            (Tensor::Int32(a), Tensor::Int32(b)) => a.extend(b),
            (Tensor::Int64(a), Tensor::Int64(b)) => a.extend(b),
            // Both come from the same output's spec: the types always match.
            _ => debug_assert!(false, "appending a tensor of another element type"),
        }
    }

    /// Appends the first `len` elements of an output value.
    fn extend_from(&mut self, value: &DynValue, len: usize) -> ort::Result<()> {
        fn extend<T: PrimitiveTensorElementType + Copy>(
            out: &mut Vec<T>,
            value: &DynValue,
            len: usize,
        ) -> ort::Result<()> {
            let (_, data) = value.try_extract_tensor::<T>()?;
            out.extend_from_slice(&data[..len.min(data.len())]);
            Ok(())
        }
        match self {
            Tensor::Float32(v) => extend(v, value, len),
            Tensor::Float64(v) => extend(v, value, len),
            Tensor::Int32(v) => extend(v, value, len),
            Tensor::Int64(v) => extend(v, value, len),
        }
    }
}

/// One version of a model, ready to run. Shared by every query and view using it.
#[derive(Debug)]
pub struct Model {
    name: String,
    version: u64,
    checksum: String,
    path: PathBuf,
    source: String,
    signature: Signature,
    options: ModelOptions,
    sessions: Vec<Mutex<Session>>,
    stats: ModelStats,
}

impl Model {
    /// Loads the file of `manifest`'s version in `dir` into `options.sessions`
    /// sessions and reads its signature.
    pub fn load(name: &str, dir: &Path, manifest: &Manifest) -> Result<Model> {
        let path = &manifest.file(dir);
        let options = manifest.options;
        let environment = runtime::environment()?;
        let invalid = |e: ort::Error| {
            SluiceError::coded(
                "22023",
                format!("cannot load model file {}: {e}", path.display()),
            )
        };
        let mut sessions = Vec::with_capacity(options.sessions);
        for _ in 0..options.sessions.max(1) {
            let session = Session::builder(environment)
                .map_err(invalid)?
                .with_intra_threads(options.threads)
                .map_err(|e| invalid(e.into()))?
                .with_inter_threads(1)
                .map_err(|e| invalid(e.into()))?
                .commit_from_file(path)
                .map_err(invalid)?;
            sessions.push(Mutex::new(session));
        }
        let signature = match sessions.first() {
            Some(session) => Signature::of(&lock(session))?,
            None => return Err(SluiceError::Internal("a model without sessions".into())),
        };
        Ok(Model {
            name: name.to_string(),
            version: manifest.version,
            checksum: manifest.checksum.clone(),
            path: path.to_path_buf(),
            source: manifest.source.clone(),
            signature,
            options,
            sessions,
            stats: ModelStats::default(),
        })
    }

    /// The model's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The version: 1 at `CREATE MODEL`, one more at each `CREATE OR REPLACE`.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// SHA-256 of the model file, in hex.
    pub fn checksum(&self) -> &str {
        &self.checksum
    }

    /// The model's file (the copy in the data directory).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path the file was copied from at `CREATE MODEL`.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Sessions in the pool.
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    /// Inputs and outputs.
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The `WITH` settings it was loaded with.
    pub fn options(&self) -> &ModelOptions {
        &self.options
    }

    /// Calls, rows and latency so far.
    pub fn stats(&self) -> &ModelStats {
        &self.stats
    }

    /// Runs the model on `rows` rows: `inputs[i]` holds `rows * width` elements of
    /// input `i`'s type. Returns one tensor per output, `rows * width` elements each,
    /// and the number of ONNX Runtime calls it took.
    pub fn run(&self, rows: usize, inputs: &[Tensor]) -> Result<(Vec<Tensor>, usize)> {
        let chunk = self
            .signature
            .fixed_batch()
            .unwrap_or(self.options.batch_size)
            .max(1);
        let chunks: Vec<std::ops::Range<usize>> = (0..rows)
            .step_by(chunk)
            .map(|start| start..(start + chunk).min(rows))
            .collect();
        let workers = self.sessions.len().min(chunks.len());
        let mut done: Vec<(usize, Vec<Tensor>)> = if workers <= 1 {
            let mut session = lock(&self.sessions[0]);
            chunks
                .iter()
                .enumerate()
                .map(|(i, range)| Ok((i, self.run_chunk(&mut session, range.clone(), inputs)?)))
                .collect::<Result<_>>()?
        } else {
            // Worker w runs chunks w, w + workers, ... on session w.
            std::thread::scope(|scope| {
                let handles: Vec<_> = (0..workers)
                    .map(|w| {
                        let chunks = &chunks;
                        scope.spawn(move || {
                            let mut session = lock(&self.sessions[w]);
                            chunks
                                .iter()
                                .enumerate()
                                .skip(w)
                                .step_by(workers)
                                .map(|(i, range)| {
                                    Ok((i, self.run_chunk(&mut session, range.clone(), inputs)?))
                                })
                                .collect::<Result<Vec<_>>>()
                        })
                    })
                    .collect();
                let mut all = Vec::with_capacity(chunks.len());
                for handle in handles {
                    let part = handle.join().map_err(|_| {
                        SluiceError::Internal("a PREDICT worker thread panicked".into())
                    })??;
                    all.extend(part);
                }
                Ok::<_, SluiceError>(all)
            })?
        };
        done.sort_by_key(|(i, _)| *i);
        let mut outputs: Vec<Tensor> = self
            .signature
            .outputs
            .iter()
            .map(|o| Tensor::with_capacity(o.element, rows * o.width()))
            .collect();
        for (_, chunk_outputs) in done {
            for (out, part) in outputs.iter_mut().zip(chunk_outputs) {
                out.append(part);
            }
        }
        Ok((outputs, chunks.len()))
    }

    /// Runs one chunk of rows on `session`; a fixed-batch model's short chunk is
    /// padded, and only the real rows' results are kept.
    fn run_chunk(
        &self,
        session: &mut Session,
        rows: std::ops::Range<usize>,
        inputs: &[Tensor],
    ) -> Result<Vec<Tensor>> {
        let count = rows.len();
        let padding = self
            .signature
            .fixed_batch()
            .map_or(0, |batch| batch.saturating_sub(count));
        let failed = |e: ort::Error| {
            SluiceError::coded(
                "38000",
                format!("model \"{}\" failed to run: {e}", self.name),
            )
        };
        let values = self
            .signature
            .inputs
            .iter()
            .zip(inputs)
            .map(|(spec, data)| data.input(spec, rows.clone(), padding))
            .collect::<ort::Result<Vec<_>>>()
            .map_err(failed)?;
        let results = session.run(values.as_slice()).map_err(failed)?;
        self.signature
            .outputs
            .iter()
            .map(|spec| {
                let value = results.get(&spec.name).ok_or_else(|| {
                    SluiceError::Internal(format!("model output {} missing", spec.name))
                })?;
                let mut out = Tensor::with_capacity(spec.element, count * spec.width());
                out.extend_from(value, count * spec.width())
                    .map_err(failed)?;
                Ok(out)
            })
            .collect()
    }
}

fn lock(session: &Mutex<Session>) -> MutexGuard<'_, Session> {
    // A panic inside ORT leaves the session usable: it holds no Rust invariants.
    session.lock().unwrap_or_else(|p| p.into_inner())
}
