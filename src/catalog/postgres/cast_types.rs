//! A cast's result has the type cast to, not the catalog type of what was cast:
//! `c.oid::text` is `text` and `typreceive::text` is `text`, as in PostgreSQL.
//!
//! Catalog columns of PostgreSQL's own types (`oid`, `regproc`, `"char"`, ...) are
//! Arrow columns marked with field metadata (`pg.oid_alias`, `pg.char`), which the
//! wire encoder reads to describe them. DataFusion gives a cast written without a
//! target field (every SQL cast) its operand's metadata, so `c.oid::text` was described
//! as `oid` holding text and drivers parsed it as a number. This analyzer rule gives
//! such casts a target field of their own, without the operand's marks.

use std::sync::Arc;

use datafusion::arrow::datatypes::Field;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr::{Cast, TryCast};
use datafusion::logical_expr::{Expr, ExprSchemable};
use datafusion::prelude::SessionContext;

use super::regtypes::ExpressionRule;

/// The field metadata keys that give a column a PostgreSQL catalog type.
const CATALOG_TYPE_KEYS: [&str; 2] = ["pg.oid_alias", "pg.char"];

/// Registers the rule.
pub fn install(context: &SessionContext) {
    context.add_analyzer_rule(Arc::new(ExpressionRule {
        name: "cast_types",
        rewrite,
    }));
}

fn rewrite(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let (operand, target, try_cast) = match &expr {
        Expr::Cast(Cast { expr, field }) => (expr, field, false),
        Expr::TryCast(TryCast { expr, field }) => (expr, field, true),
        _ => return Ok(Transformed::no(expr)),
    };
    // Only a cast to a plain type: a target with metadata of its own (`::oid`,
    // `::regclass`) describes the result already.
    if !target.metadata().is_empty() || !target.name().is_empty() {
        return Ok(Transformed::no(expr));
    }
    let marked = |field: &Field| {
        CATALOG_TYPE_KEYS
            .iter()
            .any(|k| field.metadata().contains_key(*k))
    };
    let Ok((_, source)) = operand.to_field(schema) else {
        return Ok(Transformed::no(expr));
    };
    if !marked(&source) {
        return Ok(Transformed::no(expr));
    }
    // A named target field is used as it is (DataFusion copies the operand's field
    // only for a nameless one); its name is not the result's.
    let field = Arc::new(Field::new(
        "cast",
        target.data_type().clone(),
        target.is_nullable(),
    ));
    let operand = operand.clone();
    Ok(Transformed::yes(if try_cast {
        Expr::TryCast(TryCast::new_from_field(operand, field))
    } else {
        Expr::Cast(Cast::new_from_field(operand, field))
    }))
}
