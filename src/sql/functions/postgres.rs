//! PostgreSQL's versions of built-in functions whose DataFusion versions answer
//! differently, registered in their place (see [`replacements`]).
//!
//! - `upper`, `lower`, `initcap` change ASCII letters only, as PostgreSQL does in the
//!   `C` locale that Sluice reports (`lc_ctype`); DataFusion's use Unicode's full case
//!   mappings (`upper('ß')` is `SS`).
//! - The floating-point functions whose DataFusion versions return `NaN`, an infinity
//!   or 0 where PostgreSQL fails (`ln(0)`, `exp(1000)`, `asin(2)`, `power(-1, 0.5)`)
//!   wrap DataFusion's and fail with PostgreSQL's SQLSTATE and message for those
//!   inputs ([`Domain`]).
//! - `coalesce`, `greatest`, `least` and `ARRAY[...]` over a `double precision` and a
//!   numeric (`coalesce(x, 0.5)`) compute in `double precision`, as PostgreSQL does;
//!   DataFusion's cast the float to a decimal, which turns 1e-300 into 0 and fails on
//!   1e300.
//! - `round(double precision)` rounds halves to even, as PostgreSQL's (C's `rint`) does.
//! - `round`, `trunc`, `ceil` and `floor` of a `numeric` give PostgreSQL's scale
//!   ([`super::numeric_rounding`]).
//! - `lpad`, `rpad` and `repeat` refuse results larger than PostgreSQL can hold (1 GB)
//!   with `54000`, before building them ([`LengthLimited`]); DataFusion's would spend
//!   half a minute and gigabytes on `lpad('x', 2147483647)`.
//! - `array_length(array, dimension)` is NULL for an empty array and for a dimension
//!   the array does not have (Sluice's arrays have one), as PostgreSQL's; DataFusion's
//!   gives 0 for an empty array and also takes a call without the dimension, which
//!   PostgreSQL refuses ([`ArrayLength`]).
//! - `a[i]` (`array_element`) is NULL for a subscript below 1, as PostgreSQL's;
//!   DataFusion's counts negative subscripts from the end ([`Subscript`]).
//! - `x = ANY(array)` (`array_has`) is NULL when nothing matches and the array holds a
//!   NULL, as PostgreSQL's; DataFusion's is false ([`AnyEqual`]).
//! - `to_char(timestamp, text)` reads PostgreSQL's patterns ([`super::to_char`]);
//!   DataFusion's reads chrono's.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int32Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, FieldRef, Float64Type, Int64Type};
use datafusion::common::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};

use crate::error::{SluiceError, sqlstate};
use crate::numeric::Rounding;

/// Names of the functions [`replacements`] registers.
pub const REPLACED: &[&str] = &[
    "upper",
    "lower",
    "initcap",
    "ln",
    "log10",
    "log",
    "exp",
    "power",
    "asin",
    "acos",
    "acosh",
    "atanh",
    "coalesce",
    "greatest",
    "least",
    "round",
    "ceil",
    "floor",
    "trunc",
    "lpad",
    "rpad",
    "repeat",
    "character_length",
    "octet_length",
    "bit_length",
    "array_length",
    "array_element",
    "array_has",
    "to_char",
];

/// The replacements, to register after DataFusion's built-ins (under the same names).
pub fn replacements() -> Vec<ScalarUDF> {
    let case_functions = [AsciiCase::Upper, AsciiCase::Lower, AsciiCase::Initcap]
        .into_iter()
        .map(|case| {
            ScalarUDF::new_from_impl(AsciiCaseFunction {
                case,
                signature: Signature::string(1, Volatility::Immutable),
            })
        });
    let wrapped = datafusion::functions::all_default_functions()
        .into_iter()
        .filter_map(|inner| match inner.name() {
            "coalesce" | "greatest" | "least" => {
                Some(ScalarUDF::new_from_impl(FloatOverNumeric { inner }))
            }
            "round" => Some(super::numeric_rounding::wrap(
                Arc::new(ScalarUDF::new_from_impl(RoundHalfEven { inner })),
                Rounding::HalfAwayFromZero,
            )),
            "ceil" => {
                Some(super::numeric_rounding::wrap(inner, Rounding::Up).with_aliases(["ceiling"]))
            }
            "floor" => Some(super::numeric_rounding::wrap(inner, Rounding::Down)),
            "trunc" => Some(super::numeric_rounding::wrap(inner, Rounding::TowardZero)),
            "lpad" | "rpad" | "repeat" => Some(ScalarUDF::new_from_impl(LengthLimited { inner })),
            "character_length" | "octet_length" | "bit_length" => {
                Some(super::bytea::byte_lengths(inner))
            }
            name => {
                Domain::of(name).map(|domain| ScalarUDF::new_from_impl(Checked { inner, domain }))
            }
        });
    let array_length = ScalarUDF::new_from_impl(ArrayLength {
        signature: Signature::user_defined(Volatility::Immutable),
    });
    let subscript = ScalarUDF::new_from_impl(Subscript {
        inner: datafusion::functions_nested::extract::array_element_udf(),
    });
    let any_equal = ScalarUDF::new_from_impl(AnyEqual {
        inner: datafusion::functions_nested::array_has::array_has_udf(),
    });
    let to_char = ScalarUDF::new_from_impl(super::to_char::ToChar::new());
    case_functions
        .chain(wrapped)
        .chain([array_length, subscript, any_equal, to_char])
        .collect()
}

/// Points the plan's `a[i]` and `ARRAY[...]` at PostgreSQL's versions ([`Subscript`],
/// and `make_array` computing in `double precision` when an element is a float, as
/// [`FloatOverNumeric`] does for `coalesce`): DataFusion plans that syntax with its
/// own `array_element` and `make_array`, not the functions registered under those
/// names.
pub fn use_postgres_versions(
    plan: datafusion::logical_expr::LogicalPlan,
) -> DfResult<datafusion::logical_expr::LogicalPlan> {
    use datafusion::common::tree_node::{Transformed, TreeNode};
    use datafusion::functions_nested::array_has::array_has_udf;
    use datafusion::functions_nested::{extract::array_element_udf, make_array::make_array_udf};
    use datafusion::logical_expr::expr::ScalarFunction;
    static SUBSCRIPT: std::sync::LazyLock<Arc<ScalarUDF>> = std::sync::LazyLock::new(|| {
        Arc::new(ScalarUDF::new_from_impl(Subscript {
            inner: array_element_udf(),
        }))
    });
    static MAKE_ARRAY: std::sync::LazyLock<Arc<ScalarUDF>> = std::sync::LazyLock::new(|| {
        Arc::new(ScalarUDF::new_from_impl(FloatOverNumeric {
            inner: make_array_udf(),
        }))
    });
    static ANY_EQUAL: std::sync::LazyLock<Arc<ScalarUDF>> = std::sync::LazyLock::new(|| {
        Arc::new(ScalarUDF::new_from_impl(AnyEqual {
            inner: array_has_udf(),
        }))
    });
    let built_in = |func: &ScalarUDF, original: &Arc<ScalarUDF>| {
        let implementation: &dyn std::any::Any = func.inner().as_ref();
        let original: &dyn std::any::Any = original.inner().as_ref();
        implementation.type_id() == original.type_id()
    };
    let rewritten = plan.transform_up_with_subqueries(|node| {
        node.map_expressions(|expr| {
            expr.transform_up(|expr| match expr {
                Expr::ScalarFunction(call) if built_in(&call.func, &array_element_udf()) => {
                    Ok(Transformed::yes(Expr::ScalarFunction(
                        ScalarFunction::new_udf(SUBSCRIPT.clone(), call.args),
                    )))
                }
                Expr::ScalarFunction(call) if built_in(&call.func, &array_has_udf()) => {
                    Ok(Transformed::yes(Expr::ScalarFunction(
                        ScalarFunction::new_udf(ANY_EQUAL.clone(), call.args),
                    )))
                }
                Expr::ScalarFunction(call) if built_in(&call.func, &make_array_udf()) => {
                    Ok(Transformed::yes(Expr::ScalarFunction(
                        ScalarFunction::new_udf(MAKE_ARRAY.clone(), call.args),
                    )))
                }
                other => Ok(Transformed::no(other)),
            })
        })
    })?;
    Ok(rewritten.data)
}

/// `array_length(array, dimension)`. See the module docs.
#[derive(Debug, PartialEq, Eq, Hash)]
struct ArrayLength {
    signature: Signature,
}

impl ScalarUDFImpl for ArrayLength {
    fn name(&self) -> &str {
        "array_length"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        match arg_types {
            [array, dimension]
                if matches!(
                    array,
                    DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..)
                ) && (dimension.is_integer() || dimension == &DataType::Null) =>
            {
                Ok(vec![array.clone(), DataType::Int64])
            }
            _ => {
                let types: Vec<String> =
                    arg_types.iter().map(crate::sql::types::sql_name).collect();
                Err(DataFusionError::External(Box::new(SluiceError::coded(
                    sqlstate::UNDEFINED_FUNCTION,
                    format!(
                        "function array_length({}) does not exist: it takes an array and a \
                         dimension, array_length(array, 1)",
                        types.join(", ")
                    ),
                ))))
            }
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Int32)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let field = Arc::new(datafusion::arrow::datatypes::Field::new_list_field(
            DataType::Null,
            true,
        ));
        // Only the lengths matter: any list type, its items as they are.
        let item = match arrays[0].data_type() {
            DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => f.clone(),
            _ => field,
        };
        let lists = cast(&arrays[0], &DataType::List(item))?;
        let lists = lists.as_list::<i32>();
        let dimensions = arrays[1].as_primitive::<Int64Type>();
        let lengths: Int32Array = (0..lists.len())
            .map(|row| {
                if lists.is_null(row) || dimensions.is_null(row) || dimensions.value(row) != 1 {
                    return None;
                }
                Some(lists.value_length(row)).filter(|length| *length > 0)
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(lengths)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum AsciiCase {
    Upper,
    Lower,
    Initcap,
}

impl AsciiCase {
    fn name(self) -> &'static str {
        match self {
            AsciiCase::Upper => "upper",
            AsciiCase::Lower => "lower",
            AsciiCase::Initcap => "initcap",
        }
    }

    fn apply(self, text: &str) -> String {
        match self {
            AsciiCase::Upper => text.to_ascii_uppercase(),
            AsciiCase::Lower => text.to_ascii_lowercase(),
            AsciiCase::Initcap => {
                // A word is a run of ASCII letters and digits (in the C locale, every
                // other character separates words); its first letter is upper case.
                let mut in_word = false;
                text.chars()
                    .map(|c| {
                        let first = !in_word;
                        in_word = c.is_ascii_alphanumeric();
                        if first {
                            c.to_ascii_uppercase()
                        } else {
                            c.to_ascii_lowercase()
                        }
                    })
                    .collect()
            }
        }
    }
}

/// `upper`, `lower` or `initcap` in the C locale. See the module docs.
#[derive(Debug, PartialEq, Eq, Hash)]
struct AsciiCaseFunction {
    case: AsciiCase,
    signature: Signature,
}

impl ScalarUDFImpl for AsciiCaseFunction {
    fn name(&self) -> &str {
        self.case.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let text = cast(&arrays[0], &DataType::Utf8)?;
        let result: StringArray = text
            .as_string::<i32>()
            .iter()
            .map(|value| value.map(|v| self.case.apply(v)))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(result)))
    }
}

/// Inputs (and results) for which PostgreSQL fails, by function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Domain {
    /// `ln`, `log10`, `log`: zero and negative numbers have no logarithm.
    Logarithm,
    /// `exp`: results beyond the range of `double precision` (infinite or 0).
    Exp,
    /// `power(a, b)`: 0 to a negative power, a negative number to a fractional one,
    /// results beyond the range of `double precision`.
    Power,
    /// `asin`, `acos`, `atanh`: arguments outside [-1, 1].
    UnitInterval,
    /// `acosh`: arguments below 1.
    AtLeastOne,
}

impl Domain {
    fn of(name: &str) -> Option<Domain> {
        Some(match name {
            "ln" | "log10" | "log" => Domain::Logarithm,
            "exp" => Domain::Exp,
            "power" => Domain::Power,
            "asin" | "acos" | "atanh" => Domain::UnitInterval,
            "acosh" => Domain::AtLeastOne,
            _ => return None,
        })
    }

    /// PostgreSQL's error for arguments `args` (the row's values) when DataFusion's
    /// result is `result`, if PostgreSQL fails there.
    fn error(self, args: &[f64], result: f64) -> Option<SluiceError> {
        use sqlstate::{
            DIVISION_BY_ZERO, INVALID_ARGUMENT_FOR_LOGARITHM, INVALID_ARGUMENT_FOR_POWER_FUNCTION,
            NUMERIC_VALUE_OUT_OF_RANGE,
        };
        if args.iter().any(|a| a.is_nan()) {
            return None; // NaN in, NaN out, as in PostgreSQL.
        }
        let finite = args.iter().all(|a| a.is_finite());
        let fail = |code, message: &str| Some(SluiceError::coded(code, message));
        match self {
            Domain::Logarithm if args.contains(&0.0) => fail(
                INVALID_ARGUMENT_FOR_LOGARITHM,
                "cannot take logarithm of zero",
            ),
            Domain::Logarithm if args.iter().any(|a| *a < 0.0) => fail(
                INVALID_ARGUMENT_FOR_LOGARITHM,
                "cannot take logarithm of a negative number",
            ),
            // log(1, x) divides by ln(1) = 0.
            Domain::Logarithm if args.len() == 2 && args[0] == 1.0 => {
                fail(DIVISION_BY_ZERO, "division by zero")
            }
            Domain::Power if args[0] == 0.0 && args[1] < 0.0 => fail(
                INVALID_ARGUMENT_FOR_POWER_FUNCTION,
                "zero raised to a negative power is undefined",
            ),
            Domain::Power if args[0] < 0.0 && args[1].is_finite() && args[1].fract() != 0.0 => {
                fail(
                    INVALID_ARGUMENT_FOR_POWER_FUNCTION,
                    "a negative number raised to a non-integer power yields a complex result",
                )
            }
            Domain::Exp | Domain::Power if finite && result.is_infinite() => {
                fail(NUMERIC_VALUE_OUT_OF_RANGE, "value out of range: overflow")
            }
            // exp(x) and a nonzero base to a finite power are never 0: a 0 underflowed.
            Domain::Exp | Domain::Power if finite && result == 0.0 && args[0] != 0.0 => {
                fail(NUMERIC_VALUE_OUT_OF_RANGE, "value out of range: underflow")
            }
            Domain::UnitInterval if args[0].abs() > 1.0 => {
                fail(NUMERIC_VALUE_OUT_OF_RANGE, "input is out of range")
            }
            Domain::AtLeastOne if args[0] < 1.0 => {
                fail(NUMERIC_VALUE_OUT_OF_RANGE, "input is out of range")
            }
            _ => None,
        }
    }
}

/// The `ScalarUDFImpl` methods of a wrapper that only checks the built-in it wraps
/// (`self.inner`): its name, aliases, signature, coercions and return type.
macro_rules! same_signature_as_inner {
    () => {
        fn name(&self) -> &str {
            self.inner.name()
        }

        fn aliases(&self) -> &[String] {
            self.inner.aliases()
        }

        fn signature(&self) -> &Signature {
            self.inner.signature()
        }

        fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
            self.inner.coerce_types(arg_types)
        }

        fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
            self.inner.return_type(arg_types)
        }
    };
}

/// `array_element` (`a[i]`). See the module docs.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Subscript {
    inner: Arc<ScalarUDF>,
}

impl ScalarUDFImpl for Subscript {
    same_signature_as_inner!();

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> DfResult<FieldRef> {
        self.inner.return_field_from_args(args)
    }

    fn invoke_with_args(&self, mut args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        // Subscripts below 1 become 0, which DataFusion answers with NULL.
        if let Some(index) = args.args.get_mut(1) {
            let indexes = cast(&index.to_array(args.number_rows)?, &DataType::Int64)?;
            let indexes: datafusion::arrow::array::Int64Array = indexes
                .as_primitive::<Int64Type>()
                .unary(|i| if i < 1 { 0 } else { i });
            *index = ColumnarValue::Array(Arc::new(indexes));
        }
        self.inner.invoke_with_args(args)
    }
}

/// `array_has(array, x)`, as DataFusion plans `x = ANY(array)`, with PostgreSQL's
/// three-valued answer: NULL (not false) when there is no match and the array holds a
/// NULL, NULL for a NULL `x` or array.
#[derive(Debug, PartialEq, Eq, Hash)]
struct AnyEqual {
    inner: Arc<ScalarUDF>,
}

impl ScalarUDFImpl for AnyEqual {
    same_signature_as_inner!();

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let rows = args.number_rows;
        let (Some(arrays), Some(needles)) = (args.args.first(), args.args.get(1)) else {
            return self.inner.invoke_with_args(args);
        };
        let arrays = arrays.to_array(rows)?;
        let needles = needles.to_array(rows)?;
        let found = self.inner.invoke_with_args(args)?.to_array(rows)?;
        let found = found.as_boolean();
        let holds_null = |row: usize| -> bool {
            match arrays.data_type() {
                DataType::List(_) => arrays.as_list::<i32>().value(row).null_count() > 0,
                DataType::LargeList(_) => arrays.as_list::<i64>().value(row).null_count() > 0,
                DataType::FixedSizeList(..) => {
                    arrays.as_fixed_size_list().value(row).null_count() > 0
                }
                _ => false,
            }
        };
        let answers: datafusion::arrow::array::BooleanArray = (0..rows)
            .map(|row| {
                if arrays.is_null(row) || needles.is_null(row) || found.is_null(row) {
                    None
                } else if found.value(row) {
                    Some(true)
                } else if holds_null(row) {
                    None
                } else {
                    Some(false)
                }
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(answers)))
    }
}

/// A DataFusion built-in that fails where PostgreSQL's does. See the module docs.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Checked {
    inner: Arc<ScalarUDF>,
    domain: Domain,
}

impl ScalarUDFImpl for Checked {
    same_signature_as_inner!();

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let rows = args.number_rows;
        let inputs = args.args.clone();
        let result = self.inner.invoke_with_args(args)?;
        let as_f64 = |value: &ColumnarValue| -> DfResult<ArrayRef> {
            Ok(cast(&value.to_array(rows)?, &DataType::Float64)?)
        };
        let inputs = inputs.iter().map(as_f64).collect::<DfResult<Vec<_>>>()?;
        let outputs = as_f64(&result)?;
        let outputs = outputs.as_primitive::<Float64Type>();
        let mut row = Vec::with_capacity(inputs.len());
        for i in 0..rows {
            if outputs.is_null(i) {
                continue;
            }
            row.clear();
            row.extend(
                inputs
                    .iter()
                    .map(|a| a.as_primitive::<Float64Type>().value(i)),
            );
            if let Some(error) = self.domain.error(&row, outputs.value(i)) {
                return Err(DataFusionError::External(Box::new(error)));
            }
        }
        Ok(result)
    }
}

/// The largest value PostgreSQL can allocate (`MaxAllocSize`), in bytes.
pub(super) const MAX_ALLOC_BYTES: i128 = 0x3fff_ffff;
/// PostgreSQL's bytes per character in UTF8, which `lpad`/`rpad` reserve per
/// requested character.
const MAX_CHAR_BYTES: i128 = 4;
/// A text value's length word (`VARHDRSZ`), counted by `repeat`.
const LENGTH_WORD_BYTES: i128 = 4;

/// `lpad`, `rpad` or `repeat`, refusing results PostgreSQL refuses as too large
/// (`54000` `requested length too large`) before DataFusion builds them.
#[derive(Debug, PartialEq, Eq, Hash)]
struct LengthLimited {
    inner: Arc<ScalarUDF>,
}

impl LengthLimited {
    /// Whether a row asks for more than PostgreSQL can allocate: `lpad`/`rpad`
    /// reserve 4 bytes per requested character; `repeat` needs the string's bytes
    /// times the count.
    fn too_large(&self, text_bytes: i128, count: i128) -> bool {
        match self.inner.name() {
            "repeat" => text_bytes * count.max(0) + LENGTH_WORD_BYTES > MAX_ALLOC_BYTES,
            _ => count * MAX_CHAR_BYTES > MAX_ALLOC_BYTES,
        }
    }
}

impl ScalarUDFImpl for LengthLimited {
    same_signature_as_inner!();

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let rows = args.number_rows;
        if let [text, count, rest @ ..] = args.args.as_slice() {
            let counts = cast(&count.to_array(rows)?, &DataType::Int64)?;
            let counts = counts.as_primitive::<Int64Type>();
            let text = cast(&text.to_array(rows)?, &DataType::Utf8)?;
            let text = text.as_string::<i32>();
            let rest = rest
                .iter()
                .map(|arg| arg.to_array(rows))
                .collect::<DfResult<Vec<_>>>()?;
            // The functions are strict: a row with a NULL argument is NULL, never an
            // error.
            let strict = |row: usize| {
                counts.is_valid(row) && text.is_valid(row) && rest.iter().all(|a| a.is_valid(row))
            };
            for row in (0..rows).filter(|&row| strict(row)) {
                let bytes = text.value(row).len() as i128;
                if self.too_large(bytes, i128::from(counts.value(row))) {
                    let error = SluiceError::coded(
                        sqlstate::PROGRAM_LIMIT_EXCEEDED,
                        "requested length too large",
                    );
                    return Err(DataFusionError::External(Box::new(error)));
                }
            }
        }
        self.inner.invoke_with_args(args)
    }
}

/// `coalesce`, `greatest`, `least` or `make_array`, computing in `double precision`
/// when any argument is a float. See the module docs.
#[derive(Debug, PartialEq, Eq, Hash)]
struct FloatOverNumeric {
    inner: Arc<ScalarUDF>,
}

impl ScalarUDFImpl for FloatOverNumeric {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    /// PostgreSQL's resolution for numbers: `double precision` when one is (the
    /// preferred type), else `real` when one is (integers and numerics convert to it
    /// implicitly), else DataFusion's.
    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        let numeric = |t: &DataType| t.is_numeric() || t.is_null();
        let float = [DataType::Float64, DataType::Float32]
            .into_iter()
            .find(|float| arg_types.contains(float));
        match float {
            Some(float) if arg_types.iter().all(numeric) => Ok(vec![float; arg_types.len()]),
            _ => self.inner.coerce_types(arg_types),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        self.inner.return_type(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> DfResult<FieldRef> {
        self.inner.return_field_from_args(args)
    }

    fn short_circuits(&self) -> bool {
        self.inner.short_circuits()
    }

    // DataFusion evaluates coalesce as the CASE its simplification writes (after the
    // arguments were coerced by `coerce_types` above).
    fn simplify(&self, args: Vec<Expr>, info: &SimplifyContext) -> DfResult<ExprSimplifyResult> {
        self.inner.inner().simplify(args, info)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        self.inner.invoke_with_args(args)
    }
}

/// `round`, rounding a `double precision` half to even. See the module docs.
#[derive(Debug, PartialEq, Eq, Hash)]
struct RoundHalfEven {
    inner: Arc<ScalarUDF>,
}

impl ScalarUDFImpl for RoundHalfEven {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        self.inner.return_type(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> DfResult<FieldRef> {
        self.inner.return_field_from_args(args)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let [value] = args.args.as_slice() else {
            return self.inner.invoke_with_args(args);
        };
        if value.data_type() != DataType::Float64 {
            return self.inner.invoke_with_args(args);
        }
        let values = value.to_array(args.number_rows)?;
        let rounded: Float64Array = values
            .as_primitive::<Float64Type>()
            .unary(f64::round_ties_even);
        Ok(ColumnarValue::Array(Arc::new(rounded)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_functions_change_ascii_letters_only() {
        assert_eq!(AsciiCase::Upper.apply("straße ǅx"), "STRAßE ǅX");
        assert_eq!(AsciiCase::Lower.apply("ÄbC"), "Äbc");
        assert_eq!(
            AsciiCase::Initcap.apply("ÄbC ßtraßE hello_wORLD"),
            "ÄBc ßTraßE Hello_World"
        );
    }

    #[test]
    fn domains_fail_where_postgres_fails() {
        let code = |domain: Domain, args: &[f64], result: f64| {
            domain.error(args, result).map(|e| e.sqlstate())
        };
        assert_eq!(
            code(Domain::Logarithm, &[0.0], f64::NEG_INFINITY),
            Some("2201E")
        );
        assert_eq!(code(Domain::Logarithm, &[-1.0], f64::NAN), Some("2201E"));
        assert_eq!(
            code(Domain::Logarithm, &[1.0, 8.0], f64::INFINITY),
            Some("22012")
        );
        assert_eq!(code(Domain::Logarithm, &[2.0], 0.69), None);
        assert_eq!(code(Domain::Exp, &[1000.0], f64::INFINITY), Some("22003"));
        assert_eq!(code(Domain::Exp, &[-1e6], 0.0), Some("22003"));
        assert_eq!(code(Domain::Exp, &[f64::NEG_INFINITY], 0.0), None);
        assert_eq!(code(Domain::Power, &[-1.0, 0.5], f64::NAN), Some("2201F"));
        assert_eq!(
            code(Domain::Power, &[0.0, -1.0], f64::INFINITY),
            Some("2201F")
        );
        assert_eq!(code(Domain::Power, &[-2.0, 3.0], -8.0), None);
        assert_eq!(code(Domain::Power, &[0.0, 2.0], 0.0), None);
        assert_eq!(code(Domain::Power, &[1e-300, 2.0], 0.0), Some("22003"));
        assert_eq!(code(Domain::UnitInterval, &[1.5], f64::NAN), Some("22003"));
        assert_eq!(code(Domain::UnitInterval, &[f64::NAN], f64::NAN), None);
        assert_eq!(code(Domain::AtLeastOne, &[0.5], f64::NAN), Some("22003"));
    }

    #[test]
    fn array_length_is_null_for_empty_arrays_and_other_dimensions() {
        use datafusion::arrow::array::ListArray;
        use datafusion::arrow::datatypes::{Field, Int32Type};
        let lists = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(1), None, Some(3)]),
            Some(vec![]),
            None,
            Some(vec![Some(4)]),
        ]);
        let list_type = lists.data_type().clone();
        let dimensions =
            datafusion::arrow::array::Int64Array::from(vec![Some(1), Some(1), Some(1), Some(2)]);
        let function = ArrayLength {
            signature: Signature::user_defined(Volatility::Immutable),
        };
        let args = ScalarFunctionArgs {
            args: vec![
                ColumnarValue::Array(Arc::new(lists)),
                ColumnarValue::Array(Arc::new(dimensions)),
            ],
            arg_fields: vec![
                Arc::new(Field::new("a", list_type, true)),
                Arc::new(Field::new("d", DataType::Int64, true)),
            ],
            number_rows: 4,
            return_field: Arc::new(Field::new("r", DataType::Int32, true)),
            config_options: Arc::new(Default::default()),
        };
        let ColumnarValue::Array(lengths) = function.invoke_with_args(args).unwrap() else {
            panic!("an array");
        };
        let lengths = lengths.as_primitive::<Int32Type>();
        let lengths: Vec<Option<i32>> = lengths.iter().collect();
        assert_eq!(lengths, [Some(3), None, None, None]);
        assert!(function.coerce_types(&[DataType::Int64]).is_err());
    }
}
