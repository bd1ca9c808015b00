//! `regtype`'s names: the type an OID is, printed as PostgreSQL's `format_type`
//! prints it (`integer`, `character varying`, `text[]`, `"char"`,
//! `information_schema.cardinal_number`), and the OID a type name means, read as
//! PostgreSQL reads one (`int4`, `integer`, `double precision`, `text[]`,
//! `pg_catalog.int8`, `"char"`). The types are the `pg_catalog` crate's `pg_type`
//! rows (PostgreSQL 15's); see [`super`] for the type.
//!
//! Type modifiers (`varchar(10)`), `float(p)`, interval fields and names with a
//! database are refused (`0A000`): PostgreSQL checks them with each type's own rules,
//! which are not here. Sluice's relations have no row types (`pg_class.reltype` is
//! 0), so a name that only a relation has is refused too, rather than said not to
//! exist.

use std::collections::HashMap;
use std::sync::LazyLock;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int32Type};

use super::identifiers::{QUOTED_KEYWORDS, TYPE_FUNCTION_KEYWORDS, quote_identifier};
use super::relations::Names;
use crate::catalog::postgres::objects::{namespace_name, namespace_named};
use crate::catalog::postgres::{PgObjects, oids};
use crate::error::{SluiceError, sqlstate};

/// One `pg_type` row, as much of it as naming needs.
#[derive(Debug)]
struct PgType {
    name: String,
    namespace: i32,
    /// `typelem`.
    element: i32,
    /// `typarray`: the type of arrays of this one (0: none).
    array: i32,
    /// PostgreSQL's `IsTrueArrayType` with a storage other than plain: printed as
    /// its element's name with `[]` (`int2vector` and `oidvector` are not).
    printed_as_array: bool,
}

/// Every type, by OID and by namespace and name.
#[derive(Debug, Default)]
pub(super) struct Types {
    by_oid: HashMap<i32, PgType>,
    by_name: HashMap<(i32, String), i32>,
}

/// The `pg_catalog` crate's `pg_type`, read once.
pub(super) static TYPES: LazyLock<Types> = LazyLock::new(|| {
    match datafusion_pg_catalog::pg_catalog::PgCatalogStaticTables::try_new()
        .map_err(SluiceError::from)
        .and_then(|tables| Types::from_batches(tables.pg_type.data()))
    {
        Ok(types) => types,
        Err(e) => {
            tracing::error!("pg_catalog's pg_type does not load: {e}");
            Types::default()
        }
    }
});

/// The values of `pg_type`'s `"char"` column `name`, as characters (an Arrow string
/// or a byte).
fn char_column(
    batch: &datafusion::arrow::array::RecordBatch,
    name: &str,
) -> Result<Vec<Option<char>>, SluiceError> {
    let column = batch
        .column_by_name(name)
        .ok_or_else(|| SluiceError::Internal(format!("pg_type has no column {name}")))?;
    Ok(if column.data_type().is_integer() {
        let bytes = cast(column, &DataType::UInt8)?;
        bytes
            .as_primitive::<datafusion::arrow::datatypes::UInt8Type>()
            .iter()
            .map(|b| b.map(char::from))
            .collect()
    } else {
        let text = cast(column, &DataType::Utf8)?;
        text.as_string::<i32>()
            .iter()
            .map(|t| t.and_then(|t| t.chars().next()))
            .collect()
    })
}

/// SQL's names for types, as PostgreSQL's `format_type` prints them.
const STANDARD_NAMES: [(i32, &str); 16] = [
    (16, "boolean"),
    (20, "bigint"),
    (21, "smallint"),
    (23, "integer"),
    (700, "real"),
    (701, "double precision"),
    (1042, "character"),
    (1043, "character varying"),
    (1083, "time without time zone"),
    (1114, "timestamp without time zone"),
    (1184, "timestamp with time zone"),
    (1186, "interval"),
    (1266, "time with time zone"),
    (1560, "bit"),
    (1562, "bit varying"),
    (1700, "numeric"),
];

impl Types {
    fn from_batches(
        batches: &[datafusion::arrow::array::RecordBatch],
    ) -> Result<Types, SluiceError> {
        let mut types = Types::default();
        for batch in batches {
            let column = |name: &str, data_type: &DataType| -> Result<ArrayRef, SluiceError> {
                let column = batch.column_by_name(name).ok_or_else(|| {
                    SluiceError::Internal(format!("pg_type has no column {name}"))
                })?;
                Ok(cast(column, data_type)?)
            };
            let oids = column("oid", &DataType::Int32)?;
            let names = column("typname", &DataType::Utf8)?;
            let namespaces = column("typnamespace", &DataType::Int32)?;
            let elements = column("typelem", &DataType::Int32)?;
            let arrays = column("typarray", &DataType::Int32)?;
            let subscripts = column("typsubscript", &DataType::Utf8)?;
            let storages = char_column(batch, "typstorage")?;
            let (oids, namespaces, elements, arrays) = (
                oids.as_primitive::<Int32Type>(),
                namespaces.as_primitive::<Int32Type>(),
                elements.as_primitive::<Int32Type>(),
                arrays.as_primitive::<Int32Type>(),
            );
            let (names, subscripts) = (names.as_string::<i32>(), subscripts.as_string::<i32>());
            for row in 0..batch.num_rows() {
                if oids.is_null(row) || names.is_null(row) {
                    continue;
                }
                let oid = oids.value(row);
                let element = elements.value(row);
                let subscript = subscripts.is_valid(row).then(|| subscripts.value(row));
                let storage = storages.get(row).copied().flatten();
                let pg_type = PgType {
                    name: names.value(row).to_string(),
                    namespace: namespaces.value(row),
                    element,
                    array: arrays.value(row),
                    printed_as_array: element != 0
                        && subscript.is_some_and(|s| {
                            s.trim_start_matches("pg_catalog.") == "array_subscript_handler"
                        })
                        && storage != Some('p'),
                };
                types
                    .by_name
                    .insert((pg_type.namespace, pg_type.name.clone()), oid);
                types.by_oid.insert(oid, pg_type);
            }
        }
        Ok(types)
    }

    /// The type an unqualified `name` means: `pg_catalog`'s, then `public`'s.
    fn search(&self, name: &str) -> Option<i32> {
        [oids::PG_CATALOG, oids::PUBLIC]
            .iter()
            .find_map(|namespace| self.by_name.get(&(*namespace, name.to_string())))
            .copied()
    }

    /// Type `oid`'s name as `regtype` prints it (PostgreSQL's `format_type` without
    /// a type modifier); `None` for an OID that names no type.
    pub(super) fn name(&self, oid: i32) -> Option<String> {
        let pg_type = self.by_oid.get(&oid)?;
        let (oid, pg_type, array) = match self.by_oid.get(&pg_type.element) {
            Some(element) if pg_type.printed_as_array => (pg_type.element, element, "[]"),
            _ => (oid, pg_type, ""),
        };
        let name = match STANDARD_NAMES.iter().find(|(o, _)| *o == oid) {
            Some((_, name)) => name.to_string(),
            None if self.search(&pg_type.name) == Some(oid) => quote_identifier(&pg_type.name),
            None => format!(
                "{}.{}",
                quote_identifier(namespace_name(pg_type.namespace)),
                quote_identifier(&pg_type.name)
            ),
        };
        Some(name + array)
    }

    /// The OID type name `text` means, as `regtypein` reads a name.
    pub(super) fn oid(&self, objects: &PgObjects, text: &str) -> Result<i32, SluiceError> {
        let parsed = parse(text)?;
        let element = match &parsed.name {
            TypeName::Standard(oid) => *oid,
            TypeName::Named(parts) => self.named(objects, parts, parsed.array)?,
        };
        if !parsed.array {
            return Ok(element);
        }
        match self.by_oid.get(&element).map(|t| t.array) {
            Some(array) if array != 0 => Ok(array),
            _ => Err(SluiceError::coded(
                sqlstate::UNDEFINED_OBJECT,
                format!(
                    "could not find array type for data type {}",
                    self.name(element)
                        .unwrap_or_else(|| (element as u32).to_string())
                ),
            )),
        }
    }

    /// The type a (qualified) name means.
    fn named(
        &self,
        objects: &PgObjects,
        parts: &[String],
        array: bool,
    ) -> Result<i32, SluiceError> {
        let (namespace, name) = match parts {
            [name] => (None, name),
            [schema, name] => {
                let namespace = namespace_named(schema).ok_or_else(|| {
                    SluiceError::coded(
                        sqlstate::INVALID_SCHEMA_NAME,
                        format!("schema \"{schema}\" does not exist"),
                    )
                })?;
                (Some(namespace), name)
            }
            [_, _, _] => {
                return Err(SluiceError::not_supported(format!(
                    "a type name with a database (\"{}\") is not supported as regtype input",
                    parts.join(".")
                )));
            }
            _ => {
                return Err(SluiceError::coded(
                    sqlstate::SYNTAX_ERROR,
                    format!(
                        "improper qualified name (too many dotted names): {}",
                        parts.join(".")
                    ),
                ));
            }
        };
        let found = match namespace {
            None => self.search(name),
            Some(namespace) => self.by_name.get(&(namespace, name.clone())).copied(),
        };
        if let Some(oid) = found {
            return Ok(oid);
        }
        // PostgreSQL's relations have row types named as they are; Sluice's do not.
        let relations = Names::new(objects);
        let relation = match namespace {
            None => relations.search(name),
            Some(namespace) => relations.oid_in(namespace, name),
        };
        let shown = parts.join(".") + if array { "[]" } else { "" };
        if relation.is_some() {
            return Err(SluiceError::not_supported(format!(
                "type \"{shown}\" would be the row type of relation \"{}\", and Sluice's relations have no row types",
                parts.join(".")
            )));
        }
        Err(SluiceError::coded(
            sqlstate::UNDEFINED_OBJECT,
            format!("type \"{shown}\" does not exist"),
        ))
    }
}

/// A type name read from text.
#[derive(Debug, PartialEq)]
struct ParsedType {
    name: TypeName,
    /// Followed by `[]` (or `[n]`, `ARRAY`): the array type of `name`.
    array: bool,
}

#[derive(Debug, PartialEq)]
enum TypeName {
    /// A name of SQL's own (`integer`, `double precision`): the type's OID.
    Standard(i32),
    /// A name looked up in `pg_type` (`int4`, `pg_catalog.int8`, `"char"`).
    Named(Vec<String>),
}

#[derive(Debug, PartialEq)]
enum Token {
    /// An unquoted identifier or keyword, in lower case.
    Word(String),
    Quoted(String),
    Number,
    Symbol(char),
}

fn syntax_error(text: &str) -> SluiceError {
    SluiceError::coded(
        sqlstate::SYNTAX_ERROR,
        format!("invalid type name \"{text}\""),
    )
}

fn not_supported(text: &str, what: &str) -> SluiceError {
    SluiceError::not_supported(format!(
        "{what} in regtype input (\"{text}\") are not supported: PostgreSQL checks them by each type's own rules"
    ))
}

fn tokens(text: &str) -> Result<Vec<Token>, SluiceError> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let token = match c {
            c if c.is_whitespace() => continue,
            '"' => {
                let mut quoted = String::new();
                loop {
                    match chars.next() {
                        Some('"') if chars.next_if_eq(&'"').is_some() => quoted.push('"'),
                        Some('"') => break,
                        Some(c) => quoted.push(c),
                        None => return Err(syntax_error(text)),
                    }
                }
                if quoted.is_empty() {
                    return Err(syntax_error(text));
                }
                Token::Quoted(quoted)
            }
            c if c.is_ascii_digit() => {
                while chars.next_if(|c| c.is_ascii_alphanumeric()).is_some() {}
                Token::Number
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut word = c.to_string();
                while let Some(c) = chars.next_if(|c| c.is_alphanumeric() || *c == '_' || *c == '$')
                {
                    word.push(c);
                }
                Token::Word(word.to_ascii_lowercase())
            }
            '.' | '[' | ']' | '(' | ')' | ',' => Token::Symbol(c),
            _ => return Err(syntax_error(text)),
        };
        tokens.push(token);
    }
    Ok(tokens)
}

/// Whether `rest` starts with the unquoted word `expected`, then after it.
fn take_word(rest: &mut &[Token], expected: &str) -> bool {
    let current: &[Token] = rest;
    match current.split_first() {
        Some((Token::Word(w), after)) if w == expected => {
            *rest = after;
            true
        }
        _ => false,
    }
}

/// `text` read as PostgreSQL's grammar reads a type name (its `Typename`), for the
/// names Sluice reads: no type modifiers, `float(p)` or interval fields.
fn parse(text: &str) -> Result<ParsedType, SluiceError> {
    let tokens = tokens(text)?;
    let mut rest = tokens.as_slice();
    let word = |token: Option<&Token>, expected: &str| matches!(token, Some(Token::Word(w)) if w == expected);
    let Some((first, after)) = rest.split_first() else {
        return Err(syntax_error(text));
    };
    rest = after;
    let name = match first {
        Token::Word(w) => match w.as_str() {
            "int" | "integer" => TypeName::Standard(23),
            "smallint" => TypeName::Standard(21),
            "bigint" => TypeName::Standard(20),
            "real" => TypeName::Standard(700),
            "float" => {
                if matches!(rest.first(), Some(Token::Symbol('('))) {
                    return Err(not_supported(text, "float precisions"));
                }
                TypeName::Standard(701)
            }
            "double" if word(rest.first(), "precision") => {
                rest = &rest[1..];
                TypeName::Standard(701)
            }
            "decimal" | "dec" | "numeric" => TypeName::Standard(1700),
            "boolean" => TypeName::Standard(16),
            "bit" => TypeName::Standard(if take_word(&mut rest, "varying") {
                1562
            } else {
                1560
            }),
            "character" | "char" | "nchar" => {
                TypeName::Standard(if take_word(&mut rest, "varying") {
                    1043
                } else {
                    1042
                })
            }
            "national" if word(rest.first(), "character") || word(rest.first(), "char") => {
                rest = &rest[1..];
                TypeName::Standard(if take_word(&mut rest, "varying") {
                    1043
                } else {
                    1042
                })
            }
            "varchar" => TypeName::Standard(1043),
            "time" | "timestamp" => {
                if matches!(rest.first(), Some(Token::Symbol('('))) {
                    return Err(not_supported(text, "type modifiers"));
                }
                let zone = match rest {
                    [Token::Word(with), Token::Word(time), Token::Word(zone), ..]
                        if (with == "with" || with == "without")
                            && time == "time"
                            && zone == "zone" =>
                    {
                        rest = &rest[3..];
                        with == "with"
                    }
                    _ => false,
                };
                TypeName::Standard(match (w.as_str(), zone) {
                    ("time", false) => 1083,
                    ("time", true) => 1266,
                    (_, false) => 1114,
                    (_, true) => 1184,
                })
            }
            "interval" => {
                if matches!(
                    rest.first(),
                    Some(Token::Word(_)) | Some(Token::Symbol('('))
                ) {
                    return Err(not_supported(text, "interval fields and precisions"));
                }
                TypeName::Standard(1186)
            }
            // Any other keyword PostgreSQL reserves for its grammar names no type.
            w if QUOTED_KEYWORDS.binary_search(&w).is_ok()
                && TYPE_FUNCTION_KEYWORDS.binary_search(&w).is_err() =>
            {
                return Err(syntax_error(text));
            }
            w => TypeName::Named(vec![w.to_string()]),
        },
        Token::Quoted(q) => TypeName::Named(vec![q.clone()]),
        _ => return Err(syntax_error(text)),
    };
    let name = match name {
        TypeName::Named(mut parts) => {
            // Further parts after dots (any word, keywords included).
            while let [
                Token::Symbol('.'),
                Token::Word(part) | Token::Quoted(part),
                ..,
            ] = rest
            {
                parts.push(part.clone());
                rest = &rest[2..];
            }
            TypeName::Named(parts)
        }
        standard => standard,
    };
    if matches!(rest.first(), Some(Token::Symbol('('))) {
        return Err(not_supported(text, "type modifiers"));
    }
    let mut array = false;
    loop {
        match rest {
            [Token::Symbol('['), Token::Symbol(']'), ..] => rest = &rest[2..],
            [Token::Symbol('['), Token::Number, Token::Symbol(']'), ..] => rest = &rest[3..],
            [
                Token::Word(w),
                Token::Symbol('['),
                Token::Number,
                Token::Symbol(']'),
            ] if w == "array" => {
                rest = &[];
            }
            [Token::Word(w)] if w == "array" => rest = &[],
            _ => break,
        }
        array = true;
    }
    if !rest.is_empty() {
        return Err(syntax_error(text));
    }
    Ok(ParsedType { name, array })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(parts: &[&str], array: bool) -> ParsedType {
        ParsedType {
            name: TypeName::Named(parts.iter().map(|p| p.to_string()).collect()),
            array,
        }
    }

    fn standard(oid: i32, array: bool) -> ParsedType {
        ParsedType {
            name: TypeName::Standard(oid),
            array,
        }
    }

    #[test]
    fn type_names_parse_as_postgres_reads_them() {
        let ok = |text| parse(text).ok();
        assert_eq!(ok("int4"), Some(named(&["int4"], false)));
        assert_eq!(ok(" INT4 "), Some(named(&["int4"], false)));
        assert_eq!(ok("integer"), Some(standard(23, false)));
        assert_eq!(ok("int[]"), Some(standard(23, true)));
        assert_eq!(ok("int4 [3][]"), Some(named(&["int4"], true)));
        assert_eq!(ok("integer array"), Some(standard(23, true)));
        assert_eq!(ok("character varying"), Some(standard(1043, false)));
        assert_eq!(ok("national char varying"), Some(standard(1043, false)));
        assert_eq!(ok("char"), Some(standard(1042, false)));
        assert_eq!(ok("\"char\""), Some(named(&["char"], false)));
        assert_eq!(ok("double precision"), Some(standard(701, false)));
        assert_eq!(ok("timestamp with time zone"), Some(standard(1184, false)));
        assert_eq!(ok("time without time zone"), Some(standard(1083, false)));
        assert_eq!(ok("bit varying"), Some(standard(1562, false)));
        assert_eq!(
            ok("pg_catalog.\"char\"[]"),
            Some(named(&["pg_catalog", "char"], true))
        );
        assert_eq!(ok("left"), Some(named(&["left"], false)));
        // `double` alone is an unreserved keyword: a name no type has.
        assert_eq!(ok("double"), Some(named(&["double"], false)));
        let code = |text| parse(text).err().map(|e| e.sqlstate().to_string());
        for text in ["", "foo bar", "int4;", "select", "int4[x]", "setof int"] {
            assert_eq!(code(text).as_deref(), Some("42601"), "{text}");
        }
        for text in ["varchar(10)", "float(3)", "interval year", "timestamp(3)"] {
            assert_eq!(code(text).as_deref(), Some("0A000"), "{text}");
        }
    }

    #[test]
    fn types_print_as_format_type_prints_them() {
        let name = |oid| TYPES.name(oid);
        assert_eq!(name(23).as_deref(), Some("integer"));
        assert_eq!(name(1007).as_deref(), Some("integer[]"));
        assert_eq!(name(25).as_deref(), Some("text"));
        assert_eq!(name(1009).as_deref(), Some("text[]"));
        assert_eq!(name(1043).as_deref(), Some("character varying"));
        assert_eq!(name(18).as_deref(), Some("\"char\""));
        assert_eq!(name(1002).as_deref(), Some("\"char\"[]"));
        assert_eq!(name(19).as_deref(), Some("name"));
        assert_eq!(name(22).as_deref(), Some("int2vector"));
        assert_eq!(name(30).as_deref(), Some("oidvector"));
        assert_eq!(name(600).as_deref(), Some("point"));
        assert_eq!(name(2287).as_deref(), Some("record[]"));
        assert_eq!(name(1185).as_deref(), Some("timestamp with time zone[]"));
        assert_eq!(name(2205).as_deref(), Some("regclass"));
        assert_eq!(name(2276).as_deref(), Some("\"any\""));
        let cardinal = TYPES
            .by_name
            .get(&(oids::INFORMATION_SCHEMA, "cardinal_number".into()));
        assert_eq!(
            cardinal.and_then(|oid| name(*oid)).as_deref(),
            Some("information_schema.cardinal_number")
        );
        assert_eq!(name(99999), None);
    }
}
