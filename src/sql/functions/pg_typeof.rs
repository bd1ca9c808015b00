//! `pg_typeof(any)`: the PostgreSQL type of its argument, a `regtype` (printed as the
//! type's name, `integer`, `character varying`). A column keeps the type it was
//! declared with (`varchar` columns hold text values); any other value has the type of
//! its values, as the wire protocol reports it.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

use crate::catalog::postgres::objects::type_oid;
use crate::catalog::postgres::regtypes::RegType;
use crate::sql::column_origins::TYPE_OID;

/// The function, to register.
pub fn pg_typeof() -> ScalarUDF {
    ScalarUDF::new_from_impl(PgTypeof {
        signature: Signature::any(1, Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct PgTypeof {
    signature: Signature,
}

/// The OID of the PostgreSQL type of values of `field`.
fn oid_of(field: &Field) -> i32 {
    if let Some(kind) = RegType::of_field(field) {
        return kind.oid() as i32;
    }
    field
        .metadata()
        .get(TYPE_OID)
        .and_then(|oid| oid.parse::<i32>().ok())
        .unwrap_or_else(|| type_oid(field.data_type()))
}

impl ScalarUDFImpl for PgTypeof {
    fn name(&self) -> &str {
        "pg_typeof"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int32)
    }

    fn return_field_from_args(&self, _: ReturnFieldArgs) -> Result<FieldRef> {
        Ok(Arc::new(RegType::Type.field(self.name(), false)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [field] = args.arg_fields.as_slice() else {
            return plan_err!("function pg_typeof takes one argument");
        };
        Ok(ColumnarValue::Scalar(ScalarValue::Int32(Some(oid_of(
            field,
        )))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn declared_types_win_over_the_values_type() {
        let text = Field::new("s", DataType::Utf8, true);
        assert_eq!(oid_of(&text), 25);
        let varchar = text.with_metadata(HashMap::from([(TYPE_OID.to_string(), "1043".into())]));
        assert_eq!(oid_of(&varchar), 1043);
        assert_eq!(oid_of(&RegType::Class.field("c", true)), 2205);
        assert_eq!(
            oid_of(&Field::new("n", DataType::Decimal256(76, 10), true)),
            1700
        );
    }
}
