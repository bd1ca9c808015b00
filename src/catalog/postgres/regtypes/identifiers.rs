//! Identifiers as PostgreSQL reads and writes them in the reg* types' text:
//! [`quote_identifier`] (how names are printed) and [`split_qualified_name`] (how
//! `regnamespace` input reads one).

/// PostgreSQL's keywords that an identifier must be quoted to be (every category
/// but unreserved: `SELECT word FROM pg_get_keywords() WHERE catcode <> 'U'`, 15).
pub(super) const QUOTED_KEYWORDS: [&str; 151] = [
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "between",
    "bigint",
    "binary",
    "bit",
    "boolean",
    "both",
    "case",
    "cast",
    "char",
    "character",
    "check",
    "coalesce",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "dec",
    "decimal",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "exists",
    "extract",
    "false",
    "fetch",
    "float",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "greatest",
    "group",
    "grouping",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "inout",
    "int",
    "integer",
    "intersect",
    "interval",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "least",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "national",
    "natural",
    "nchar",
    "none",
    "normalize",
    "not",
    "notnull",
    "null",
    "nullif",
    "numeric",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "out",
    "outer",
    "overlaps",
    "overlay",
    "placing",
    "position",
    "precision",
    "primary",
    "real",
    "references",
    "returning",
    "right",
    "row",
    "select",
    "session_user",
    "setof",
    "similar",
    "smallint",
    "some",
    "substring",
    "symmetric",
    "table",
    "tablesample",
    "then",
    "time",
    "timestamp",
    "to",
    "trailing",
    "treat",
    "trim",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "values",
    "varchar",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
    "xmlattributes",
    "xmlconcat",
    "xmlelement",
    "xmlexists",
    "xmlforest",
    "xmlnamespaces",
    "xmlparse",
    "xmlpi",
    "xmlroot",
    "xmlserialize",
    "xmltable",
];

/// `name` as PostgreSQL's `quote_identifier` writes it: bare when it is a lower-case
/// identifier that is no keyword needing quotes, else in double quotes.
pub fn quote_identifier(name: &str) -> String {
    let bare = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && QUOTED_KEYWORDS.binary_search(&name).is_err();
    if bare {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// The keywords among [`QUOTED_KEYWORDS`] that may still name a type or function
/// unquoted (PostgreSQL's `type_func_name_keyword`: `catcode = 'T'`, 15).
pub(super) const TYPE_FUNCTION_KEYWORDS: [&str; 23] = [
    "authorization",
    "binary",
    "collation",
    "concurrently",
    "cross",
    "current_schema",
    "freeze",
    "full",
    "ilike",
    "inner",
    "is",
    "isnull",
    "join",
    "left",
    "like",
    "natural",
    "notnull",
    "outer",
    "overlaps",
    "right",
    "similar",
    "tablesample",
    "verbose",
];

/// `text` read as PostgreSQL's `SplitIdentifierString` reads a dotted name (as
/// `regnamespace` input does): its parts, unquoted ones folded to lower case,
/// whitespace around each part ignored; `None` for text that is no such name (an
/// empty part, an unclosed quote, words without a dot between them).
pub fn split_qualified_name(text: &str) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let part = if chars.next_if_eq(&'"').is_some() {
            let mut part = String::new();
            loop {
                match chars.next()? {
                    '"' if chars.next_if_eq(&'"').is_some() => part.push('"'),
                    '"' => break,
                    c => part.push(c),
                }
            }
            part
        } else {
            let mut part = String::new();
            while let Some(c) = chars.next_if(|c| *c != '.' && !c.is_whitespace()) {
                part.push(c);
            }
            if part.is_empty() {
                return None;
            }
            part.to_lowercase()
        };
        parts.push(part);
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        match chars.next() {
            None => return Some(parts),
            Some('.') => continue,
            Some(_) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_as_postgres_quotes_them() {
        assert_eq!(quote_identifier("orders"), "orders");
        assert_eq!(quote_identifier("_t1"), "_t1");
        assert_eq!(quote_identifier("My T"), "\"My T\"");
        assert_eq!(quote_identifier("1t"), "\"1t\"");
        assert_eq!(quote_identifier("user"), "\"user\"");
        assert_eq!(quote_identifier("order"), "\"order\"");
        assert_eq!(quote_identifier("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_identifier("char"), "\"char\"");
        // Unreserved keywords stay bare, as in PostgreSQL.
        assert_eq!(quote_identifier("source"), "source");
    }

    #[test]
    fn the_keyword_lists_are_sorted_for_binary_search() {
        assert!(QUOTED_KEYWORDS.windows(2).all(|w| w[0] < w[1]));
        assert!(TYPE_FUNCTION_KEYWORDS.windows(2).all(|w| w[0] < w[1]));
        assert!(
            TYPE_FUNCTION_KEYWORDS
                .iter()
                .all(|k| QUOTED_KEYWORDS.binary_search(k).is_ok())
        );
    }

    #[test]
    fn qualified_names_split_as_postgres_splits_them() {
        let parts = |text| split_qualified_name(text);
        assert_eq!(parts("pg_catalog"), Some(vec!["pg_catalog".to_string()]));
        assert_eq!(parts(" PG_Catalog "), Some(vec!["pg_catalog".to_string()]));
        assert_eq!(
            parts("\"My \"\"S\"\"\""),
            Some(vec!["My \"S\"".to_string()])
        );
        assert_eq!(
            parts("a . \"B\""),
            Some(vec!["a".to_string(), "B".to_string()])
        );
        assert_eq!(parts("\"\""), Some(vec![String::new()]));
        assert_eq!(parts(""), None);
        assert_eq!(parts("a."), None);
        assert_eq!(parts("a b"), None);
        assert_eq!(parts("\"open"), None);
    }
}
