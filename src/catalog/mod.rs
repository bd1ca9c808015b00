//! The catalog: every named object Sluice knows, and its persistence.
//!
//! ```text
//!  <data-dir>/catalog.json   [{id, name, kind, definition}, ...]   (written atomically)
//! ```
//!
//! Each entry keeps the SQL statement that created the object; at start-up the
//! statements are replayed in id order through the same code that ran them the first
//! time, so a definition is never stored in two forms. The live objects are held in
//! [`Catalog`] and exposed to DataFusion through [`schema::PublicSchema`].

pub mod password;
pub mod postgres;
pub mod roles;
pub mod schema;
pub mod sink;
pub mod source;
pub mod system;
mod system_checkpoints;
mod system_models;
pub mod table;
pub mod view;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

pub use sink::Sink;
pub use source::SourceRelation;
pub use table::Table;
pub use view::View;

use crate::error::{Result, SluiceError};
use crate::ml::Model;
use crate::storage::files::write_atomically;

/// The schema every user object lives in.
pub const DEFAULT_SCHEMA: &str = "public";
/// The database (DataFusion catalog) name clients connect to.
pub const DEFAULT_DATABASE: &str = "sluice";

/// What kind of object a catalog entry describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelationKind {
    /// A table written by INSERT/UPDATE/DELETE.
    Table,
    /// A materialized view, maintained incrementally.
    MaterializedView,
    /// A stream of rows from a connector.
    Source,
    /// An ONNX model for `PREDICT` (not a relation: models have their own namespace).
    Model,
    /// A sink: a view's changes written out (not a relation; its name is unique
    /// among relations and sinks).
    Sink,
    /// A SQL-language function (not a relation: functions have their own namespace).
    Function,
}

impl RelationKind {
    /// The lowercase name used in system relations and messages.
    pub fn as_str(&self) -> &'static str {
        match self {
            RelationKind::Table => "table",
            RelationKind::MaterializedView => "materialized view",
            RelationKind::Source => "source",
            RelationKind::Model => "model",
            RelationKind::Sink => "sink",
            RelationKind::Function => "function",
        }
    }
}

/// One persisted catalog entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogEntry {
    /// Unique, never reused id (also names the object's data directory).
    pub id: u64,
    /// The object's name (already normalized: unquoted identifiers are lowercase).
    pub name: String,
    /// What the object is.
    pub kind: RelationKind,
    /// The statement that created it, replayed at start-up.
    pub definition: String,
}

/// A relation name as PostgreSQL reads it from text (`'t'`, `'public.t'`,
/// `'"My T"'`, as `regclass` input and functions taking a name do): its schema, if
/// given, and its name, unquoted identifiers folded to lower case.
pub fn relation_name_from_text(text: &str) -> (Option<String>, String) {
    fn identifier(text: &str) -> String {
        let text = text.trim();
        match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
            Some(quoted) => quoted.replace("\"\"", "\""),
            None => text.to_lowercase(),
        }
    }
    // The dot between schema and name, outside quotes.
    let mut quoted = false;
    let dot = text.char_indices().find_map(|(i, c)| match c {
        '"' => {
            quoted = !quoted;
            None
        }
        '.' if !quoted => Some(i),
        _ => None,
    });
    match dot {
        Some(i) => (Some(identifier(&text[..i])), identifier(&text[i + 1..])),
        None => (None, identifier(text)),
    }
}

/// The error for a model that does not exist.
pub fn undefined_model(name: &str) -> SluiceError {
    SluiceError::coded("42704", format!("model \"{name}\" does not exist"))
}

/// The error for a sink that does not exist.
pub fn undefined_sink(name: &str) -> SluiceError {
    SluiceError::coded(
        crate::error::sqlstate::UNDEFINED_OBJECT,
        format!("sink \"{name}\" does not exist"),
    )
}

/// A live catalog object.
#[derive(Debug, Clone)]
pub enum Relation {
    /// A durable table.
    Table(Arc<Table>),
    /// A materialized view.
    View(Arc<View>),
    /// A source.
    Source(Arc<SourceRelation>),
}

impl Relation {
    /// The object's persisted entry.
    pub fn entry(&self) -> &CatalogEntry {
        match self {
            Relation::Table(t) => t.entry(),
            Relation::View(v) => v.entry(),
            Relation::Source(s) => s.entry(),
        }
    }

    /// The object's column layout.
    pub fn schema(&self) -> datafusion::arrow::datatypes::SchemaRef {
        match self {
            Relation::Table(t) => t.store().schema(),
            Relation::View(v) => v.running().schema(),
            Relation::Source(s) => s.source().config().schema.clone(),
        }
    }

    /// The object as a DataFusion table.
    pub fn provider(&self) -> Arc<dyn datafusion::datasource::TableProvider> {
        match self {
            Relation::Table(t) => t.clone(),
            Relation::View(v) => v.clone(),
            Relation::Source(s) => s.clone(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, Default)]
struct CatalogFile {
    next_id: u64,
    entries: Vec<CatalogEntry>,
}

/// The set of live objects plus their persisted entries. Callers serialize DDL
/// (see `Database`); reads may happen concurrently with anything.
#[derive(Debug)]
pub struct Catalog {
    path: PathBuf,
    state: RwLock<CatalogState>,
}

#[derive(Debug, Default)]
struct CatalogState {
    next_id: u64,
    relations: BTreeMap<String, Relation>,
    models: BTreeMap<String, CatalogModel>,
    sinks: BTreeMap<String, Arc<Sink>>,
    functions: BTreeMap<String, CatalogFunction>,
}

/// A SQL function in the catalog: its entry and its parsed definition.
#[derive(Debug, Clone)]
pub struct CatalogFunction {
    /// The persisted entry (its definition is the latest `CREATE FUNCTION` statement).
    pub entry: CatalogEntry,
    /// The function, ready to inline.
    pub function: Arc<crate::sql::sql_functions::SqlFunction>,
}

/// A model in the catalog: its entry and the version in force.
#[derive(Debug, Clone)]
pub struct CatalogModel {
    /// The persisted entry (its definition is the latest `CREATE MODEL` statement).
    pub entry: CatalogEntry,
    /// The loaded version.
    pub model: Arc<Model>,
}

impl Catalog {
    /// Reads `<data_dir>/catalog.json` and returns an empty catalog plus the entries to
    /// replay: functions, then the other objects in creation order.
    pub fn open(data_dir: &Path) -> Result<(Catalog, Vec<CatalogEntry>)> {
        let path = data_dir.join("catalog.json");
        let file = if path.exists() {
            let bytes = std::fs::read(&path)?;
            serde_json::from_slice::<CatalogFile>(&bytes).map_err(|e| SluiceError::Corrupt {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?
        } else {
            CatalogFile {
                next_id: 1,
                entries: Vec::new(),
            }
        };
        let mut entries = file.entries;
        // Functions first: they read no relation, and a replaced function may call
        // one created after a view that calls it.
        entries.sort_by_key(|e| (e.kind != RelationKind::Function, e.id));
        let catalog = Catalog {
            path,
            state: RwLock::new(CatalogState {
                next_id: file.next_id.max(1),
                relations: BTreeMap::new(),
                models: BTreeMap::new(),
                sinks: BTreeMap::new(),
                functions: BTreeMap::new(),
            }),
        };
        Ok((catalog, entries))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, CatalogState> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, CatalogState> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The data directory (the one holding `catalog.json`).
    pub fn data_dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// Reserves a fresh object id. Ids are persisted with the next [`Catalog::insert`].
    pub fn allocate_id(&self) -> u64 {
        let mut state = self.write();
        let id = state.next_id;
        state.next_id += 1;
        id
    }

    /// Makes a new object visible and, when `persist` is set, durable.
    /// `persist` is false while replaying entries at start-up.
    pub fn insert(&self, relation: Relation, persist: bool) -> Result<()> {
        let name = relation.entry().name.clone();
        let mut state = self.write();
        if state.relations.contains_key(&name) || state.sinks.contains_key(&name) {
            return Err(SluiceError::DuplicateTable(name));
        }
        state.next_id = state.next_id.max(relation.entry().id + 1);
        state.relations.insert(name.clone(), relation);
        if persist && let Err(e) = self.persist(&state) {
            state.relations.remove(&name);
            return Err(e);
        }
        Ok(())
    }

    /// Swaps in a rebuilt object under an existing name (its entry unchanged, so
    /// nothing is persisted) and returns the object it replaced.
    pub fn swap(&self, relation: Relation) -> Result<Relation> {
        let name = relation.entry().name.clone();
        let mut state = self.write();
        match state.relations.get_mut(&name) {
            Some(slot) => Ok(std::mem::replace(slot, relation)),
            None => Err(SluiceError::UndefinedTable(name)),
        }
    }

    /// Removes an object and persists the catalog without it.
    pub fn remove(&self, name: &str) -> Result<Relation> {
        let mut state = self.write();
        let relation = state
            .relations
            .remove(name)
            .ok_or_else(|| SluiceError::UndefinedTable(name.to_string()))?;
        if let Err(e) = self.persist(&state) {
            state.relations.insert(name.to_string(), relation);
            return Err(e);
        }
        Ok(relation)
    }

    /// The object named `name`, if any.
    pub fn get(&self, name: &str) -> Option<Relation> {
        self.read().relations.get(name).cloned()
    }

    /// The table named `name`, or the Postgres error for a missing relation.
    pub fn table(&self, name: &str) -> Result<Arc<Table>> {
        match self.get(name) {
            Some(Relation::Table(t)) => Ok(t),
            Some(Relation::View(_) | Relation::Source(_)) => Err(SluiceError::coded(
                "42809",
                format!("\"{name}\" is not a table; only tables can be written"),
            )),
            None => Err(SluiceError::UndefinedTable(name.to_string())),
        }
    }

    /// Views reading `name` directly.
    pub fn dependents(&self, name: &str) -> Vec<Arc<View>> {
        self.read()
            .relations
            .values()
            .filter_map(|r| match r {
                Relation::View(v) if v.inputs().iter().any(|i| i == name) => Some(v.clone()),
                _ => None,
            })
            .collect()
    }

    /// Every source.
    pub fn sources(&self) -> Vec<Arc<SourceRelation>> {
        self.read()
            .relations
            .values()
            .filter_map(|r| match r {
                Relation::Source(s) => Some(s.clone()),
                _ => None,
            })
            .collect()
    }

    /// Every materialized view.
    pub fn views(&self) -> Vec<Arc<View>> {
        self.read()
            .relations
            .values()
            .filter_map(|r| match r {
                Relation::View(v) => Some(v.clone()),
                Relation::Table(_) | Relation::Source(_) => None,
            })
            .collect()
    }

    /// Every object, ordered by name.
    pub fn relations(&self) -> Vec<Relation> {
        self.read().relations.values().cloned().collect()
    }

    /// Adds a model, or replaces the version in force when `replace` is set and it
    /// exists. Persists unless replaying (`persist` false).
    pub fn put_model(&self, model: CatalogModel, replace: bool, persist: bool) -> Result<()> {
        let name = model.entry.name.clone();
        let mut state = self.write();
        let previous = state.models.get(&name).cloned();
        if previous.is_some() && !replace {
            return Err(SluiceError::coded(
                "42710",
                format!("model \"{name}\" already exists"),
            ));
        }
        state.next_id = state.next_id.max(model.entry.id + 1);
        state.models.insert(name.clone(), model);
        if persist && let Err(e) = self.persist(&state) {
            match previous {
                Some(previous) => state.models.insert(name, previous),
                None => state.models.remove(&name),
            };
            return Err(e);
        }
        Ok(())
    }

    /// Removes a model and persists the catalog without it.
    pub fn remove_model(&self, name: &str) -> Result<CatalogModel> {
        let mut state = self.write();
        let model = state
            .models
            .remove(name)
            .ok_or_else(|| undefined_model(name))?;
        if let Err(e) = self.persist(&state) {
            state.models.insert(name.to_string(), model);
            return Err(e);
        }
        Ok(model)
    }

    /// The model named `name`, with its entry.
    pub fn catalog_model(&self, name: &str) -> Option<CatalogModel> {
        self.read().models.get(name).cloned()
    }

    /// The version in force of model `name`.
    pub fn model(&self, name: &str) -> Result<Arc<Model>> {
        self.catalog_model(name)
            .map(|m| m.model)
            .ok_or_else(|| undefined_model(name))
    }

    /// Every model, ordered by name.
    pub fn models(&self) -> Vec<CatalogModel> {
        self.read().models.values().cloned().collect()
    }

    /// Views that call `PREDICT` with model `name`.
    pub fn model_dependents(&self, name: &str) -> Vec<Arc<View>> {
        self.views()
            .into_iter()
            .filter(|v| v.models().iter().any(|m| m == name))
            .collect()
    }

    /// Adds a sink, persisting it unless replaying (`persist` false). Its name must
    /// be free among relations and sinks.
    pub fn insert_sink(&self, sink: Arc<Sink>, persist: bool) -> Result<()> {
        let name = sink.entry().name.clone();
        let mut state = self.write();
        if state.relations.contains_key(&name) || state.sinks.contains_key(&name) {
            return Err(SluiceError::DuplicateTable(name));
        }
        state.next_id = state.next_id.max(sink.entry().id + 1);
        state.sinks.insert(name.clone(), sink);
        if persist && let Err(e) = self.persist(&state) {
            state.sinks.remove(&name);
            return Err(e);
        }
        Ok(())
    }

    /// Removes a sink and persists the catalog without it.
    pub fn remove_sink(&self, name: &str) -> Result<Arc<Sink>> {
        let mut state = self.write();
        let sink = state
            .sinks
            .remove(name)
            .ok_or_else(|| undefined_sink(name))?;
        if let Err(e) = self.persist(&state) {
            state.sinks.insert(name.to_string(), sink);
            return Err(e);
        }
        Ok(sink)
    }

    /// The sink named `name`, if any.
    pub fn sink(&self, name: &str) -> Option<Arc<Sink>> {
        self.read().sinks.get(name).cloned()
    }

    /// Every sink, ordered by name.
    pub fn sinks(&self) -> Vec<Arc<Sink>> {
        self.read().sinks.values().cloned().collect()
    }

    /// Adds a function, or replaces it when `replace` is set and it exists. Persists
    /// unless replaying (`persist` false).
    pub fn put_function(
        &self,
        function: CatalogFunction,
        replace: bool,
        persist: bool,
    ) -> Result<()> {
        let name = function.entry.name.clone();
        let mut state = self.write();
        let previous = state.functions.get(&name).cloned();
        if previous.is_some() && !replace {
            return Err(SluiceError::coded(
                crate::error::sqlstate::DUPLICATE_FUNCTION,
                format!("function \"{name}\" already exists with same argument types"),
            ));
        }
        state.next_id = state.next_id.max(function.entry.id + 1);
        state.functions.insert(name.clone(), function);
        if persist && let Err(e) = self.persist(&state) {
            match previous {
                Some(previous) => state.functions.insert(name, previous),
                None => state.functions.remove(&name),
            };
            return Err(e);
        }
        Ok(())
    }

    /// Removes a function and persists the catalog without it.
    pub fn remove_function(&self, name: &str) -> Result<CatalogFunction> {
        let mut state = self.write();
        let function = state.functions.remove(name).ok_or_else(|| {
            SluiceError::coded(
                crate::error::sqlstate::UNDEFINED_FUNCTION,
                format!("function {name} does not exist"),
            )
        })?;
        if let Err(e) = self.persist(&state) {
            state.functions.insert(name.to_string(), function);
            return Err(e);
        }
        Ok(function)
    }

    /// The function named `name`, if any.
    pub fn function(&self, name: &str) -> Option<CatalogFunction> {
        self.read().functions.get(name).cloned()
    }

    /// Whether any function exists (statements skip inlining otherwise).
    pub fn has_functions(&self) -> bool {
        !self.read().functions.is_empty()
    }

    /// Every function, ordered by name.
    pub fn functions(&self) -> Vec<CatalogFunction> {
        self.read().functions.values().cloned().collect()
    }

    /// Every object name, ordered.
    pub fn names(&self) -> Vec<String> {
        self.read().relations.keys().cloned().collect()
    }

    fn persist(&self, state: &CatalogState) -> Result<()> {
        let mut entries: Vec<CatalogEntry> = state
            .relations
            .values()
            .map(|r| r.entry().clone())
            .chain(state.models.values().map(|m| m.entry.clone()))
            .chain(state.sinks.values().map(|s| s.entry().clone()))
            .chain(state.functions.values().map(|f| f.entry.clone()))
            .collect();
        entries.sort_by_key(|e| e.id);
        let file = CatalogFile {
            next_id: state.next_id,
            entries,
        };
        let bytes = serde_json::to_vec_pretty(&file)
            .map_err(|e| SluiceError::Internal(format!("catalog encoding: {e}")))?;
        write_atomically(&self.path, &bytes)
    }
}
