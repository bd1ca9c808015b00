//! SQL column types Sluice stores, and their Arrow representation.
//!
//! | SQL                                   | Arrow                          |
//! |---------------------------------------|--------------------------------|
//! | `BOOLEAN`                             | `Boolean`                      |
//! | `SMALLINT` / `INT` / `BIGINT`         | `Int16` / `Int32` / `Int64`    |
//! | `REAL` / `DOUBLE PRECISION`           | `Float32` / `Float64`          |
//! | `NUMERIC(p, s)`, p ≤ 38               | `Decimal128(p, s)`             |
//! | `NUMERIC(p, s)`, p ≤ 76 (`NUMERIC`: 76, 10) | `Decimal256(p, s)`       |
//! | `TEXT`, `VARCHAR[(n)]`                | `Utf8`                         |
//! | `BYTEA`                               | `Binary`                       |
//! | `DATE`                                | `Date32`                       |
//! | `TIMESTAMP`                           | `Timestamp(µs)`                |
//! | `TIMESTAMPTZ`                         | `Timestamp(µs, UTC)`           |
//! | `INTERVAL`                            | `Interval(MonthDayNano)`       |
//! | `T[]` for any `T` above but arrays    | `List(T)`                      |

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, IntervalUnit, TimeUnit};
use datafusion::sql::sqlparser::ast::{
    ArrayElemTypeDef, DataType as SqlType, ExactNumberInfo, TimezoneInfo,
};

use crate::error::{Result, SluiceError};

/// Precision and scale of an unconstrained `NUMERIC`: 66 digits before the point, so
/// that products and sums of products of ordinary amounts do not overflow (a product's
/// scale is the sum of its operands' scales, as in PostgreSQL).
pub const DEFAULT_NUMERIC: (u8, i8) = (76, 10);
/// The largest precision of a `NUMERIC(p, s)` held in 128 bits; wider ones take 256.
const NARROW_NUMERIC_PRECISION: u8 = 38;
/// Time zone Sluice attaches to `TIMESTAMPTZ` values (they are stored as UTC instants).
pub const UTC: &str = "+00:00";

/// Maps a column type written in SQL to the Arrow type Sluice stores it as.
pub fn arrow_type(sql: &SqlType) -> Result<DataType> {
    use SqlType as S;
    let unsupported = || {
        SluiceError::not_supported(format!(
            "type {sql} is not supported; see docs/sql.md for the supported column types"
        ))
    };
    Ok(match sql {
        S::Bool | S::Boolean => DataType::Boolean,
        S::SmallInt(_) | S::Int2(_) => DataType::Int16,
        S::Int(_) | S::Integer(_) | S::Int4(_) => DataType::Int32,
        S::BigInt(_) | S::Int8(_) => DataType::Int64,
        S::Real | S::Float4 => DataType::Float32,
        S::DoublePrecision | S::Float8 | S::Double(ExactNumberInfo::None) => DataType::Float64,
        S::Float(info) => match info {
            ExactNumberInfo::Precision(p) | ExactNumberInfo::PrecisionAndScale(p, _)
                if *p <= 24 =>
            {
                DataType::Float32
            }
            _ => DataType::Float64,
        },
        S::Numeric(info) | S::Decimal(info) | S::Dec(info) => numeric(info)?,
        S::Text | S::String(None) | S::Varchar(_) | S::CharacterVarying(_) | S::CharVarying(_) => {
            DataType::Utf8
        }
        S::Bytea => DataType::Binary,
        S::Date => DataType::Date32,
        S::Timestamp(_, tz) => match tz {
            TimezoneInfo::None | TimezoneInfo::WithoutTimeZone => {
                DataType::Timestamp(TimeUnit::Microsecond, None)
            }
            TimezoneInfo::WithTimeZone | TimezoneInfo::Tz => {
                DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into()))
            }
        },
        S::Interval { .. } => DataType::Interval(IntervalUnit::MonthDayNano),
        S::Array(elem) => {
            let inner = match elem {
                ArrayElemTypeDef::SquareBracket(t, _) | ArrayElemTypeDef::AngleBracket(t) => t,
                ArrayElemTypeDef::Parenthesis(t) => t,
                ArrayElemTypeDef::None => return Err(unsupported()),
            };
            let inner = arrow_type(inner)?;
            if matches!(inner, DataType::List(_)) {
                return Err(SluiceError::not_supported(
                    "multi-dimensional arrays are not supported",
                ));
            }
            DataType::List(Arc::new(Field::new_list_field(inner, true)))
        }
        S::Custom(name, modifiers) if modifiers.is_empty() => {
            match name.to_string().to_ascii_lowercase().as_str() {
                "timestamptz" => DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into())),
                "float4" => DataType::Float32,
                "float8" => DataType::Float64,
                "int2" => DataType::Int16,
                "int4" => DataType::Int32,
                "int8" => DataType::Int64,
                "bool" => DataType::Boolean,
                _ => return Err(unsupported()),
            }
        }
        _ => return Err(unsupported()),
    })
}

fn numeric(info: &ExactNumberInfo) -> Result<DataType> {
    let (precision, scale) = match info {
        ExactNumberInfo::None => DEFAULT_NUMERIC,
        ExactNumberInfo::Precision(p) => (narrow(*p)?, 0),
        ExactNumberInfo::PrecisionAndScale(p, s) => (narrow(*p)?, narrow_scale(*s)?),
    };
    let widest = DEFAULT_NUMERIC.0;
    if precision == 0 || precision > widest {
        return Err(SluiceError::coded(
            crate::error::sqlstate::INVALID_PARAMETER_VALUE,
            format!("NUMERIC precision {precision} must be between 1 and {widest}"),
        ));
    }
    if scale < 0 || scale as u8 > precision {
        return Err(SluiceError::coded(
            crate::error::sqlstate::INVALID_PARAMETER_VALUE,
            format!("NUMERIC scale {scale} must be between 0 and precision {precision}"),
        ));
    }
    Ok(if precision <= NARROW_NUMERIC_PRECISION {
        DataType::Decimal128(precision, scale)
    } else {
        DataType::Decimal256(precision, scale)
    })
}

fn narrow(p: u64) -> Result<u8> {
    u8::try_from(p).map_err(|_| SluiceError::not_supported(format!("NUMERIC precision {p}")))
}

fn narrow_scale(s: i64) -> Result<i8> {
    i8::try_from(s).map_err(|_| SluiceError::not_supported(format!("NUMERIC scale {s}")))
}

/// `data_type`, or where arrow-pg does not know it (which PostgreSQL type a column or
/// parameter has) one it knows of the same PostgreSQL type: a 256-bit decimal is a
/// `numeric` as a 128-bit one is.
pub fn arrow_pg_type(data_type: &DataType) -> DataType {
    match data_type {
        DataType::Decimal256(_, scale) => DataType::Decimal128(NARROW_NUMERIC_PRECISION, *scale),
        DataType::List(element) => DataType::List(Arc::new(
            element
                .as_ref()
                .clone()
                .with_data_type(arrow_pg_type(element.data_type())),
        )),
        other => other.clone(),
    }
}

/// The Postgres name of a stored Arrow type, as `DESCRIBE` and error messages show it.
pub fn sql_name(data_type: &DataType) -> String {
    match data_type {
        DataType::Boolean => "boolean".into(),
        DataType::Int16 => "smallint".into(),
        DataType::Int32 => "integer".into(),
        DataType::Int64 => "bigint".into(),
        DataType::Float32 => "real".into(),
        DataType::Float64 => "double precision".into(),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => format!("numeric({p},{s})"),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "text".into(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "bytea".into(),
        DataType::Date32 => "date".into(),
        DataType::Timestamp(_, None) => "timestamp without time zone".into(),
        DataType::Timestamp(_, Some(_)) => "timestamp with time zone".into(),
        DataType::Interval(_) => "interval".into(),
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            format!("{}[]", sql_name(f.data_type()))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn parse(sql_type: &str) -> SqlType {
        let sql = format!("CREATE TABLE t (c {sql_type})");
        let stmt = Parser::parse_sql(&PostgreSqlDialect {}, &sql)
            .unwrap()
            .remove(0);
        match stmt {
            datafusion::sql::sqlparser::ast::Statement::CreateTable(ct) => {
                ct.columns[0].data_type.clone()
            }
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn every_documented_type_maps() {
        let cases = [
            ("boolean", DataType::Boolean),
            ("int2", DataType::Int16),
            ("integer", DataType::Int32),
            ("bigint", DataType::Int64),
            ("real", DataType::Float32),
            ("float8", DataType::Float64),
            ("double precision", DataType::Float64),
            ("numeric(10,2)", DataType::Decimal128(10, 2)),
            ("numeric", DataType::Decimal256(76, 10)),
            ("numeric(40,2)", DataType::Decimal256(40, 2)),
            ("varchar(20)", DataType::Utf8),
            ("text", DataType::Utf8),
            ("bytea", DataType::Binary),
            ("date", DataType::Date32),
            (
                "timestamp",
                DataType::Timestamp(TimeUnit::Microsecond, None),
            ),
            (
                "timestamptz",
                DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into())),
            ),
            (
                "timestamp with time zone",
                DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into())),
            ),
            ("interval", DataType::Interval(IntervalUnit::MonthDayNano)),
        ];
        for (sql, expected) in cases {
            assert_eq!(arrow_type(&parse(sql)).unwrap(), expected, "{sql}");
        }
        for sql in ["float4[]", "float8[]", "bigint[]", "text[]"] {
            assert!(
                matches!(arrow_type(&parse(sql)).unwrap(), DataType::List(_)),
                "{sql}"
            );
        }
    }

    #[test]
    fn unsupported_types_say_so() {
        for sql in ["uuid", "json", "numeric(77,2)", "numeric(5,6)"] {
            let err = arrow_type(&parse(sql)).unwrap_err();
            assert!(
                err.sqlstate() == "0A000" || err.sqlstate() == "22023",
                "{sql}"
            );
        }
    }
}
