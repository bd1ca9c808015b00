//! The size functions psql's `\dt+`, `\di+`, `\l+` call: `pg_relation_size(relation
//! [, fork])`, `pg_table_size`, `pg_indexes_size`, `pg_total_relation_size` and
//! `pg_database_size(name | oid)`, in bytes of Sluice's files in the data directory:
//!
//! ```text
//!  table              tables/<id>/                  write-ahead log and snapshot
//!  materialized view  checkpoints/views/<id>-<n>/   its checkpointed state (runs)
//!  primary key index  no file: rebuilt in memory from the table at start    → 0
//!  source             no file: its rows come from outside (a foreign table) → 0
//!  system relation    no file: built from the catalog when read             → 0
//!  database           every file under the data directory
//! ```
//!
//! A table has no other files (no TOAST, free space map or visibility map) and its
//! index none, so `pg_relation_size`, `pg_table_size` and `pg_total_relation_size`
//! agree and `pg_indexes_size` is 0. A relation named by an OID that names none gives
//! NULL, as in PostgreSQL; by a name that names none, `42P01`.

use std::sync::Arc;

use datafusion::arrow::array::Int64Array;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::objects::{PgRelation, RelKind};
use super::regtypes::RelationNames;
use super::{PgObjects, database};
use crate::catalog::Relation;
use crate::dataflow::checkpoints::Manifest;
use crate::error::{SluiceError, sqlstate};
use crate::sql::functions::no_such_function;
use crate::storage::files::bytes_under;

/// The functions, answering from `objects`.
pub fn all(objects: Arc<PgObjects>) -> Vec<ScalarUDF> {
    [
        "pg_relation_size",
        "pg_table_size",
        "pg_indexes_size",
        "pg_total_relation_size",
        "pg_database_size",
    ]
    .into_iter()
    .map(|name| {
        ScalarUDF::new_from_impl(SizeFunction {
            name,
            objects: objects.clone(),
            signature: Signature::user_defined(Volatility::Volatile),
        })
    })
    .collect()
}

#[derive(Debug)]
struct SizeFunction {
    name: &'static str,
    objects: Arc<PgObjects>,
    signature: Signature,
}

impl PartialEq for SizeFunction {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && Arc::ptr_eq(&self.objects, &other.objects)
    }
}

impl Eq for SizeFunction {}

impl std::hash::Hash for SizeFunction {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

/// One argument of a row.
enum Arg {
    Oid(i64),
    Name(String),
}

impl ScalarUDFImpl for SizeFunction {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    /// An OID (any integer) or a name (text); `pg_relation_size`'s fork is text.
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let max = if self.name == "pg_relation_size" {
            2
        } else {
            1
        };
        let coerced: Option<Vec<DataType>> = arg_types
            .iter()
            .enumerate()
            .map(|(i, t)| match t {
                t if i == 0 && (t.is_integer() || t.is_null()) => Some(DataType::Int64),
                DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 | DataType::Null => {
                    Some(DataType::Utf8)
                }
                _ => None,
            })
            .collect();
        match coerced {
            Some(types) if !types.is_empty() && types.len() <= max => Ok(types),
            _ => Err(no_such_function(self.name, arg_types)),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let user = self.objects.user_relations();
        let mut sizes = Vec::with_capacity(args.number_rows);
        for row in 0..args.number_rows {
            let mut row_args = Vec::with_capacity(arrays.len());
            for array in &arrays {
                match ScalarValue::try_from_array(array, row)? {
                    ScalarValue::Int64(Some(n)) => row_args.push(Arg::Oid(n)),
                    ScalarValue::Utf8(Some(text)) => row_args.push(Arg::Name(text)),
                    _ => break,
                }
            }
            // Strict, as PostgreSQL's: NULL in, NULL out.
            sizes.push(if row_args.len() < arrays.len() {
                None
            } else {
                self.size(&user, &row_args).map_err(external)?
            });
        }
        Ok(ColumnarValue::Array(Arc::new(Int64Array::from(sizes))))
    }
}

impl SizeFunction {
    /// The answer for one row's arguments.
    fn size(&self, user: &[PgRelation], args: &[Arg]) -> crate::error::Result<Option<i64>> {
        let data_dir = self.objects.catalog.data_dir();
        if self.name == "pg_database_size" {
            let exists = match &args[0] {
                Arg::Oid(oid) => database::DATABASES
                    .iter()
                    .any(|(o, _)| i64::from(*o) == *oid),
                Arg::Name(name) if database::named(name).is_none() => {
                    return Err(undefined_database(name));
                }
                Arg::Name(_) => true,
            };
            return exists.then(|| to_i64(bytes_under(data_dir)?)).transpose();
        }
        let oid = match &args[0] {
            Arg::Oid(oid) => i32::try_from(*oid).ok(),
            // A name is read as PostgreSQL's `regclass` input reads it (these functions
            // take a regclass): `pg_catalog`, then `public`.
            Arg::Name(name) => Some(RelationNames::over(&self.objects, user).oid(name)?),
        };
        let fork = match args.get(1) {
            None => "main",
            Some(Arg::Name(fork)) => fork.as_str(),
            Some(Arg::Oid(_)) => "",
        };
        if !["main", "fsm", "vm", "init"].contains(&fork) {
            return Err(SluiceError::coded(
                sqlstate::INVALID_PARAMETER_VALUE,
                "invalid fork name: valid fork names are \"main\", \"fsm\", \"vm\", and \"init\"",
            ));
        }
        let Some(oid) = oid else { return Ok(None) };
        let Some(files) = self.files_of(user, oid) else {
            return Ok(None);
        };
        // Sluice's relations have only a main fork, and indexes no files.
        if fork != "main" || self.name == "pg_indexes_size" {
            return Ok(Some(0));
        }
        let bytes = match files {
            Files::None => 0,
            Files::Table(id) => match self.relation_with_id(id) {
                Some(Relation::Table(table)) => bytes_under(table.store().dir())?,
                _ => 0,
            },
            Files::ViewState(id) => Manifest::state_bytes(&data_dir.join("checkpoints"), id)?,
        };
        to_i64(bytes).map(Some)
    }

    /// Which files relation `oid` has; `None` when no relation has that OID.
    fn files_of(&self, user: &[PgRelation], oid: i32) -> Option<Files> {
        if let Some(relation) = user.iter().find(|r| r.oid == oid) {
            return Some(match (relation.kind, relation.id) {
                (RelKind::Table, Some(id)) => Files::Table(id),
                (RelKind::MaterializedView, Some(id)) => Files::ViewState(id),
                _ => Files::None,
            });
        }
        let is_index = user
            .iter()
            .any(|r| r.primary_key.as_ref().is_some_and(|k| k.index_oid == oid));
        (is_index || self.objects.system.namespace_of(oid).is_some()).then_some(Files::None)
    }

    fn relation_with_id(&self, id: u64) -> Option<Relation> {
        self.objects
            .catalog
            .relations()
            .into_iter()
            .find(|r| r.entry().id == id)
    }
}

/// What on disk belongs to a relation.
enum Files {
    None,
    /// A table's directory, by catalog id.
    Table(u64),
    /// A view's checkpointed state, by catalog id.
    ViewState(u64),
}

fn undefined_database(name: &str) -> SluiceError {
    SluiceError::coded(
        sqlstate::INVALID_CATALOG_NAME,
        format!("database \"{name}\" does not exist"),
    )
}

fn to_i64(bytes: u64) -> crate::error::Result<i64> {
    i64::try_from(bytes).map_err(|_| {
        SluiceError::coded(
            sqlstate::NUMERIC_VALUE_OUT_OF_RANGE,
            format!("a size of {bytes} bytes is out of range for bigint"),
        )
    })
}

fn external(e: SluiceError) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}
