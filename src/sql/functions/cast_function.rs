//! A cast done by a function of Sluice's own: PostgreSQL's input and output functions
//! where Arrow's casts read or write values otherwise (`byteain`, `interval_in`, text
//! output, integer rounding).
//!
//! Analyzer rules replace a `CAST` by a [`CastFunction`] call; the call keeps the
//! cast's column name (its operand's, as DataFusion names a cast), so replacing a cast
//! never renames a column.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

/// Converts one column of values: the same number of rows, of the function's type.
pub type Convert = Arc<dyn Fn(&ArrayRef) -> Result<ArrayRef> + Send + Sync>;

/// A one-argument function of type `output` that converts its argument's values with
/// `convert`. Two are the same function when their names and types are: a name stands
/// for one conversion to a type.
pub struct CastFunction {
    name: &'static str,
    output: DataType,
    convert: Convert,
    signature: Signature,
}

impl CastFunction {
    /// The function named `name`, of type `output`, converting with `convert`.
    pub fn udf(
        name: &'static str,
        output: DataType,
        convert: impl Fn(&ArrayRef) -> Result<ArrayRef> + Send + Sync + 'static,
    ) -> ScalarUDF {
        ScalarUDF::new_from_impl(CastFunction {
            name,
            output,
            convert: Arc::new(convert),
            signature: Signature::any(1, Volatility::Immutable),
        })
    }
}

impl fmt::Debug for CastFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CastFunction")
            .field("name", &self.name)
            .field("output", &self.output)
            .finish_non_exhaustive()
    }
}

impl PartialEq for CastFunction {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.output == other.output
    }
}

impl Eq for CastFunction {}

impl Hash for CastFunction {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
        self.output.hash(state);
    }
}

impl ScalarUDFImpl for CastFunction {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The name of the cast it replaces: its operand's.
    fn schema_name(&self, args: &[Expr]) -> Result<String> {
        Ok(super::cast_column_name(args, self.name))
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.output.clone())
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let nullable = args.arg_fields.iter().any(|f| f.is_nullable());
        Ok(Arc::new(Field::new(
            self.name,
            self.output.clone(),
            nullable,
        )))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        super::convert_values(&args.args, self.name, self.convert.as_ref())
    }
}
