//! `regnamespace`'s names: the schema an OID is and the OID a schema name means
//! (Sluice's schemas are [`NAMESPACES`]; see [`super`] for the type).

use super::identifiers::{quote_identifier, split_qualified_name};
use crate::catalog::postgres::objects::NAMESPACES;
use crate::error::{SluiceError, sqlstate};

/// Schema `oid`'s name as `regnamespace` prints it (quoted as an identifier);
/// `None` for an OID that names no schema.
pub(super) fn name(oid: i32) -> Option<String> {
    NAMESPACES
        .iter()
        .find(|(o, _)| *o == oid)
        .map(|(_, name)| quote_identifier(name))
}

/// The OID schema name `text` means, as `regnamespacein` reads a name: one
/// identifier (`42602` for anything else), `3F000` for a schema that is none.
pub(super) fn oid(text: &str) -> Result<i32, SluiceError> {
    let name = match split_qualified_name(text).as_deref() {
        Some([name]) => name.to_string(),
        _ => {
            return Err(SluiceError::coded(
                sqlstate::INVALID_NAME,
                "invalid name syntax",
            ));
        }
    };
    NAMESPACES
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(oid, _)| *oid)
        .ok_or_else(|| {
            SluiceError::coded(
                sqlstate::INVALID_SCHEMA_NAME,
                format!("schema \"{name}\" does not exist"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::postgres::oids;

    #[test]
    fn schemas_read_and_print_as_in_postgres() {
        assert_eq!(name(oids::PG_CATALOG).as_deref(), Some("pg_catalog"));
        assert_eq!(name(oids::PUBLIC).as_deref(), Some("public"));
        assert_eq!(name(99999), None);
        assert_eq!(oid("pg_catalog").ok(), Some(oids::PG_CATALOG));
        assert_eq!(oid(" PUBLIC ").ok(), Some(oids::PUBLIC));
        let code = |text| oid(text).err().map(|e| e.sqlstate().to_string());
        assert_eq!(code("\"Public\"").as_deref(), Some("3F000"));
        assert_eq!(code("nosuch").as_deref(), Some("3F000"));
        assert_eq!(code("a.b").as_deref(), Some("42602"));
        assert_eq!(code("").as_deref(), Some("42602"));
    }
}
