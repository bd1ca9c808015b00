//! `pg_get_function_sqlbody(oid)`, which psql's `\df+` calls for every function it
//! lists: PostgreSQL's parsed body of a function written with a SQL-standard body
//! (`RETURN expr`, `BEGIN ATOMIC ... END`), printed back in PostgreSQL's form; NULL for
//! every other function.
//!
//! The built-in functions have no such body: NULL, as in PostgreSQL. Sluice's own
//! SQL functions keep their body as written, not PostgreSQL's parsed form, so
//! PostgreSQL's text (`RETURN (x + 1)`) cannot be given: such a call is refused
//! (`0A000`) rather than answered with another text.

use std::sync::Arc;

use datafusion::arrow::array::StringArray;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::common::cast::as_int64_array;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::{PgObjects, oids};
use crate::error::SluiceError;

/// `pg_get_function_sqlbody`, answering from `objects`' functions.
pub fn udf(objects: Arc<PgObjects>) -> ScalarUDF {
    ScalarUDF::new_from_impl(FunctionSqlBody {
        objects,
        signature: Signature::user_defined(Volatility::Stable),
    })
}

#[derive(Debug)]
struct FunctionSqlBody {
    objects: Arc<PgObjects>,
    signature: Signature,
}

impl PartialEq for FunctionSqlBody {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.objects, &other.objects)
    }
}

impl Eq for FunctionSqlBody {}

impl std::hash::Hash for FunctionSqlBody {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        "pg_get_function_sqlbody".hash(state);
    }
}

impl ScalarUDFImpl for FunctionSqlBody {
    fn name(&self) -> &str {
        "pg_get_function_sqlbody"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [t] if t.is_integer() || t.is_null() => Ok(vec![DataType::Int64]),
            _ => Err(DataFusionError::Plan(format!(
                "function pg_get_function_sqlbody({}) does not exist",
                arg_types.len()
            ))),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let oids = as_int64_array(&arrays[0])?;
        let functions = self.objects.catalog.functions();
        for oid in oids.iter().flatten() {
            if let Some(f) = functions
                .iter()
                .find(|f| i64::from(oids::function(f.entry.id)) == oid)
            {
                return Err(DataFusionError::External(Box::new(
                    SluiceError::not_supported(format!(
                        "pg_get_function_sqlbody() of function {} is not supported: Sluice \
                         keeps a function's body as written, not in PostgreSQL's parsed form",
                        f.function.name
                    )),
                )));
            }
        }
        let nulls: StringArray = (0..oids.len()).map(|_| None::<&str>).collect();
        Ok(ColumnarValue::Array(Arc::new(nulls)))
    }
}
