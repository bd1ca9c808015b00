//! The ONNX Runtime library, loaded once per process on first use.
//!
//! Sluice does not link ONNX Runtime: `ort`'s `load-dynamic` opens
//! `libonnxruntime.so.1.31.1` at run time, so a server without models never needs it.
//! The library is looked for, in order, at the path given to [`use_library`]
//! (`sluice serve --onnxruntime`), `SLUICE_ONNXRUNTIME`, `ORT_DYLIB_PATH`, and the
//! place `scripts/install-ml.sh` puts it (the PyPI wheel `onnxruntime==1.31.1`
//! unpacked in a venv under the cache directory). A missing library is an error that
//! says what to do, never a panic: `ort` panics when used uninitialised, so every
//! entry point into `ort` goes through [`environment`] first.

use std::path::PathBuf;
use std::sync::OnceLock;

use ort::environment::Environment;

use crate::error::{Result, SluiceError};

/// The library file name Sluice is built against (`ort`'s `api-31`).
pub const LIBRARY: &str = "libonnxruntime.so.1.31.1";

static ENVIRONMENT: OnceLock<std::result::Result<Environment, String>> = OnceLock::new();
static LIBRARY_PATH: OnceLock<PathBuf> = OnceLock::new();

/// Looks for the library at `path` first. Only the first call counts, and only
/// before the library is loaded.
pub fn use_library(path: PathBuf) {
    let _ = LIBRARY_PATH.set(path);
}

/// The process-wide ONNX Runtime environment, loading the library on first call.
pub fn environment() -> Result<&'static Environment> {
    ENVIRONMENT
        .get_or_init(load)
        .as_ref()
        .map_err(|message| SluiceError::coded("58P01", message.clone()))
}

fn load() -> std::result::Result<Environment, String> {
    let candidates = candidates();
    let Some(path) = candidates.iter().find(|p| p.is_file()) else {
        let looked: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
        return Err(format!(
            "ONNX Runtime is not installed: {LIBRARY} was not found (looked at: {}). \
             Run scripts/install-ml.sh, or set SLUICE_ONNXRUNTIME to the library's path",
            looked.join(", ")
        ));
    };
    let builder = ort::init_from(path)
        .map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", path.display()))?;
    let environment = builder
        .with_name("sluice")
        .build()
        .map_err(|e| format!("cannot start ONNX Runtime: {e}"))?;
    tracing::info!(library = %path.display(), "ONNX Runtime loaded");
    Ok(environment)
}

/// Where the library may be, in the order tried.
fn candidates() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = LIBRARY_PATH.get().cloned().into_iter().collect();
    for variable in ["SLUICE_ONNXRUNTIME", "ORT_DYLIB_PATH"] {
        if let Some(path) = std::env::var_os(variable) {
            paths.push(PathBuf::from(path));
        }
    }
    let cache = std::env::var_os("SLUICE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/sluice"));
    let site_packages = cache.join("ml-venv/lib");
    // The venv's python3.X directory depends on the Python that made it.
    if let Ok(entries) = std::fs::read_dir(&site_packages) {
        for entry in entries.flatten() {
            paths.push(
                entry
                    .path()
                    .join("site-packages/onnxruntime/capi")
                    .join(LIBRARY),
            );
        }
    }
    paths.push(PathBuf::from("/usr/local/lib").join(LIBRARY));
    paths
}
