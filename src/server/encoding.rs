//! Statement results and errors in wire form: Arrow batches to `DataRow`s (text or
//! binary per column, through `arrow-pg`), command tags, and SQLSTATE errors.

use std::sync::Arc;

use arrow_pg::datatypes::{arrow_schema_to_pg_fields, into_pg_type};
use arrow_pg::encoder::{Encoder, encode_value};
use bytes::BytesMut;
use datafusion::arrow::array::{Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use futures::{StreamExt, stream};
use pgwire::api::Type;
use pgwire::api::portal::Format;
use pgwire::api::results::{DataRowEncoder, FieldFormat, FieldInfo, QueryResponse, Response, Tag};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::data::DataRow;
use pgwire::types::ToSqlText;
use pgwire::types::format::FormatOptions;
use postgres_types::{IsNull, ToSql, to_sql_checked};

use crate::catalog::postgres::regtypes::RegType;
use crate::error::SluiceError;
use crate::sql::Output;
use crate::sql::savepoints;
use crate::sql::text_format;
use crate::sql::types::arrow_pg_type;

use super::numeric_binary;

/// The wire error for `error`, carrying its SQLSTATE.
pub fn error_info(error: &SluiceError) -> ErrorInfo {
    ErrorInfo::new(
        "ERROR".to_owned(),
        error.sqlstate().to_owned(),
        error.to_string(),
    )
}

/// `error` as a pgwire error (sent as an ErrorResponse by pgwire).
pub fn wire_error(error: SluiceError) -> PgWireError {
    PgWireError::UserError(Box::new(error_info(&error)))
}

/// Row descriptions for `schema`, each column in the format the client asked for,
/// with its type's length and, for a column read straight from a relation, the
/// relation's OID, the column's number and its type modifier
/// ([`crate::sql::column_origins`]).
pub fn fields(
    schema: &Schema,
    format: &Format,
    options: Arc<FormatOptions>,
) -> PgWireResult<Vec<FieldInfo>> {
    let fields = arrow_schema_to_pg_fields(&wire_schema(schema), format, Some(options))?;
    let fields: Vec<FieldInfo> = fields
        .into_iter()
        .zip(schema.fields())
        .map(|(info, field)| with_origin(info, field))
        .collect();
    // A regclass, regnamespace or regtype column holds names by the time it is
    // encoded (see catalog::postgres::regtypes), so its binary form (the OID) cannot
    // be sent.
    if let Some((field, kind)) = fields.iter().find_map(|f| {
        RegType::ALL
            .into_iter()
            .find(|kind| f.datatype().oid() == kind.oid() && f.format() == FieldFormat::Binary)
            .map(|kind| (f, kind))
    }) {
        return Err(wire_error(SluiceError::not_supported(format!(
            "column \"{}\" of type {} can only be sent as text; ask for text results",
            field.name(),
            kind.name()
        ))));
    }
    Ok(fields)
}

/// `schema` with the types arrow-pg does not know replaced by one of the same
/// PostgreSQL type: a 256-bit decimal is a `numeric` as a 128-bit one is.
fn wire_schema(schema: &Schema) -> Schema {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|field| {
            field
                .as_ref()
                .clone()
                .with_data_type(arrow_pg_type(field.data_type()))
        })
        .collect();
    Schema::new_with_metadata(fields, schema.metadata().clone())
}

fn with_origin(info: FieldInfo, field: &Field) -> FieldInfo {
    use crate::sql::column_origins::{COLUMN_NUMBER, TABLE_OID, TYPE_MODIFIER, TYPE_OID};
    let metadata = field.metadata();
    let table = metadata.get(TABLE_OID).and_then(|v| v.parse::<i32>().ok());
    let column = metadata
        .get(COLUMN_NUMBER)
        .and_then(|v| v.parse::<i16>().ok());
    let modifier = metadata
        .get(TYPE_MODIFIER)
        .and_then(|v| v.parse::<i32>().ok());
    // Only a declared type whose values are sent as the value type's are (varchar,
    // name, oid: see `same_wire_form`).
    let declared_type = metadata
        .get(TYPE_OID)
        .and_then(|v| v.parse::<u32>().ok())
        .and_then(Type::from_oid);
    let declared = declared_type
        .clone()
        .filter(|_| RegType::of_field(field).is_none())
        .filter(|t| same_wire_form(t, info.datatype()));
    // `json` text (json_build_object's result) is `json` wherever it comes from, and
    // so are the names of regclass, regnamespace and regtype values (and the OIDs
    // they are before naming).
    let json = declared_type
        .filter(|t| {
            (*t == Type::JSON || RegType::ALL.iter().any(|kind| kind.oid() == t.oid()))
                && *info.datatype() == Type::TEXT
        })
        .or_else(|| RegType::of_field(field).and_then(|kind| Type::from_oid(kind.oid())));
    // A repeated column name has a suffix that made it unique for DataFusion.
    let name = crate::sql::parser::output_name(info.name()).to_string();
    let info = FieldInfo::new(
        name,
        table.filter(|_| column.is_some()),
        column.filter(|_| table.is_some()),
        declared.or(json).unwrap_or_else(|| info.datatype().clone()),
        info.format(),
    )
    .with_format_options(info.format_options().clone());
    let length = crate::catalog::postgres::tables::type_length(info.datatype().oid());
    info.with_type_size(length)
        .with_type_modifier(modifier.unwrap_or(-1))
}

/// Whether values of type `value` (the Arrow values' type) are sent, in text and in
/// binary, as values of `declared` are: text as `character varying`, `name`, `"char"`
/// (one byte, ASCII in the catalog) or `pg_node_tree`; `int4` (or an OID alias type
/// numbering objects) as `oid` or `xid` (never negative).
fn same_wire_form(declared: &Type, value: &Type) -> bool {
    let numbers = [
        Type::INT4,
        Type::OID,
        Type::REGPROC,
        Type::REGPROCEDURE,
        Type::REGOPER,
        Type::REGOPERATOR,
        Type::REGCLASS,
        Type::REGTYPE,
        Type::REGNAMESPACE,
        Type::REGROLE,
        Type::REGCONFIG,
        Type::REGDICTIONARY,
        Type::REGCOLLATION,
    ];
    match *declared {
        Type::VARCHAR | Type::NAME | Type::CHAR | Type::PG_NODE_TREE => *value == Type::TEXT,
        Type::OID | Type::XID => numbers.contains(value),
        _ => false,
    }
}

/// The Postgres type a client should bind for a parameter of Arrow type `data_type`.
pub fn parameter_type(data_type: Option<&DataType>) -> PgWireResult<Type> {
    match data_type {
        Some(t) => into_pg_type(&arrow_pg_type(t)),
        None => Ok(Type::UNKNOWN),
    }
}

/// The wire response for a statement's output. `tag_override` replaces the default
/// `SELECT` tag of row results (`SHOW`).
pub fn response(
    output: Output,
    format: &Format,
    options: Arc<FormatOptions>,
    tag_override: Option<&str>,
) -> PgWireResult<Response> {
    match output {
        Output::Done { tag, rows } => {
            let mut wire = Tag::new(tag);
            if tag == "INSERT" {
                wire = wire.with_oid(0);
            }
            if let Some(rows) = rows {
                wire = wire.with_rows(rows);
            }
            Ok(match tag {
                "BEGIN" => Response::TransactionStart(wire),
                "COMMIT" | "ROLLBACK" => Response::TransactionEnd(wire),
                // The transaction goes on.
                savepoints::ROLLBACK_TO => Response::Execution(Tag::new("ROLLBACK")),
                _ => Response::Execution(wire),
            })
        }
        Output::Rows(batches) => {
            let fields = Arc::new(fields(batches.schema().as_ref(), format, options)?);
            let row_fields = fields.clone();
            let rows = batches
                .map(move |batch| {
                    let rows: Box<dyn Iterator<Item = PgWireResult<DataRow>> + Send + Sync> =
                        match batch {
                            Ok(batch) => Box::new(RowEncoder::new(batch, row_fields.clone())),
                            Err(e) => Box::new(std::iter::once(Err(wire_error(e.into())))),
                        };
                    stream::iter(rows)
                })
                .flatten();
            let mut response = QueryResponse::new(fields, rows);
            if let Some(tag) = tag_override {
                response.set_command_tag(tag);
            }
            Ok(Response::Query(response))
        }
    }
}

/// `batch`'s rows as `DataRow`s in the formats of `fields`.
pub fn data_rows(
    batch: RecordBatch,
    fields: Arc<Vec<FieldInfo>>,
) -> impl Iterator<Item = PgWireResult<DataRow>> {
    RowEncoder::new(batch, fields)
}

/// Turns a batch into `DataRow`s. Delegates each value to arrow-pg, except where
/// Postgres's output differs from it: NULL intervals, and in text form floats (and
/// arrays of them), timestamps, times and numerics (see [`crate::sql::text_format`]).
struct RowEncoder {
    batch: RecordBatch,
    fields: Arc<Vec<FieldInfo>>,
    row: usize,
    encoder: DataRowEncoder,
}

impl RowEncoder {
    fn new(batch: RecordBatch, fields: Arc<Vec<FieldInfo>>) -> Self {
        RowEncoder {
            encoder: DataRowEncoder::new(fields.clone()),
            batch,
            fields,
            row: 0,
        }
    }

    fn encode_row(&mut self) -> PgWireResult<DataRow> {
        let schema = self.batch.schema();
        for (column, array) in self.batch.columns().iter().enumerate() {
            let field = &self.fields[column];
            let arrow_field = schema.field(column);
            match arrow_field.data_type() {
                DataType::Interval(_) if array.is_null(self.row) => {
                    Encoder::encode_field(
                        &mut self.encoder,
                        &None::<pg_interval::Interval>,
                        field,
                    )?;
                }
                data_type if field.format() == FieldFormat::Text => {
                    let (values, row) = (array.as_ref(), self.row);
                    let extra_float_digits = field.format_options().extra_float_digits;
                    let text = match data_type {
                        DataType::Timestamp(unit, tz) => {
                            Some(text_format::timestamp(values, unit, tz.is_some(), row))
                        }
                        DataType::Date32 => Some(text_format::date(values, row)),
                        DataType::Float32 | DataType::Float64 => {
                            Some(text_format::float_value(values, row, extra_float_digits))
                        }
                        DataType::Time32(_) | DataType::Time64(_) => {
                            Some(text_format::time(values, row))
                        }
                        DataType::Decimal128(..) | DataType::Decimal256(..) => {
                            Some(text_format::decimal(values, row))
                        }
                        DataType::Interval(_) => Some(text_format::interval_value(values, row)),
                        // Arrays as `array_out` writes them, their elements as above.
                        DataType::List(_) | DataType::LargeList(_) => Some(
                            text_format::value_text(values, row, extra_float_digits)
                                .map_err(|e| wire_error(e.into()))?,
                        ),
                        _ => None,
                    };
                    match text {
                        // As plain text: for an array type pgwire would quote the
                        // string as one element.
                        Some(text) => self.encoder.encode_field_with_type_and_format(
                            &text,
                            &Type::TEXT,
                            FieldFormat::Text,
                            field.format_options(),
                        )?,
                        None => encode_value(&mut self.encoder, array, row, arrow_field, field)?,
                    }
                }
                // numeric_send's form for every width (arrow-pg's stops at 28 digits).
                DataType::Decimal128(..) | DataType::Decimal256(..) => {
                    let bytes = text_format::decimal(array.as_ref(), self.row)
                        .map(|text| NumericBytes(numeric_binary::from_text(&text)));
                    self.encoder.encode_field_with_type_and_format(
                        &bytes,
                        &Type::NUMERIC,
                        FieldFormat::Binary,
                        field.format_options(),
                    )?
                }
                _ => encode_value(&mut self.encoder, array, self.row, arrow_field, field)?,
            }
        }
        Ok(self.encoder.take_row())
    }
}

impl Iterator for RowEncoder {
    type Item = PgWireResult<DataRow>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.row >= self.batch.num_rows() {
            return None;
        }
        let row = self.encode_row();
        self.row += 1;
        Some(row)
    }
}

/// A `numeric` in its binary form, written as it is.
#[derive(Debug)]
struct NumericBytes(Vec<u8>);

impl ToSql for NumericBytes {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(&self.0);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }

    to_sql_checked!();
}

impl ToSqlText for NumericBytes {
    fn to_sql_text(
        &self,
        _: &Type,
        _: &mut BytesMut,
        _: &FormatOptions,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        Err("a numeric's binary form has no text form".into())
    }
}
