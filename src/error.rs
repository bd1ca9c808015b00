//! Sluice's error type and its mapping to Postgres SQLSTATE codes.
//!
//! Every fallible path in the server returns [`SluiceError`]. The wire layer
//! (`server`) turns it into an `ErrorResponse` carrying [`SluiceError::sqlstate`],
//! so clients see the same codes PostgreSQL would send for the same mistake.

use datafusion::arrow::error::ArrowError;
use datafusion::common::SchemaError;
use datafusion::error::DataFusionError;
use datafusion::sql::sqlparser::parser::ParserError;

/// Result alias used across Sluice.
pub type Result<T, E = SluiceError> = std::result::Result<T, E>;

/// SQLSTATE codes used by Sluice (a subset of PostgreSQL's appendix A).
pub mod sqlstate {
    pub const SYNTAX_ERROR: &str = "42601";
    pub const UNDEFINED_TABLE: &str = "42P01";
    pub const UNDEFINED_COLUMN: &str = "42703";
    pub const UNDEFINED_FUNCTION: &str = "42883";
    pub const UNDEFINED_OBJECT: &str = "42704";
    pub const INVALID_SCHEMA_NAME: &str = "3F000";
    pub const DUPLICATE_TABLE: &str = "42P07";
    pub const DUPLICATE_COLUMN: &str = "42701";
    pub const AMBIGUOUS_COLUMN: &str = "42702";
    pub const DATATYPE_MISMATCH: &str = "42804";
    pub const INVALID_TEXT_REPRESENTATION: &str = "22P02";
    pub const INVALID_BINARY_REPRESENTATION: &str = "22P03";
    pub const INVALID_DATETIME_FORMAT: &str = "22007";
    pub const NUMERIC_VALUE_OUT_OF_RANGE: &str = "22003";
    pub const DIVISION_BY_ZERO: &str = "22012";
    pub const INVALID_ARGUMENT_FOR_LOGARITHM: &str = "2201E";
    pub const INVALID_ARGUMENT_FOR_POWER_FUNCTION: &str = "2201F";
    pub const DATA_EXCEPTION: &str = "22000";
    pub const NULL_VALUE_NOT_ALLOWED: &str = "22004";
    pub const INVALID_PARAMETER_VALUE: &str = "22023";
    pub const NOT_NULL_VIOLATION: &str = "23502";
    pub const UNIQUE_VIOLATION: &str = "23505";
    pub const FEATURE_NOT_SUPPORTED: &str = "0A000";
    pub const DEPENDENT_OBJECTS_STILL_EXIST: &str = "2BP01";
    pub const INVALID_PARAMETER_STATUS: &str = "22023";
    pub const PROTOCOL_VIOLATION: &str = "08P01";
    pub const IO_ERROR: &str = "58030";
    pub const DATA_CORRUPTED: &str = "XX001";
    pub const INTERNAL_ERROR: &str = "XX000";
    pub const OUT_OF_MEMORY: &str = "53200";
    pub const CONFIGURATION_LIMIT_EXCEEDED: &str = "53400";
    pub const INVALID_CURSOR_NAME: &str = "34000";
    pub const DUPLICATE_CURSOR: &str = "42P03";
    pub const QUERY_CANCELED: &str = "57014";
    pub const STATEMENT_TOO_COMPLEX: &str = "54001";
    pub const PROGRAM_LIMIT_EXCEEDED: &str = "54000";
    pub const NAME_TOO_LONG: &str = "42622";
    pub const INVALID_NAME: &str = "42602";
    pub const CHARACTER_NOT_IN_REPERTOIRE: &str = "22021";
    pub const INVALID_REGULAR_EXPRESSION: &str = "2201B";
    pub const INVALID_ESCAPE_SEQUENCE: &str = "22025";
    pub const DATETIME_FIELD_OVERFLOW: &str = "22008";
    pub const INVALID_TIME_ZONE_DISPLACEMENT_VALUE: &str = "22009";
    pub const CARDINALITY_VIOLATION: &str = "21000";
    pub const INSUFFICIENT_PRIVILEGE: &str = "42501";
    pub const INVALID_AUTHORIZATION_SPECIFICATION: &str = "28000";
    pub const INVALID_PASSWORD: &str = "28P01";
    pub const DUPLICATE_OBJECT: &str = "42710";
    pub const OBJECT_IN_USE: &str = "55006";
    pub const DUPLICATE_FUNCTION: &str = "42723";
    pub const INVALID_FUNCTION_DEFINITION: &str = "42P13";
    pub const WRONG_OBJECT_TYPE: &str = "42809";
    pub const INVALID_CATALOG_NAME: &str = "3D000";
    pub const INVALID_SQL_STATEMENT_NAME: &str = "26000";
    pub const DUPLICATE_PREPARED_STATEMENT: &str = "42P05";
    pub const INVALID_SAVEPOINT_SPECIFICATION: &str = "3B001";
    pub const INVALID_COLUMN_REFERENCE: &str = "42P10";

    /// Every code above.
    const ALL: &[&str] = &[
        SYNTAX_ERROR,
        UNDEFINED_TABLE,
        INVALID_CATALOG_NAME,
        UNDEFINED_COLUMN,
        UNDEFINED_FUNCTION,
        UNDEFINED_OBJECT,
        DUPLICATE_TABLE,
        DUPLICATE_COLUMN,
        AMBIGUOUS_COLUMN,
        DATATYPE_MISMATCH,
        INVALID_TEXT_REPRESENTATION,
        INVALID_DATETIME_FORMAT,
        NUMERIC_VALUE_OUT_OF_RANGE,
        DIVISION_BY_ZERO,
        INVALID_ARGUMENT_FOR_LOGARITHM,
        INVALID_ARGUMENT_FOR_POWER_FUNCTION,
        DATA_EXCEPTION,
        NULL_VALUE_NOT_ALLOWED,
        INVALID_PARAMETER_VALUE,
        NOT_NULL_VIOLATION,
        UNIQUE_VIOLATION,
        FEATURE_NOT_SUPPORTED,
        DEPENDENT_OBJECTS_STILL_EXIST,
        INVALID_PARAMETER_STATUS,
        PROTOCOL_VIOLATION,
        IO_ERROR,
        DATA_CORRUPTED,
        INTERNAL_ERROR,
        OUT_OF_MEMORY,
        CONFIGURATION_LIMIT_EXCEEDED,
        INVALID_CURSOR_NAME,
        DUPLICATE_CURSOR,
        QUERY_CANCELED,
        STATEMENT_TOO_COMPLEX,
        PROGRAM_LIMIT_EXCEEDED,
        NAME_TOO_LONG,
        CHARACTER_NOT_IN_REPERTOIRE,
        INVALID_REGULAR_EXPRESSION,
        DATETIME_FIELD_OVERFLOW,
        INVALID_TIME_ZONE_DISPLACEMENT_VALUE,
        DUPLICATE_FUNCTION,
        INVALID_FUNCTION_DEFINITION,
        WRONG_OBJECT_TYPE,
        INVALID_SQL_STATEMENT_NAME,
        DUPLICATE_PREPARED_STATEMENT,
        INVALID_SAVEPOINT_SPECIFICATION,
        INVALID_COLUMN_REFERENCE,
    ];

    /// The constant for `code`, when it is one of the codes above (a code read back
    /// from disk is matched to its constant, so errors keep `&'static str` codes).
    pub fn known(code: &str) -> Option<&'static str> {
        ALL.iter().copied().find(|known| *known == code)
    }
}

/// Everything that can go wrong in Sluice, each variant carrying its SQLSTATE class.
#[derive(Debug, thiserror::Error)]
pub enum SluiceError {
    /// The statement text could not be parsed.
    #[error("{0}")]
    Syntax(String),
    /// A relation named in the statement does not exist.
    #[error("relation \"{0}\" does not exist")]
    UndefinedTable(String),
    /// A relation with that name already exists.
    #[error("relation \"{0}\" already exists")]
    DuplicateTable(String),
    /// A column named in the statement does not exist.
    #[error("{0}")]
    UndefinedColumn(String),
    /// The statement or option is valid SQL that Sluice does not support.
    #[error("{0}")]
    NotSupported(String),
    /// A value or expression has the wrong type for where it is used.
    #[error("{0}")]
    DatatypeMismatch(String),
    /// A constraint (NOT NULL, PRIMARY KEY) would be violated; the code says which.
    #[error("{message}")]
    Constraint { code: &'static str, message: String },
    /// A plan or execution error with an explicit SQLSTATE.
    #[error("{message}")]
    Coded { code: &'static str, message: String },
    /// Stored data failed a consistency check (checksum, framing).
    #[error("data corruption in {path}: {reason}")]
    Corrupt { path: String, reason: String },
    /// An operating system I/O error.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// An error raised by DataFusion while planning or executing a query.
    #[error("{}", datafusion_message(.0))]
    DataFusion(#[from] DataFusionError),
    /// An Arrow kernel error (casts, IPC encoding).
    #[error("{}", arrow_message(.0))]
    Arrow(#[from] ArrowError),
    /// A bug: an invariant Sluice relies on did not hold.
    #[error("internal error: {0}")]
    Internal(String),
}

impl SluiceError {
    /// Shorthand for an error with an explicit SQLSTATE.
    pub fn coded(code: &'static str, message: impl Into<String>) -> Self {
        SluiceError::Coded {
            code,
            message: message.into(),
        }
    }

    /// Shorthand for [`SluiceError::NotSupported`].
    pub fn not_supported(message: impl Into<String>) -> Self {
        SluiceError::NotSupported(message.into())
    }

    /// The Postgres SQLSTATE a client should receive for this error.
    pub fn sqlstate(&self) -> &'static str {
        use sqlstate::*;
        match self {
            SluiceError::Syntax(_) => SYNTAX_ERROR,
            SluiceError::UndefinedTable(_) => UNDEFINED_TABLE,
            SluiceError::DuplicateTable(_) => DUPLICATE_TABLE,
            SluiceError::UndefinedColumn(_) => UNDEFINED_COLUMN,
            SluiceError::NotSupported(_) => FEATURE_NOT_SUPPORTED,
            SluiceError::DatatypeMismatch(_) => DATATYPE_MISMATCH,
            SluiceError::Constraint { code, .. } | SluiceError::Coded { code, .. } => code,
            SluiceError::Corrupt { .. } => DATA_CORRUPTED,
            SluiceError::Io(_) => IO_ERROR,
            SluiceError::DataFusion(e) => datafusion_sqlstate(e),
            SluiceError::Arrow(e) => arrow_sqlstate(e),
            SluiceError::Internal(_) => INTERNAL_ERROR,
        }
    }
}

impl From<ParserError> for SluiceError {
    fn from(e: ParserError) -> Self {
        match e {
            ParserError::RecursionLimitExceeded => {
                SluiceError::coded(sqlstate::STATEMENT_TOO_COMPLEX, parser_message(&e))
            }
            _ => SluiceError::Syntax(parser_message(&e)),
        }
    }
}

fn parser_message(e: &ParserError) -> String {
    match e {
        ParserError::ParserError(m) | ParserError::TokenizerError(m) => {
            format!("syntax error: {m}")
        }
        ParserError::RecursionLimitExceeded => {
            "statement is too complex: it nests parentheses or subqueries too deeply".to_string()
        }
    }
}

/// The innermost DataFusion error, skipping context, diagnostic and sharing wrappers.
fn datafusion_root(e: &DataFusionError) -> &DataFusionError {
    match e {
        DataFusionError::Context(_, inner) | DataFusionError::Diagnostic(_, inner) => {
            datafusion_root(inner)
        }
        DataFusionError::Shared(inner) => datafusion_root(inner),
        DataFusionError::Collection(errors) => errors.first().map_or(e, datafusion_root),
        DataFusionError::External(inner) => match inner.downcast_ref::<DataFusionError>() {
            Some(df) => datafusion_root(df),
            None => e,
        },
        _ => e,
    }
}

/// A message without DataFusion's internal prefixes ("Error during planning: ...").
fn datafusion_message(e: &DataFusionError) -> String {
    match datafusion_root(e) {
        DataFusionError::SQL(p, _) => parser_message(p),
        DataFusionError::Plan(m)
        | DataFusionError::Execution(m)
        | DataFusionError::NotImplemented(m)
        | DataFusionError::Configuration(m)
        | DataFusionError::ResourcesExhausted(m) => {
            postgres_wording(m).unwrap_or_else(|| first_line(m))
        }
        DataFusionError::SchemaError(s, _) => schema_message(s),
        DataFusionError::ArrowError(a, _) => arrow_message(a),
        DataFusionError::External(inner) => match inner.downcast_ref::<SluiceError>() {
            Some(s) => s.to_string(),
            None => inner.to_string(),
        },
        other => first_line(&other.to_string()),
    }
}

/// DataFusion messages that PostgreSQL words otherwise (or that name DataFusion's
/// internals), in PostgreSQL's words.
fn postgres_wording(m: &str) -> Option<String> {
    if let Some(operator) = missing_operator(m) {
        return Some(format!("operator does not exist: {operator}"));
    }
    // A function's own refusal of its argument types, inside DataFusion's wording.
    if let Some((_, refusal)) = m.split_once("coercion failed with: ") {
        let refusal = ["External error: ", "Error during planning: "]
            .iter()
            .fold(refusal, |r, prefix| r.strip_prefix(prefix).unwrap_or(r));
        let end = refusal
            .find(". No function matches")
            .unwrap_or(refusal.len());
        return Some(first_line(&refusal[..end]));
    }
    // DataFusion's `Invalid function 'f'.` (and a suggestion); PostgreSQL names the
    // argument types too, which the message does not give.
    if let Some((name, _)) = m
        .strip_prefix("Invalid function '")
        .and_then(|rest| rest.split_once('\''))
    {
        return Some(format!("function {name} does not exist"));
    }
    if let Some(name) = m
        .strip_prefix("table '")
        .and_then(|rest| rest.strip_suffix("' not found"))
    {
        // DataFusion names the table with its catalog and schema; PostgreSQL as written
        // (a table of the default schema is most often written without it).
        use crate::catalog::{DEFAULT_DATABASE, DEFAULT_SCHEMA};
        let name = name
            .strip_prefix(DEFAULT_DATABASE)
            .and_then(|n| n.strip_prefix('.'))
            .unwrap_or(name);
        let name = name
            .strip_prefix(DEFAULT_SCHEMA)
            .and_then(|n| n.strip_prefix('.'))
            .unwrap_or(name);
        return Some(format!("relation \"{name}\" does not exist"));
    }
    if m.starts_with("Scalar subquery returned more than one row") {
        Some("more than one row returned by a subquery used as an expression".into())
    } else if m.contains("does not support logical expression ScalarSubquery") {
        Some(
            "this scalar subquery is not supported: Sluice runs scalar subqueries as joins, \
             and this one cannot become one (a correlated subquery needs equality conditions \
             with the outer row and no LIMIT, GROUP BY or DISTINCT; in a materialized view it \
             must also be an aggregate in the select list); write it as a join"
                .into(),
        )
    } else {
        None
    }
}

fn first_line(m: &str) -> String {
    m.lines().next().unwrap_or_default().trim().to_string()
}

fn schema_message(e: &SchemaError) -> String {
    match e {
        SchemaError::FieldNotFound { field, .. } => {
            format!("column \"{}\" does not exist", field.name)
        }
        SchemaError::AmbiguousReference { field } => {
            format!("column reference \"{}\" is ambiguous", field.name)
        }
        other => first_line(&other.to_string()),
    }
}

fn arrow_message(e: &ArrowError) -> String {
    match e {
        ArrowError::DivideByZero => "division by zero".to_string(),
        ArrowError::CastError(m) if m.contains("Overflowing on") => {
            "numeric field overflow".to_string()
        }
        ArrowError::CastError(m) | ArrowError::ParseError(m) => match string_cast_failure(m) {
            Some((_, message)) => message,
            None => format!("invalid input syntax: {}", first_line(m)),
        },
        ArrowError::ArithmeticOverflow(m) if numeric_overflow(m) => {
            "value overflows numeric format".to_string()
        }
        ArrowError::ArithmeticOverflow(m) => format!("value out of range: {}", first_line(m)),
        ArrowError::ComputeError(m) => integer_overflow(m).unwrap_or_else(|| first_line(m)),
        ArrowError::InvalidArgumentError(m) if decimal_overflow(m) => {
            "numeric field overflow".to_string()
        }
        ArrowError::ExternalError(inner) => match inner.downcast_ref::<SluiceError>() {
            Some(s) => s.to_string(),
            None => inner.to_string(),
        },
        other => first_line(&other.to_string()),
    }
}

/// Arrow's overflow of an integer kernel (`Int64Array overflow on abs(...)`) in
/// PostgreSQL's words: `bigint out of range`.
fn integer_overflow(m: &str) -> Option<String> {
    let (array, _) = m.split_once("Array overflow")?;
    let name = postgres_type_name(array).filter(|name| is_integer(name))?;
    Some(format!("{name} out of range"))
}

/// DataFusion's refusal of an operator for its operands' types (`Cannot coerce
/// arithmetic expression Int64 + Boolean to valid types`, `Cannot infer common
/// argument type for comparison operation ...`, `Cannot get result type for temporal
/// operation ...`) as PostgreSQL words the operator it lacks: `bigint + boolean`.
fn missing_operator(m: &str) -> Option<String> {
    let operation = [
        "Cannot coerce arithmetic expression ",
        "Cannot infer common argument type for comparison operation ",
        "Cannot get result type for temporal operation ",
    ]
    .iter()
    .find_map(|prefix| m.split_once(prefix).map(|(_, rest)| rest))?;
    let (left, rest) = arrow_type_prefix(operation)?;
    let (operator, rest) = rest.trim_start().split_once(' ')?;
    let (right, _) = arrow_type_prefix(rest.trim_start())?;
    Some(format!(
        "{} {operator} {}",
        operand_type_name(left)?,
        operand_type_name(right)?
    ))
}

/// The Arrow type name `text` starts with (`Timestamp(ns, "+00:00")`: a name and its
/// parenthesized parameters), and the text after it.
fn arrow_type_prefix(text: &str) -> Option<(&str, &str)> {
    let name_end = text
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(text.len());
    if name_end == 0 {
        return None;
    }
    if !text[name_end..].starts_with('(') {
        return Some(text.split_at(name_end));
    }
    let mut depth = 0;
    for (i, c) in text.char_indices().skip(name_end) {
        match c {
            '(' => depth += 1,
            ')' if depth == 1 => return Some(text.split_at(i + 1)),
            ')' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// PostgreSQL's name for the type of an operand DataFusion names `arrow_type`.
fn operand_type_name(arrow_type: &str) -> Option<&'static str> {
    Some(match arrow_type {
        "Utf8" | "Utf8View" | "LargeUtf8" => "text",
        "Binary" | "BinaryView" | "LargeBinary" => "bytea",
        "Null" => "unknown",
        t if t.starts_with("Interval") => "interval",
        // With a zone: `Timestamp(ns, "+00:00")`.
        t if t.starts_with("Timestamp(") && t.contains(',') => "timestamp with time zone",
        t if t.starts_with("Timestamp(") => "timestamp without time zone",
        t => postgres_type_name(t)?,
    })
}

/// Whether PostgreSQL's type `name` is an integer type.
fn is_integer(name: &str) -> bool {
    matches!(name, "smallint" | "integer" | "bigint")
}

/// PostgreSQL's name for the Arrow type `arrow_type` names in an Arrow message.
fn postgres_type_name(arrow_type: &str) -> Option<&'static str> {
    Some(match arrow_type {
        "Int16" => "smallint",
        "Int32" => "integer",
        "Int64" => "bigint",
        "Float32" => "real",
        "Float64" => "double precision",
        "Boolean" => "boolean",
        "Date32" => "date",
        "Interval" => "interval",
        t if t.starts_with("Decimal") => "numeric",
        t if t.starts_with("Timestamp") => "timestamp",
        t if t.starts_with("Time64(") => "time",
        _ => return None,
    })
}

/// Whether `m` is Arrow's overflow of arithmetic on two plain numbers: decimals'
/// (integers' overflows are checked and worded before Arrow sees them), PostgreSQL's
/// `value overflows numeric format`.
fn numeric_overflow(m: &str) -> bool {
    let Some(operation) = m.strip_prefix("Overflow happened on: ") else {
        return false;
    };
    operation
        .split([' ', '+', '-', '*', '/'])
        .all(|operand| operand.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

/// Whether `m` is Arrow's refusal of a value too large for a decimal's precision
/// (PostgreSQL's `numeric field overflow`).
fn decimal_overflow(m: &str) -> bool {
    m.contains("is too large to store in a Decimal")
}

/// A string that could not be cast, in PostgreSQL's words and with its code: Arrow's
/// `Cannot cast string 'abc' to value of Int32 type` is `22P02 invalid input syntax
/// for type integer: "abc"`; `22007` for dates, times and intervals; `22003 value
/// "99999999999" is out of range for type integer` for an integer too large.
fn string_cast_failure(m: &str) -> Option<(&'static str, String)> {
    use sqlstate::*;
    let m = first_line(m);
    let (value, arrow_type) = if let Some(rest) = m
        .strip_prefix("Cannot cast string '")
        .or_else(|| m.strip_prefix("Cannot cast value '"))
    {
        let (value, rest) = rest.rsplit_once("' to value of ")?;
        (value, rest.strip_suffix(" type")?)
    } else if let Some(rest) = m.strip_prefix("Error parsing timestamp from '") {
        (rest.rsplit_once("': ")?.0, "Timestamp")
    } else if let Some(rest) = m.strip_prefix("Invalid input syntax for type interval: \"") {
        (rest.strip_suffix('"')?, "Interval")
    } else {
        return None;
    };
    let name = postgres_type_name(arrow_type)?;
    let digits = value.trim().trim_start_matches(['+', '-']);
    if is_integer(name) && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Some((
            NUMERIC_VALUE_OUT_OF_RANGE,
            format!("value \"{value}\" is out of range for type {name}"),
        ));
    }
    let code = match name {
        "date" | "timestamp" | "time" | "interval" => INVALID_DATETIME_FORMAT,
        _ => INVALID_TEXT_REPRESENTATION,
    };
    Some((
        code,
        format!("invalid input syntax for type {name}: \"{value}\""),
    ))
}

fn arrow_sqlstate(e: &ArrowError) -> &'static str {
    use sqlstate::*;
    match e {
        ArrowError::DivideByZero => DIVISION_BY_ZERO,
        ArrowError::CastError(m) | ArrowError::ParseError(m) => {
            if let Some((code, _)) = string_cast_failure(m) {
                return code;
            }
            if let Some(code) = message_sqlstate(m) {
                return code;
            }
            let m = m.to_ascii_lowercase();
            if m.contains("too large") || m.contains("can't cast value") {
                NUMERIC_VALUE_OUT_OF_RANGE
            } else {
                INVALID_TEXT_REPRESENTATION
            }
        }
        ArrowError::ArithmeticOverflow(_) => NUMERIC_VALUE_OUT_OF_RANGE,
        ArrowError::ComputeError(m) => message_sqlstate(m).unwrap_or(INTERNAL_ERROR),
        ArrowError::InvalidArgumentError(m) if m.contains("non-nullable") => NOT_NULL_VIOLATION,
        ArrowError::InvalidArgumentError(m)
            if m.contains("too large") || m.contains("overflow") =>
        {
            NUMERIC_VALUE_OUT_OF_RANGE
        }
        ArrowError::InvalidArgumentError(_) => DATA_EXCEPTION,
        ArrowError::MemoryError(_) => OUT_OF_MEMORY,
        ArrowError::IoError(..) => IO_ERROR,
        ArrowError::ExternalError(inner) => match inner.downcast_ref::<SluiceError>() {
            Some(s) => s.sqlstate(),
            None => INTERNAL_ERROR,
        },
        _ => INTERNAL_ERROR,
    }
}

fn datafusion_sqlstate(e: &DataFusionError) -> &'static str {
    use sqlstate::*;
    match datafusion_root(e) {
        DataFusionError::SQL(p, _) if matches!(**p, ParserError::RecursionLimitExceeded) => {
            STATEMENT_TOO_COMPLEX
        }
        DataFusionError::SQL(..) => SYNTAX_ERROR,
        DataFusionError::SchemaError(s, _) => match s.as_ref() {
            SchemaError::FieldNotFound { .. } => UNDEFINED_COLUMN,
            SchemaError::AmbiguousReference { .. } => AMBIGUOUS_COLUMN,
            _ => DUPLICATE_COLUMN,
        },
        DataFusionError::ArrowError(a, _) => arrow_sqlstate(a),
        DataFusionError::NotImplemented(_) => FEATURE_NOT_SUPPORTED,
        DataFusionError::Plan(m) => plan_sqlstate(m),
        DataFusionError::Execution(m) => execution_sqlstate(m),
        DataFusionError::ResourcesExhausted(_) => OUT_OF_MEMORY,
        DataFusionError::IoError(_) => IO_ERROR,
        DataFusionError::External(inner) => match inner.downcast_ref::<SluiceError>() {
            Some(s) => s.sqlstate(),
            None => message_sqlstate(&inner.to_string()).unwrap_or(INTERNAL_ERROR),
        },
        _ => INTERNAL_ERROR,
    }
}

/// Errors that arrive as bare text (arrow's compute errors, the regex crate's errors
/// through DataFusion) whose PostgreSQL code the text gives away.
fn message_sqlstate(m: &str) -> Option<&'static str> {
    use sqlstate::*;
    let m = m.to_ascii_lowercase();
    let out_of_range = m.contains("overflow")
        || m.contains("out of range")
        || m.contains("exceeds the representable");
    if m.contains("regular expression") || m.contains("regex parse error") {
        Some(INVALID_REGULAR_EXPRESSION)
    } else if out_of_range && (m.contains("timestamp") || m.contains("nanosecond")) {
        // PostgreSQL's "timestamp out of range".
        Some(DATETIME_FIELD_OVERFLOW)
    } else if out_of_range {
        Some(NUMERIC_VALUE_OUT_OF_RANGE)
    } else {
        None
    }
}

/// DataFusion reports most planning failures as `Plan(String)`; the text is the only
/// thing that tells them apart, so this is where that knowledge lives.
fn plan_sqlstate(m: &str) -> &'static str {
    use sqlstate::*;
    if missing_operator(m).is_some() {
        return UNDEFINED_FUNCTION;
    }
    let m = m.to_ascii_lowercase();
    if m.contains("not yet supported") || m.contains("not yet implemented") {
        FEATURE_NOT_SUPPORTED
    } else if m.contains("table") && (m.contains("not found") || m.contains("doesn't exist")) {
        UNDEFINED_TABLE
    } else if m.contains("values list")
        || m.contains("column count")
        || m.contains("more expressions")
    {
        SYNTAX_ERROR
    } else if m.contains("invalid function") || m.contains("no function matches") {
        UNDEFINED_FUNCTION
    } else if m.contains("cannot coerce")
        || m.contains("cannot infer")
        || m.contains("coercion")
        || m.contains("type mismatch")
        || m.contains("does not support")
        || m.contains("unsupported cast")
        || m.contains("cannot be cast")
        || m.contains("must be boolean")
        || m.contains("expected")
    {
        DATATYPE_MISMATCH
    } else if m.contains("unsupported") || m.contains("not supported") {
        FEATURE_NOT_SUPPORTED
    } else if m.contains("ambiguous") {
        AMBIGUOUS_COLUMN
    } else {
        SYNTAX_ERROR
    }
}

fn execution_sqlstate(m: &str) -> &'static str {
    use sqlstate::*;
    if let Some(code) = message_sqlstate(m) {
        return code;
    }
    let m = m.to_ascii_lowercase();
    if m.contains("divide by zero") || m.contains("division by zero") {
        DIVISION_BY_ZERO
    } else if m.contains("scalar subquery returned more than one row") {
        CARDINALITY_VIOLATION
    } else if m.contains("non-nullable") {
        NOT_NULL_VIOLATION
    } else if m.contains("cast") || m.contains("parse") || m.contains("invalid") {
        INVALID_TEXT_REPRESENTATION
    } else {
        DATA_EXCEPTION
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_datafusion_errors_keep_their_code() {
        let inner = DataFusionError::ArrowError(Box::new(ArrowError::DivideByZero), None);
        let wrapped = DataFusionError::Context("while running".into(), Box::new(inner));
        let err = SluiceError::from(wrapped);
        assert_eq!(err.sqlstate(), sqlstate::DIVISION_BY_ZERO);
        assert_eq!(err.to_string(), "division by zero");
    }

    #[test]
    fn a_missing_table_is_named_as_postgresql_names_it() {
        let missing = |m: &str| SluiceError::from(DataFusionError::Plan(m.into()));
        let error = missing("table 'sluice.public.missing' not found");
        assert_eq!(error.to_string(), "relation \"missing\" does not exist");
        assert_eq!(error.sqlstate(), sqlstate::UNDEFINED_TABLE);
        let error = missing("table 'sluice.pg_catalog.nope' not found");
        assert_eq!(
            error.to_string(),
            "relation \"pg_catalog.nope\" does not exist"
        );
    }

    #[test]
    fn plan_errors_are_classified() {
        let cases = [
            ("table 'sluice.public.nope' not found", "42P01"),
            ("Invalid function 'nope'", "42883"),
            ("Cannot coerce the types Boolean and Int64", "42804"),
        ];
        for (message, code) in cases {
            let err = SluiceError::from(DataFusionError::Plan(message.into()));
            assert_eq!(err.sqlstate(), code, "{message}");
        }
        let unknown = SluiceError::from(DataFusionError::Plan(
            "Invalid function 'nosuchfn'.\nDid you mean 'nullif'?".into(),
        ));
        assert_eq!(unknown.to_string(), "function nosuchfn does not exist");
    }

    /// PostgreSQL 15's words (`42883`) for an operator its operands' types lack.
    #[test]
    fn missing_operators_are_worded_as_postgres() {
        let cases = [
            (
                "Cannot coerce arithmetic expression Int64 + Boolean to valid types",
                "operator does not exist: bigint + boolean",
            ),
            (
                "Cannot infer common argument type for comparison operation Int32 = Boolean",
                "operator does not exist: integer = boolean",
            ),
            (
                "Cannot coerce arithmetic expression Timestamp(ns, \"+00:00\") - Int64 to valid \
                 types",
                "operator does not exist: timestamp with time zone - bigint",
            ),
            (
                "Cannot get result type for temporal operation Date32 * Int64: Invalid argument \
                 error: Invalid date arithmetic operation: Date32 * Interval(MonthDayNano)",
                "operator does not exist: date * bigint",
            ),
            (
                "Cannot coerce arithmetic expression Utf8View - Decimal128(38, 10) to valid types",
                "operator does not exist: text - numeric",
            ),
        ];
        for (message, words) in cases {
            let err = SluiceError::from(DataFusionError::Plan(message.into()));
            assert_eq!((err.sqlstate(), err.to_string().as_str()), ("42883", words));
        }
    }

    #[test]
    fn data_errors_get_postgres_codes_from_their_text() {
        let compute = |m: &str| {
            SluiceError::from(ArrowError::ComputeError(m.into()))
                .sqlstate()
                .to_string()
        };
        assert_eq!(
            compute("Regular expression did not compile: Syntax(...)"),
            "2201B"
        );
        assert_eq!(
            compute("Int64Array overflow on abs(-9223372036854775808)"),
            "22003"
        );
        let cast = SluiceError::from(ArrowError::CastError(
            "Overflow converting 2262-04-12 00:00:00 to Nanosecond".into(),
        ));
        assert_eq!(cast.sqlstate(), "22008");
        let execution = |m: &str| SluiceError::from(DataFusionError::Execution(m.into()));
        assert_eq!(
            execution("Decimal value 1 with scale -20 overflows timestamp nanoseconds").sqlstate(),
            "22008"
        );
    }

    #[test]
    fn failed_string_casts_are_worded_as_postgres() {
        let cast = |m: &str| {
            let e = SluiceError::from(ArrowError::CastError(m.into()));
            (e.sqlstate(), e.to_string())
        };
        let cases = [
            (
                "Cannot cast string 'abc' to value of Int32 type",
                "22P02",
                "invalid input syntax for type integer: \"abc\"",
            ),
            (
                "Cannot cast string '99999999999' to value of Int32 type",
                "22003",
                "value \"99999999999\" is out of range for type integer",
            ),
            (
                "Cannot cast string 'a'b' to value of Decimal128(38, 10) type",
                "22P02",
                "invalid input syntax for type numeric: \"a'b\"",
            ),
            (
                "Cannot cast value 'abc' to value of Boolean type",
                "22P02",
                "invalid input syntax for type boolean: \"abc\"",
            ),
            (
                "Cannot cast string 'abc' to value of Date32 type",
                "22007",
                "invalid input syntax for type date: \"abc\"",
            ),
            (
                "Error parsing timestamp from 'abc': timestamp must contain at least 10 characters",
                "22007",
                "invalid input syntax for type timestamp: \"abc\"",
            ),
            (
                "Invalid input syntax for type interval: \"abc\"",
                "22007",
                "invalid input syntax for type interval: \"abc\"",
            ),
        ];
        for (arrow, code, message) in cases {
            assert_eq!(cast(arrow), (code, message.to_string()), "{arrow}");
        }
        let overflow = SluiceError::from(ArrowError::ComputeError(
            "Int64Array overflow on abs(-9223372036854775808)".into(),
        ));
        assert_eq!(
            (overflow.sqlstate(), overflow.to_string()),
            ("22003", "bigint out of range".into())
        );
        let numeric = SluiceError::from(ArrowError::InvalidArgumentError(
            "123456 is too large to store in a Decimal128 of precision 3. Max is 999".into(),
        ));
        assert_eq!(
            (numeric.sqlstate(), numeric.to_string()),
            ("22003", "numeric field overflow".into())
        );
        let product = SluiceError::from(ArrowError::ArithmeticOverflow(
            "Overflow happened on: 1000000000000000000000000000000 * 10000000000000000000000"
                .into(),
        ));
        assert_eq!(
            (product.sqlstate(), product.to_string()),
            ("22003", "value overflows numeric format".into())
        );
        let too_wide = SluiceError::from(ArrowError::CastError(
            "Cannot cast to Decimal256(76, 10). Overflowing on 1000000".into(),
        ));
        assert_eq!(
            (too_wide.sqlstate(), too_wide.to_string()),
            ("22003", "numeric field overflow".into())
        );
        // Anything else keeps Arrow's words under a PostgreSQL prefix.
        assert_eq!(
            cast("Cannot cast to Utf8View"),
            (
                "22P02",
                "invalid input syntax: Cannot cast to Utf8View".into()
            )
        );
    }

    #[test]
    fn sluice_errors_survive_a_trip_through_datafusion() {
        let ours = SluiceError::Constraint {
            code: sqlstate::UNIQUE_VIOLATION,
            message: "duplicate key".into(),
        };
        let through = SluiceError::from(DataFusionError::External(Box::new(ours)));
        assert_eq!(through.sqlstate(), sqlstate::UNIQUE_VIOLATION);
        assert_eq!(through.to_string(), "duplicate key");
    }
}
