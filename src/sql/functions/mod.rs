//! Which of DataFusion's built-in scalar functions Sluice accepts.
//!
//! DataFusion's functions are not PostgreSQL's: some share a name but not a result
//! (`to_char` returned its pattern unchanged, `array_remove` removes only the first
//! match), some return `NaN` where PostgreSQL fails. A function that answers differently
//! from PostgreSQL is worse than a refused one, so:
//!
//! - a built-in is accepted only when it is in [`VERIFIED`]: compared with PostgreSQL 15
//!   on a table of tricky inputs by `tests/function_audit.rs`, which covers every name in
//!   the list;
//! - some are replaced by PostgreSQL's version ([`postgres`]), audited the same way;
//! - every other built-in is refused with `0A000`, with the reason from
//!   [`KNOWN_DIFFERENCES`] when there is one.
//!
//! Functions that are not DataFusion's built-ins (Sluice's own, such as `PREDICT`, and
//! the `pg_catalog` functions that clients' metadata queries call) are not affected. The
//! check runs on the plan before the optimizer, which may introduce functions of its own
//! for expressions the user wrote without them.

/// The `AggregateUDFImpl` methods of a wrapper (`self.inner`: the `AggregateUDF` it
/// wraps) that answers as the wrapped aggregate does: name, signature, coercions,
/// types, state, order sensitivity, monotonicity, documentation. Shared by
/// [`checked_sum`] and [`float_extremes`], which differ in their accumulators only.
macro_rules! same_as_inner_aggregate {
    () => {
        fn signature(&self) -> &Signature {
            self.inner.signature()
        }

        fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
            self.inner.coerce_types(arg_types)
        }

        fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
            self.inner.return_type(arg_types)
        }

        same_as_inner_aggregate!(but the types);
    };
    // Everything but the signature, `coerce_types` and `return_type`, which the
    // aggregate defines itself.
    (but the types) => {
        fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
            self.inner.state_fields(args)
        }

        same_as_inner_aggregate!(but the types and states);
    };
    // ... and but `state_fields`.
    (but the types and states) => {
        fn name(&self) -> &str {
            self.inner.name()
        }

        fn order_sensitivity(&self) -> AggregateOrderSensitivity {
            self.inner.order_sensitivity()
        }

        fn set_monotonicity(&self, data_type: &DataType) -> SetMonotonicity {
            self.inner.inner().set_monotonicity(data_type)
        }

        fn documentation(&self) -> Option<&Documentation> {
            self.inner.documentation()
        }
    };
}

pub mod age;
pub mod bytea;
pub mod cast_function;
pub mod checked_sum;
pub mod date_arithmetic;
pub mod expandarray;
pub mod extract;
pub mod float_arithmetic;
pub mod float_extremes;
pub mod float_range;
pub mod format;
pub mod from_char;
pub mod integers;
pub mod interval_arithmetic;
pub mod interval_comparison;
pub mod interval_input;
pub mod interval_keys;
pub mod json;
pub mod justify;
pub mod like_escape;
pub mod numeric_input;
pub mod numeric_rounding;
pub mod pg_typeof;
pub mod postgres;
pub mod quote;
pub mod real_operands;
pub mod serial;
pub mod settings;
pub mod sign;
pub mod signed_ranks;
pub mod similar_to;
pub mod size_pretty;
pub mod subscripts;
pub mod text_casts;
pub mod text_input;
pub mod timestamp_input;
pub mod to_char;
pub mod to_char_number;
pub mod to_timestamp;
pub mod trim_from;
pub mod zone_abbreviations;

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::LazyLock;

use datafusion::arrow::array::ArrayRef;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{DataFusionError, Result as DfResult, ScalarValue};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{ColumnarValue, Expr, LogicalPlan, ScalarUDF};

use crate::error::{Result, SluiceError};

/// Built-in functions whose results match PostgreSQL 15's on the audit's inputs
/// (`tests/function_audit.rs`), by DataFusion's name for them. SQL syntax that DataFusion
/// plans as a function call is covered too: `ARRAY[...]` (`make_array`), `EXTRACT`
/// (`date_part`), `SUBSTRING` (`substr`), `POSITION` (`strpos`), `TRIM` (`btrim`,
/// `ltrim`, `rtrim`), `CURRENT_TIMESTAMP` (`now`), `CURRENT_DATE` (`current_date`).
pub const VERIFIED: &[&str] = &[
    // Conditional expressions (`coalesce`, `greatest`, `least`: see [`postgres`]).
    "nullif",
    "abs",
    "ceil",
    "floor",
    "trunc",
    "sqrt",
    "cbrt",
    "pi",
    "degrees",
    "radians",
    "sin",
    "cos",
    "tan",
    "atan",
    "atan2",
    "sinh",
    "cosh",
    "tanh",
    "asinh",
    "cot",
    "factorial",
    "character_length",
    "octet_length",
    "bit_length",
    "concat",
    "concat_ws",
    "substr",
    "left",
    "right",
    "ltrim",
    "rtrim",
    "btrim",
    "replace",
    "reverse",
    "split_part",
    "strpos",
    "starts_with",
    "ascii",
    "chr",
    "md5",
    "translate",
    "overlay",
    "regexp_replace",
    "regexp_count",
    "regexp_like",
    "regexp_match",
    "string_to_array",
    "encode",
    "decode",
    "sha256",
    "date_trunc",
    "date_part",
    "date_bin",
    "make_date",
    "now",
    "current_date",
    "random",
    "make_array",
    "cardinality",
    "array_to_string",
    "array_append",
    "array_prepend",
    "array_concat",
    "array_position",
    "array_ndims",
];

/// PostgreSQL functions Sluice implements itself where DataFusion has none or another
/// (`EXTRACT`'s planned form, `age`, `to_timestamp(seconds)`, `justify_*`,
/// `pg_typeof`), audited against PostgreSQL as [`VERIFIED`] ones are.
pub const OWN: &[&str] = &[
    extract::EXTRACT,
    "age",
    "format",
    "pg_typeof",
    "to_date",
    "to_timestamp",
    "justify_hours",
    "justify_days",
    "justify_interval",
];

/// DataFusion functions that PostgreSQL does not have, accepted because their results
/// cannot be mistaken for a PostgreSQL function's: `arrow_typeof` names a value's Arrow
/// type (where PostgreSQL has `pg_typeof`). The audit checks that PostgreSQL lacks them.
pub const EXTENSIONS: &[&str] = &["arrow_typeof"];

/// SQL syntax that DataFusion plans as a call of a built-in, with no result of its own
/// to compare: `(composite).field` (`get_field`), as in `(PREDICT(m, ...)).label`.
pub const SYNTAX: &[&str] = &["get_field"];

/// Built-ins known to answer differently from PostgreSQL, with the difference. They are
/// refused with this sentence; the audit test checks that each is refused.
pub const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "gcd",
        "computes integer arguments as bigint, so gcd(-2147483648, -2147483648) is 2147483648 where PostgreSQL fails with 22003",
    ),
    (
        "lcm",
        "computes integer arguments as bigint, so results beyond the integer range do not fail with 22003 as PostgreSQL's do",
    ),
    (
        "to_hex",
        "writes negative integers as 64-bit two's complement (to_hex(-3) is fffffffffffffffd, PostgreSQL's is fffffffd)",
    ),
    (
        "array_remove",
        "removes only the first matching element, PostgreSQL's removes all of them",
    ),
    (
        "array_replace",
        "replaces only the first matching element, PostgreSQL's replaces all of them",
    ),
    (
        "array_dims",
        "returns the lengths as an array ({2}), PostgreSQL's returns bounds as text ([1:2])",
    ),
];

/// DataFusion's built-in scalar functions by name, each with the type that implements
/// it: a function registered later under the same name (Sluice's `version()`,
/// `pg_catalog`'s) has another type and is not a built-in.
static BUILT_INS: LazyLock<HashMap<String, TypeId>> = LazyLock::new(|| {
    datafusion::functions::all_default_functions()
        .into_iter()
        .chain(datafusion::functions_nested::all_default_nested_functions())
        .map(|udf| (udf.name().to_string(), implementation(&udf)))
        .collect()
});

fn implementation(udf: &ScalarUDF) -> TypeId {
    let implementation: &dyn Any = udf.inner().as_ref();
    implementation.type_id()
}

/// Verified functions whose behaviour is chosen by a literal argument, with the
/// argument's position and the values verified: (function, position, values). Other
/// values are refused. DataFusion's `date_part` `second`, `millisecond` and
/// `microsecond` drop the fraction of a second that PostgreSQL's include; its `base64`
/// leaves out the `=` padding.
pub const VERIFIED_ARGUMENTS: &[(&str, usize, &[&str])] = &[
    (
        "date_part",
        0,
        &[
            "year", "quarter", "month", "week", "day", "dow", "isodow", "doy", "hour", "minute",
            "epoch",
        ],
    ),
    ("encode", 1, &["hex"]),
    ("decode", 1, &["hex"]),
];

/// Why a call is refused: a DataFusion built-in that is not verified, or one called
/// with an argument that is not ([`VERIFIED_ARGUMENTS`]).
fn refusal(call: &ScalarFunction) -> Option<String> {
    let name = call.func.name();
    if BUILT_INS.get(name) != Some(&implementation(&call.func)) {
        return None;
    }
    for (function, position, values) in VERIFIED_ARGUMENTS {
        if *function != name {
            continue;
        }
        let shown = match call.args.get(*position)? {
            Expr::Literal(ScalarValue::Utf8(Some(value)), _) => {
                if values.contains(&value.to_ascii_lowercase().as_str()) {
                    return None;
                }
                format!("'{value}'")
            }
            other => other.to_string(),
        };
        return Some(format!(
            "{name}() with {shown} is not supported: DataFusion's differs from PostgreSQL's; \
             the supported values are {}",
            values.join(", ")
        ));
    }
    if VERIFIED.contains(&name) || EXTENSIONS.contains(&name) || SYNTAX.contains(&name) {
        return None;
    }
    Some(
        match KNOWN_DIFFERENCES.iter().find(|(known, _)| *known == name) {
            Some((_, difference)) => {
                format!("function {name}() is not supported: DataFusion's {name}() {difference}")
            }
            None => format!(
                "function {name}() is not supported: its results have not been checked against \
                 PostgreSQL's, and a result that differs would be silently wrong"
            ),
        },
    )
}

/// Refuses (`0A000`) a plan that calls a built-in function not in [`VERIFIED`].
pub fn check_functions(plan: &LogicalPlan) -> Result<()> {
    match first_call(plan, refusal) {
        Some(reason) => Err(SluiceError::not_supported(reason)),
        None => Ok(()),
    }
}

/// The first scalar function call in `plan` (subqueries included) for which `answer`
/// has something to say, and what it said.
pub fn first_call<T>(
    plan: &LogicalPlan,
    mut answer: impl FnMut(&ScalarFunction) -> Option<T>,
) -> Option<T> {
    let mut found = None;
    let _ = plan.apply_with_subqueries(|node| {
        for expr in node.expressions() {
            expr.apply(|e| {
                if let Expr::ScalarFunction(call) = e {
                    found = answer(call);
                }
                Ok(if found.is_some() {
                    TreeNodeRecursion::Stop
                } else {
                    TreeNodeRecursion::Continue
                })
            })?;
            if found.is_some() {
                break;
            }
        }
        Ok(if found.is_some() {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    });
    found
}

/// The planning error for a call no overload of function `name` takes, naming the
/// argument types as PostgreSQL does (`function f(bigint, text) does not exist`).
pub fn no_such_function(
    name: &str,
    arg_types: &[datafusion::arrow::datatypes::DataType],
) -> datafusion::error::DataFusionError {
    let types: Vec<String> = arg_types.iter().map(crate::sql::types::sql_name).collect();
    datafusion::error::DataFusionError::Plan(format!(
        "function {name}({}) does not exist",
        types.join(", ")
    ))
}

/// One argument's values through `convert`: an array as an array, a scalar as a
/// scalar (so a call over constants folds to a constant). For functions of one
/// argument; `name` is the function's, for the error when called otherwise.
pub fn convert_values(
    args: &[ColumnarValue],
    name: &str,
    convert: impl Fn(&ArrayRef) -> DfResult<ArrayRef>,
) -> DfResult<ColumnarValue> {
    match args {
        [ColumnarValue::Array(array)] => convert(array).map(ColumnarValue::Array),
        [ColumnarValue::Scalar(scalar)] => {
            let array = convert(&scalar.to_array()?)?;
            ScalarValue::try_from_array(&array, 0).map(ColumnarValue::Scalar)
        }
        _ => Err(DataFusionError::Internal(format!(
            "{name} takes one argument"
        ))),
    }
}

/// The arguments' values, row by row, through `convert`: when every argument is a
/// scalar, one row and a scalar answer (so a call over constants folds to a
/// constant); else an array. [`convert_values`] for any number of arguments.
pub fn convert_rows(
    args: &[ColumnarValue],
    convert: impl Fn(&[ArrayRef]) -> DfResult<ArrayRef>,
) -> DfResult<ColumnarValue> {
    let scalars = args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
    let values = convert(&ColumnarValue::values_to_arrays(args)?)?;
    if scalars {
        ScalarValue::try_from_array(&values, 0).map(ColumnarValue::Scalar)
    } else {
        Ok(ColumnarValue::Array(values))
    }
}

/// The column name of a cast that a one-argument function replaced: its operand's, as
/// DataFusion names a cast (`name` when called otherwise).
pub fn cast_column_name(args: &[Expr], name: &str) -> String {
    match args {
        [operand] => operand.schema_name().to_string(),
        _ => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_function_is_a_built_in() {
        for name in VERIFIED
            .iter()
            .chain(KNOWN_DIFFERENCES.iter().map(|(name, _)| name))
        {
            assert!(
                BUILT_INS.contains_key(*name),
                "{name} is not a built-in; the built-ins are {:?}",
                {
                    let mut names: Vec<_> = BUILT_INS.keys().collect();
                    names.sort();
                    names
                }
            );
        }
    }

    #[test]
    fn known_differences_are_not_verified() {
        for (name, _) in KNOWN_DIFFERENCES {
            assert!(!VERIFIED.contains(name), "{name} is in both lists");
        }
    }
}
