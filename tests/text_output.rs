//! Text output byte for byte as PostgreSQL 15: the same values — stored in a table of
//! every supported column type, read straight and through a materialized view, and
//! computed by expressions — are printed in text format by Sluice and by a throwaway
//! PostgreSQL server, and the strings must be equal: floats (integral values,
//! exponents, negative zero, NaN, infinities, `real`), arrays, timestamps with and
//! without time zone, dates, numerics, bytea, text needing quotes in arrays.
//!
//! [`KNOWN_DIFFERENCES`] lists what still prints differently, each asserted to still
//! differ so the list stays true (docs/postgres-compatibility.md describes them).

mod common;

use common::Both;
use tokio_postgres::Client;

/// A table of every supported column type, created identically on both sides.
const TABLE: &str = "CREATE TABLE vals (b BOOLEAN, s SMALLINT, i INT, l BIGINT, r REAL, \
     d DOUBLE PRECISION, n NUMERIC(12,4), t TEXT, v VARCHAR, y BYTEA, dt DATE, ts TIMESTAMP, \
     tz TIMESTAMPTZ, iv INTERVAL, ia INT[], ta TEXT[], fa DOUBLE PRECISION[], ra REAL[])";

/// Its rows: `s` orders them.
const ROWS: &[&str] = &[
    "(true, -32768, 2147483647, -9223372036854775808, CAST('-0' AS REAL), \
      CAST('1.7976931348623157e308' AS DOUBLE PRECISION), -1234.5678, 'a \"b\" \\c', 'é', \
      decode('00ff41', 'hex'), DATE '2024-02-29', TIMESTAMP '1970-01-01 00:00:00.5', \
      TIMESTAMPTZ '2024-01-01 10:00:00+02', INTERVAL '1' DAY, ARRAY[1, NULL, 3], \
      ARRAY['a b', '', NULL, 'x,y', 'q\"'], ARRAY[CAST('-0' AS DOUBLE PRECISION), 1e16], \
      ARRAY[CAST(1.5 AS REAL), CAST(16777216 AS REAL)])",
    "(NULL, 0, 0, 0, CAST('NaN' AS REAL), CAST('-Infinity' AS DOUBLE PRECISION), \
      99999999.9999, '', '', decode('', 'hex'), DATE '1900-03-01', \
      TIMESTAMP '2024-02-29 13:45:59.123456', TIMESTAMPTZ '1999-12-31 23:59:59.999999+00', \
      INTERVAL '90' MINUTE, ARRAY[]::INT[], ARRAY['NULL', 'null'], NULL, NULL)",
    "(false, 32767, -1, 1, 16777216, 0.00001, 0, NULL, NULL, NULL, NULL, NULL, NULL, \
      INTERVAL '-1' HOUR, NULL, NULL, ARRAY[1e-5::float8, 24997500, 0.1], \
      ARRAY[CAST('Infinity' AS REAL)])",
    "(true, 7, 7, 7, 3.14, 24997500, 1.5, 'x', 'x', NULL, DATE '2000-01-01', \
      TIMESTAMP '1999-12-31 23:59:59', TIMESTAMPTZ '1969-12-31 23:59:59.5-01', \
      INTERVAL '0' SECOND, ARRAY[-7], ARRAY['{}'], ARRAY[CAST('NaN' AS DOUBLE PRECISION)], \
      ARRAY[CAST(0.1 AS REAL)])",
];

/// Expressions whose text must be PostgreSQL's.
const EXPRESSIONS: &[&str] = &[
    // Floats: integral values print without a fraction; PostgreSQL switches to
    // exponents at 1e15 (float8) and 1e6 (real), and below 1e-4.
    "24997500::float8",
    "1e20::float8",
    "1e15::float8",
    "1e14::float8",
    "123456789012345678::float8",
    "0.1::float8",
    "1.0 / 3.0::float8",
    "0.0001::float8",
    "0.00001::float8",
    "1.5e-7::float8",
    "-(0.0::float8)",
    "'NaN'::float8",
    "'Infinity'::float8",
    "'-Infinity'::float8",
    "3.14::real",
    "1e20::real",
    "16777216::real",
    "100000::real",
    "1000000::real",
    "sqrt(2::float8)",
    "2::float8 ^ 60",
    // Exponent literals are exact NUMERIC values.
    "1e15",
    "1.5e-7",
    "1.50e1",
    "2E+3",
    // Arrays.
    "ARRAY[1.5::float8, 2]",
    "ARRAY['NaN'::float8, 'Infinity']",
    "ARRAY[1.5::real, 1e20::real]",
    "ARRAY[1, 2, 3]",
    "ARRAY['a', 'b c', NULL]",
    // Time zones: timestamptz is UTC and prints its offset.
    "TIMESTAMPTZ '2024-01-01 10:00:00+02'",
    "'2024-01-01 10:00:00+02'::timestamptz",
    "TIMESTAMPTZ '2024-01-01 10:00:00+02' - INTERVAL '1' HOUR",
    "CAST(TIMESTAMP '2024-01-01 10:00:00' AS TIMESTAMPTZ)",
    "date_trunc('day', TIMESTAMPTZ '2024-01-01 10:00:00+02')",
    "EXTRACT(HOUR FROM TIMESTAMPTZ '2024-01-01 10:00:00+02')",
    "TIMESTAMP '2024-01-01 10:00:00.250'",
    "TIME '12:34:56.5'",
    "TIME '00:00:00'",
    // Intervals: signs after a negative field, fractional seconds without trailing
    // zeros; inside arrays too.
    "INTERVAL '-1 day 2 hours'",
    "INTERVAL '1 mon -1 day'",
    "INTERVAL '-1 year -2 mons'",
    "INTERVAL '-1.5 seconds'",
    "INTERVAL '1 day' - INTERVAL '1.25 seconds'",
    "INTERVAL '100 hours 0.5 seconds'",
    "INTERVAL '19.998 seconds'",
    "(INTERVAL '-1 day 2 hours')::text",
    "ARRAY[INTERVAL '1.5 seconds', INTERVAL '-1 day 2 hours']",
    "ARRAY[TIMESTAMP '2024-01-01 10:00:00.5', NULL]",
    "ARRAY[TIMESTAMPTZ '2024-01-01 10:00:00+02']",
    "ARRAY[TIME '12:00:00.25']",
    "ARRAY[true, false]",
    // interval * number, number * interval, interval / number (interval_mul, interval_div).
    "INTERVAL '1 day' * 2",
    "2 * INTERVAL '1 hour'",
    "INTERVAL '1 hour' * 1.5",
    "INTERVAL '1 day' / 2",
    "INTERVAL '1 month' * 0.5",
    "INTERVAL '1 day' * 2.5::float8",
    "INTERVAL '1 month 1 day 1 hour' / 3",
    "INTERVAL '1 year 2 months' * 0.7",
    "INTERVAL '1 minute' * 0.3333",
    "INTERVAL '-1 day 2 hours' * -1.5",
    "INTERVAL '1 day' * 0",
    "DATE '2024-02-29'",
    // Other types.
    "true",
    "1.50::numeric(10,2)",
    // round, trunc, ceil and floor of a numeric take the scale of the call.
    "ceil(1.5)",
    "ceiling(-1.5)",
    "ceiling(2.5::float8)",
    // sign of a numeric is a numeric, of anything else a double precision.
    "sign(-2.50)",
    "sign(0.00)",
    "sign(7)",
    "sign(-3::bigint)",
    "sign('NaN'::float8)",
    "sign('-0'::float8)",
    "sign(CAST('-Infinity' AS REAL))",
    "sign(NULL::numeric)",
    "floor(-1.5)",
    "ceil(9.5)",
    "ceil(-0.5)",
    "trunc(2.57)",
    "trunc(1.25::numeric(10,2), 3)",
    "trunc(1234.5678, -2)",
    "round(2.5, 3)",
    "round(1234.5678, -2)",
    "round(99.99, 1)",
    "round(-2.5)",
    "round(0.5, -40)",
    "ceil(99999999.9999::numeric(12,4))",
    // Integer literals are integers when they fit 32 bits.
    "ARRAY[1, 2147483647, -2147483648]",
    "ARRAY[1, 2147483648]",
    "10 / 4",
    "7 % 3",
    "9223372036854775807::bigint",
    "decode('616263', 'hex')",
];

/// Expressions that still print differently from PostgreSQL, and why.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "10::numeric / 3",
        "DataFusion's decimal division keeps a different scale (3.33333333333333, \
         PostgreSQL 3.3333333333333333)",
    ),
    (
        "2.5::numeric * 2",
        "DataFusion's decimal multiplication adds the operands' scales (5.0000000000)",
    ),
    (
        "ARRAY[1.50, 2]",
        "the numerics of an array share one scale: {1.50,2.00}, PostgreSQL {1.50,2}",
    ),
    (
        "avg(x) FROM (VALUES (1), (2)) t(x)",
        "avg of integers is double precision (1.5), PostgreSQL's numeric \
         (1.5000000000000000)",
    ),
];

/// The text of every value of every row of `sql`'s result (`None` for NULL).
async fn text_rows(client: &Client, sql: &str) -> Result<Vec<Vec<Option<String>>>, String> {
    let messages = client
        .simple_query(sql)
        .await
        .map_err(|e| format!("{sql}: {e}"))?;
    Ok(common::text_rows(&messages))
}

/// `SELECT expression` for each of `expressions`, in Sluice and in PostgreSQL: the
/// rows, or the failure's SQLSTATE, must be the same.
async fn assert_same_answers(sluice: &Client, postgres: &Client, expressions: &[&str]) {
    let answer =
        |result: Result<Vec<tokio_postgres::SimpleQueryMessage>, tokio_postgres::Error>| {
            result
                .map(|m| common::text_rows(&m))
                .map_err(|e| common::sqlstate(&e))
        };
    for expression in expressions {
        let sql = format!("SELECT {expression}");
        assert_eq!(
            answer(sluice.simple_query(&sql).await),
            answer(postgres.simple_query(&sql).await),
            "{sql}"
        );
    }
}

async fn both(sluice: &Client, postgres: &Client, sql: &str) {
    sluice.batch_execute(sql).await.unwrap();
    postgres.batch_execute(sql).await.unwrap();
}

/// Creates materialized view `name` as `query` in Sluice, applies `changes` to both
/// servers, and checks that the view (once flushed) holds what PostgreSQL computes
/// for `query`, both ordered by `order_by` (empty for one row).
async fn assert_view_follows_changes(
    sluice: &Client,
    postgres: &Client,
    (name, query): (&str, &str),
    changes: &str,
    order_by: &str,
) {
    sluice
        .batch_execute(&format!("CREATE MATERIALIZED VIEW {name} AS {query}"))
        .await
        .unwrap();
    both(sluice, postgres, changes).await;
    sluice.batch_execute("FLUSH").await.unwrap();
    assert_eq!(
        text_rows(sluice, &format!("SELECT * FROM {name} {order_by}"))
            .await
            .unwrap(),
        text_rows(postgres, &format!("{query} {order_by}"))
            .await
            .unwrap(),
        "{name} after {changes}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_output_matches_postgres() {
    let servers = Both::start(TABLE).await;
    let (sluice, postgres) = (&servers.ours, &servers.theirs);
    for row in ROWS {
        both(sluice, postgres, &format!("INSERT INTO vals VALUES {row}")).await;
    }
    let expected = text_rows(postgres, "SELECT * FROM vals ORDER BY s")
        .await
        .unwrap();
    assert_eq!(expected.len(), ROWS.len());
    assert_eq!(
        text_rows(sluice, "SELECT * FROM vals ORDER BY s")
            .await
            .unwrap(),
        expected
    );
    // Through a view, every column but the scalar float `r`: a view stores -0 as 0
    // (equal values are one row; docs/postgres-compatibility.md).
    let columns = "b, s, i, l, d, n, t, v, y, dt, ts, tz, iv, ia, ta, fa, ra";
    sluice
        .batch_execute(&format!(
            "CREATE MATERIALIZED VIEW vals_view AS SELECT {columns} FROM vals"
        ))
        .await
        .unwrap();
    let sql = |relation: &str| format!("SELECT {columns} FROM {relation} ORDER BY s");
    assert_eq!(
        text_rows(sluice, &sql("vals_view")).await.unwrap(),
        text_rows(postgres, &sql("vals")).await.unwrap()
    );

    // Under the default extra_float_digits (1: shortest exact digits), and rounded to
    // fewer digits (0 and below), as psql users and drivers set it.
    let mut differences = Vec::new();
    for extra_float_digits in [1, 0, -5, 3] {
        both(
            sluice,
            postgres,
            &format!("SET extra_float_digits = {extra_float_digits}"),
        )
        .await;
        for expression in EXPRESSIONS {
            let sql = format!("SELECT {expression}");
            let ours = text_rows(sluice, &sql).await;
            let theirs = text_rows(postgres, &sql).await;
            if ours != theirs {
                differences.push(format!(
                    "{sql} (extra_float_digits {extra_float_digits}): Sluice {ours:?}, \
                     PostgreSQL {theirs:?}"
                ));
            }
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
    both(sluice, postgres, "SET extra_float_digits = 1").await;

    for (expression, why) in KNOWN_DIFFERENCES {
        let sql = format!("SELECT {expression}");
        let ours = text_rows(sluice, &sql).await.unwrap();
        let theirs = text_rows(postgres, &sql).await.unwrap();
        assert_ne!(
            ours, theirs,
            "{sql} now prints as PostgreSQL does: remove it from KNOWN_DIFFERENCES ({why})"
        );
    }
}

/// Integer arithmetic fails where its result leaves the type's range, and casts to
/// integers round (a numeric half away from zero, a float half to even), as in
/// PostgreSQL: in queries, in `INSERT`'s conversions to column types and in a view.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integer_overflow_and_rounding_answer_as_postgres() {
    let servers = Both::start(
        "CREATE TABLE ints (s SMALLINT, i INT, l BIGINT, n NUMERIC(10,2), f DOUBLE PRECISION, \
         r REAL)",
    )
    .await;
    let (sluice, postgres) = (&servers.ours, &servers.theirs);
    both(
        sluice,
        postgres,
        "INSERT INTO ints VALUES \
         (32767, 2147483647, 9223372036854775807, 2.5, 2.5, 3.5), \
         (-32768, -2147483648, -9223372036854775808, -2.5, -2.5, -0.5), \
         (1, 1, 1, 1.49, 0.5, 1.5), \
         (0, 0, 0, -0.5, 1e10, CAST('NaN' AS REAL))",
    )
    .await;
    // The conversions of INSERT round too.
    both(
        sluice,
        postgres,
        "INSERT INTO ints (s, i, l) VALUES (2.5, 3.5, -2.5), (7, 2.5::float8, 3.5::real)",
    )
    .await;
    assert_same_answers(
        sluice,
        postgres,
        &[
            "s, i, l FROM ints ORDER BY s, i",
            "s + s FROM ints",
            "s + 1::int2 FROM ints WHERE s < 32767 ORDER BY s, i",
            "s * 2::int2 FROM ints",
            "i + i FROM ints",
            "i - 1::int4 FROM ints WHERE i > -2147483648 ORDER BY i",
            "i * 2::int4 FROM ints",
            "l + 1::int8 FROM ints",
            "l - 1::int8 FROM ints",
            "l * 2::int8 FROM ints",
            "l + 1::int8 FROM ints WHERE l < 9223372036854775807 ORDER BY l",
            "-l FROM ints",
            "-i FROM ints WHERE i > -2147483648 ORDER BY i",
            "l / -1::int8 FROM ints",
            "i / 0::int4 FROM ints",
            "9223372036854775807 + 1",
            // Strings that are not values of the type fail as in PostgreSQL.
            "'abc'::int",
            "'1.5'::int",
            "'99999999999'::int",
            "'-99999999999999999999'::bigint",
            "'abc'::float8",
            "'abc'::numeric",
            "'abc'::boolean",
            "'abc'::date",
            "'abc'::timestamp",
            "'abc'::interval",
            // Interval arithmetic fails as PostgreSQL's.
            "INTERVAL '1 day' / 0",
            "INTERVAL '1 month' * 3e9::float8",
            "INTERVAL '1 day' * 'NaN'::float8",
            // Integer literals are integers when they fit 32 bits, as in PostgreSQL.
            "2147483647 + 1",
            "100000 * 100000",
            "2147483648 - 1",
            "-2147483648",
            "i + 1 FROM ints",
            "i + 1 FROM ints WHERE i < 2147483647 ORDER BY s, i",
            "s + 1 FROM ints ORDER BY s, i",
            "l + 1 FROM ints WHERE l < 9223372036854775807 ORDER BY l",
            "-9223372036854775807 - 2",
            "4611686018427387904 * 2",
            "n::int, n::smallint, n::bigint FROM ints WHERE n IS NOT NULL ORDER BY s",
            "f::int FROM ints WHERE f < 1e9 ORDER BY s",
            "f::int FROM ints",
            "r::int FROM ints WHERE r <> CAST('NaN' AS REAL) ORDER BY s",
            "r::int FROM ints",
            "l::int FROM ints",
            "i::smallint FROM ints",
            "2.5::int, (-2.5)::int, 0.5::bigint, 1.5::smallint, 2.5::float8::int, 3.5::float4::int",
            "3000000000::int",
            "9223372036854775808::bigint",
            "sum(i) FROM ints WHERE i > 0",
            "sum(l) FROM ints",
            // sum(bigint) is a numeric: a total beyond bigint's range is returned.
            "sum(l) FROM ints WHERE l > 0",
            "sum(l), count(DISTINCT s) FROM ints WHERE l > 0",
            "sum(i), sum(s), count(DISTINCT l) FROM ints WHERE i > 0",
            // Running totals that stay in range (bigint's ends in one partition).
            "sum(l) OVER (PARTITION BY s > 10000 OR s < -10000 ORDER BY s, i) FROM ints \
             ORDER BY s, i",
            "s, sum(l) FROM ints GROUP BY s ORDER BY s",
        ],
    )
    .await;
    // A view computes the same.
    sluice
        .batch_execute(
            "CREATE MATERIALIZED VIEW rounded AS \
             SELECT s, i, n::int AS ni, f::int AS fi, l - 1 AS lm FROM ints \
             WHERE n IS NOT NULL AND f < 1e9 AND l > -9223372036854775808",
        )
        .await
        .unwrap();
    let query = "SELECT s, i, n::int AS ni, f::int AS fi, l - 1 AS lm FROM ints \
         WHERE n IS NOT NULL AND f < 1e9 AND l > -9223372036854775808 ORDER BY s";
    assert_eq!(
        text_rows(sluice, "SELECT * FROM rounded ORDER BY s")
            .await
            .unwrap(),
        text_rows(postgres, query).await.unwrap()
    );
}

/// Casts to text (`::text`, `CAST(... AS VARCHAR)`, the casts `||` adds) write values
/// as PostgreSQL's output functions do, in queries and in views.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_casts_write_values_as_postgres() {
    let servers = Both::start(TABLE).await;
    let (sluice, postgres) = (&servers.ours, &servers.theirs);
    for row in ROWS {
        both(sluice, postgres, &format!("INSERT INTO vals VALUES {row}")).await;
    }
    let columns = "b::text, s::text, i::text, l::text, r::text, d::text, n::text, t::text, \
         v::text, y::text, dt::text, ts::text, tz::text, iv::text, ia::text, ta::text, \
         fa::text, ra::text";
    assert_same_answers(
        sluice,
        postgres,
        &[
            &format!("{columns} FROM vals ORDER BY s"),
            "1000::float8::text",
            "CAST(1e20::float8 AS VARCHAR)",
            "0.1::real::text",
            "'x' || 1.5::float8",
            "'at ' || TIMESTAMP '2024-01-01 10:00:00.25'",
            "TIMESTAMPTZ '2024-01-01 10:00:00+02'::text",
            "TIME '12:34:56.5'::text",
            "INTERVAL '1 day 2 hours'::text",
            "INTERVAL '-90 minutes'::text",
            "ARRAY[1, 2]::text",
            "ARRAY['a b', NULL, '', 'NULL', 'x\\y']::text",
            "ARRAY[true, false]::text",
            "ARRAY[TIMESTAMP '2024-01-01 10:00:00']::text",
            "ARRAY[1.5::float8, 'NaN'::float8, 1e20]::text",
            "ARRAY[DATE '2024-02-29']::text",
            "decode('00ff41', 'hex')::text",
            "true::text",
            "DATE '2024-02-29'::text",
            "1.50::numeric(10,2)::text",
            "length(24997500::float8::text)",
        ],
    )
    .await;
    sluice
        .batch_execute(
            "CREATE MATERIALIZED VIEW texts AS SELECT s, d::text AS d, ts::text AS ts, \
             iv::text AS iv, ta::text AS ta, fa::text AS fa, 'r=' || r AS r FROM vals",
        )
        .await
        .unwrap();
    let query = "SELECT s, d::text AS d, ts::text AS ts, iv::text AS iv, ta::text AS ta, \
         fa::text AS fa, 'r=' || r AS r FROM vals ORDER BY s";
    assert_eq!(
        text_rows(sluice, "SELECT * FROM texts ORDER BY s")
            .await
            .unwrap(),
        text_rows(postgres, query).await.unwrap()
    );
}

/// Batch `min` and `max` of floats place NaN above every number, with and without
/// `GROUP BY`; numerics of more digits than 28 print whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn float_extremes_and_long_numerics_answer_as_postgres() {
    let servers =
        Both::start("CREATE TABLE obs (g INT, f DOUBLE PRECISION, r REAL, n NUMERIC(38,4))").await;
    let (sluice, postgres) = (&servers.ours, &servers.theirs);
    both(
        sluice,
        postgres,
        "INSERT INTO obs VALUES (1, 1, 1, 1), (1, 'NaN', 'NaN', 2), (1, 2, 2, 3), \
         (2, 'NaN', 'NaN', 12345678901234567890123456789012.3456), \
         (3, -1, -1, -12345678901234567890123456789012.3456), (3, 'NaN', 'NaN', 0), \
         (3, '-Infinity', '-Infinity', NULL), (4, NULL, NULL, NULL)",
    )
    .await;
    assert_same_answers(
        sluice,
        postgres,
        &[
            "g, min(f), max(f), min(r), max(r) FROM obs GROUP BY g ORDER BY g",
            "min(f), max(f), min(r), max(r) FROM obs",
            "g, min(f) OVER (PARTITION BY g), max(r) OVER (PARTITION BY g) FROM obs ORDER BY g, f",
            "g, n FROM obs ORDER BY g, n",
            "g, max(n), min(n) FROM obs GROUP BY g ORDER BY g",
            "123456789012345678901234567890::numeric(38,0)",
            "-1234567890123456789012345678.5::numeric(38,2)",
        ],
    )
    .await;
}

/// `SHOW`'s result column is named as PostgreSQL names it (drivers and BI tools read
/// `DateStyle` by that name).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_names_its_column_as_postgres() {
    let servers = Both::start("").await;
    let (sluice, postgres) = (&servers.ours, &servers.theirs);
    for sql in [
        "SHOW DateStyle",
        "SHOW datestyle",
        "SHOW TIMEZONE",
        "SHOW TIME ZONE",
        "SHOW IntervalStyle",
        "SHOW TRANSACTION ISOLATION LEVEL",
        "SHOW server_version",
        "SHOW search_path",
        "SHOW client_encoding",
        "SHOW standard_conforming_strings",
    ] {
        let name = |statement: tokio_postgres::Statement| statement.columns()[0].name().to_string();
        let expected = name(postgres.prepare(sql).await.expect(sql));
        assert_eq!(
            name(sluice.prepare(sql).await.expect(sql)),
            expected,
            "{sql}"
        );
        let messages = sluice.simple_query(sql).await.expect(sql);
        let simple = messages.iter().find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => {
                Some(row.columns()[0].name().to_string())
            }
            _ => None,
        });
        assert_eq!(simple.as_deref(), Some(expected.as_str()), "{sql} (simple)");
    }
}

/// `pg_get_serial_sequence`: NULL for a column that is not serial (Sluice has none),
/// the same errors as PostgreSQL for a relation or column that does not exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_get_serial_sequence_answers_as_postgres() {
    let servers = Both::start("CREATE TABLE items (id BIGINT PRIMARY KEY, \"Name\" TEXT)").await;
    let (sluice, postgres) = (&servers.ours, &servers.theirs);
    assert_same_answers(
        sluice,
        postgres,
        &[
            "pg_get_serial_sequence('items', 'id')",
            "pg_get_serial_sequence('public.items', 'id')",
            "pg_get_serial_sequence('ITEMS', 'id')",
            "pg_get_serial_sequence('items', 'Name')",
            "pg_get_serial_sequence(NULL, 'id')",
            "pg_get_serial_sequence('nope', 'id')",
            "pg_get_serial_sequence('items', 'nope')",
        ],
    )
    .await;
}

/// `LIKE` / `ILIKE` with an escape character other than the backslash, and operators
/// qualified with `OPERATOR(pg_catalog.op)`, as metadata queries write them, answer as
/// in PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn like_with_any_escape_character_answers_as_postgres() {
    let servers = Both::start("").await;
    let (sluice, postgres) = (&servers.ours, &servers.theirs);
    assert_same_answers(
        sluice,
        postgres,
        &[
            "'a/b' LIKE 'a//b' ESCAPE '/'",
            "'a%b' LIKE 'a/%b' ESCAPE '/'",
            "'axb' LIKE 'a/%b' ESCAPE '/'",
            "'a_b' LIKE 'a#_b' ESCAPE '#'",
            "'azb' LIKE 'a#_b' ESCAPE '#'",
            "'ab' NOT LIKE 'a/b' ESCAPE '/'",
            "'a\\b' LIKE 'a\\b' ESCAPE '/'",
            "'a\\b' LIKE 'a\\_' ESCAPE '/'",
            "'A%B' ILIKE 'a/%%' ESCAPE '/'",
            "'a\\' LIKE 'a\\' ESCAPE ''",
            "'a%' LIKE 'a%' ESCAPE ''",
            "'pg_class' LIKE 'pg/_%' ESCAPE '/'",
            // Patterns that are not literals (SQLAlchemy's inspector writes this one).
            "'pg_class' NOT LIKE 'pg/_' || '%' ESCAPE '/'",
            "'pgxclass' LIKE lower('PG/_') || '%' ESCAPE '/'",
            "'a%b' ILIKE concat('A/', '%B') ESCAPE '/'",
            "like_escape('a//b/%c\\', '/')",
            "like_escape('a\\b', '')",
            "like_escape(NULL, '/')",
        ],
    )
    .await;
    // Operators qualified as catalog queries write them.
    assert_same_answers(
        sluice,
        postgres,
        &[
            "1 OPERATOR(pg_catalog.=) 1",
            "2 OPERATOR(pg_catalog.<) 1",
            "2 OPERATOR(pg_catalog.>=) 2",
            "1 OPERATOR(pg_catalog.<>) 2",
            "7 OPERATOR(pg_catalog.%) 3",
            "7 OPERATOR(pg_catalog.-) 3",
            "'a' OPERATOR(pg_catalog.||) 'b'",
            "'ab' OPERATOR(pg_catalog.~~) 'a%'",
            "'AB' OPERATOR(pg_catalog.~~*) 'a%'",
            "'ab' OPERATOR(pg_catalog.!~~) 'a%'",
            "'ab' OPERATOR(pg_catalog.~) '^a'",
        ],
    )
    .await;
    // PostgreSQL fails on a trailing escape only when a value reaches it.
    let err = sluice
        .simple_query("SELECT 'ab' LIKE 'a/' ESCAPE '/'")
        .await
        .unwrap_err();
    assert_eq!(common::sqlstate(&err), "0A000");
}

/// Result columns that share a name (`SELECT i, i`, `SELECT 1 AS a, 2 AS a`, `INSERT
/// ... SELECT i, i`), `generate_series` in `FROM`, whose column is named after its
/// alias or the function, and calls in special syntax (`substring(s FROM 2)`): the
/// same column names and rows as PostgreSQL's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_column_names_answer_as_postgres() {
    let servers = Both::start(
        "CREATE TABLE pairs (a BIGINT, b BIGINT);
         INSERT INTO pairs SELECT i, i FROM generate_series(1, 3) i;
         CREATE TABLE other (a BIGINT, c TEXT);
         INSERT INTO other VALUES (1, 'x'), (2, 'y');",
    )
    .await;
    let (sluice, postgres) = (&servers.ours, &servers.theirs);
    for sql in [
        "SELECT a, b FROM pairs ORDER BY a",
        "SELECT i, i FROM generate_series(1, 3) i ORDER BY 1",
        "SELECT 1 AS a, 2 AS a",
        "SELECT a, a + 1 AS a, b AS a FROM pairs ORDER BY 1",
        "SELECT p.a, o.a, o.c FROM pairs p JOIN other o ON o.a = p.a ORDER BY 1",
        "SELECT a, a FROM pairs UNION ALL SELECT b, b FROM pairs ORDER BY 1",
        "SELECT * FROM generate_series(1, 2)",
        "SELECT g FROM generate_series(2, 3) AS g",
        "SELECT count(*), count(*) FROM pairs",
        "SELECT a + b, a - b, a * b FROM pairs ORDER BY 1",
        // Calls in the SQL standard's special syntax are named after their function,
        // typed literals after their type.
        "SELECT substr('abc', 2), substring('abc' FROM 2), substring('abc', 2), \
         trim(' a '), trim(LEADING 'x' FROM 'xa'), trim(TRAILING 'x' FROM 'ax'), \
         position('b' IN 'abc'), extract(YEAR FROM DATE '2024-01-01'), ceil(1.5), \
         floor(1.5), overlay('abc' PLACING 'x' FROM 2), DATE '2024-01-01', \
         INTERVAL '1 day', TIMESTAMP '2024-01-01 00:00:00' AT TIME ZONE 'UTC', \
         substring('abc', 2)::text, DATE '2024-01-01'::text",
    ] {
        assert_eq!(
            names(sluice.prepare(sql).await.unwrap()),
            names(postgres.prepare(sql).await.unwrap()),
            "{sql}"
        );
        assert_eq!(
            text_rows(sluice, sql).await,
            text_rows(postgres, sql).await,
            "{sql}"
        );
    }
    // Special registers are named as written (their values are the servers' own).
    let registers = "SELECT current_user, session_user, user, current_role, current_catalog, \
                     current_schema, localtimestamp";
    assert_eq!(
        names(sluice.prepare(registers).await.unwrap()),
        names(postgres.prepare(registers).await.unwrap())
    );
    // CREATE TABLE AS names its columns as the query's result names them.
    both(
        sluice,
        postgres,
        "CREATE TABLE made AS SELECT count(*), upper(c), sum(a), 1 + 1, a FROM other GROUP BY c, a",
    )
    .await;
    let made = "SELECT * FROM made ORDER BY a";
    assert_eq!(
        names(sluice.prepare(made).await.unwrap()),
        names(postgres.prepare(made).await.unwrap())
    );
    assert_eq!(
        text_rows(sluice, made).await,
        text_rows(postgres, made).await
    );
}

fn names(statement: tokio_postgres::Statement) -> Vec<String> {
    statement
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect()
}

/// `regnamespace` and `regtype` values read and print as PostgreSQL's: names in,
/// names out (`format_type`'s for types), `-` for 0, digits as the OID, the OID for
/// comparisons and integer casts, and PostgreSQL's SQLSTATE for a name that is none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regnamespace_and_regtype_answer_as_postgres() {
    let servers = Both::start("CREATE TABLE t (a BIGINT)").await;
    let (sluice, postgres) = (&servers.ours, &servers.theirs);
    assert_same_answers(
        sluice,
        postgres,
        &[
            "'pg_catalog'::regnamespace",
            "'public'::regnamespace::text",
            "' PG_CATALOG '::regnamespace",
            "'\"public\"'::regnamespace, 'x' || 'public'::regnamespace",
            "'pg_catalog'::pg_catalog.regnamespace::oid, 'public'::regnamespace = 2200",
            "0::regnamespace, '-'::regnamespace::oid, 99999::regnamespace::text",
            "'00011'::regnamespace",
            "'nosuch'::regnamespace",
            "'\"PUBLIC\"'::regnamespace",
            "' 11'::regnamespace",
            "'a.b'::regnamespace",
            "''::regnamespace",
            "'integer'::regtype, 'int4'::regtype, 'INT4'::regtype, ' int4 '::regtype",
            "'character varying'::regtype, 'varchar'::regtype, 'text[]'::regtype",
            "'pg_catalog.int8'::regtype, 'pg_catalog.\"char\"'::regtype, '\"char\"'::regtype",
            "'char'::regtype, 'character'::regtype, 'bpchar'::regtype, '_char'::regtype",
            "'_int4'::regtype, 'int[]'::regtype, 'int4 [3][]'::regtype, 'integer array'::regtype",
            "'double precision'::regtype, 'float'::regtype, 'real'::regtype, 'dec'::regtype",
            "'timestamp'::regtype, 'timestamp with time zone'::regtype, 'timestamptz[]'::regtype",
            "'time'::regtype, 'time with time zone'::regtype, 'interval'::regtype",
            "'bit'::regtype, 'bit varying'::regtype, 'national character varying'::regtype",
            "'name'::regtype, 'int2vector'::regtype, 'oidvector[]'::regtype, 'point'::regtype",
            "'regclass'::regtype, 'regtype[]'::regtype, '\"any\"'::regtype, 'record[]'::regtype",
            "'information_schema.cardinal_number'::regtype",
            "'pg_class'::regtype",
            "'int4'::regtype::oid, 'text'::regtype = 25, 23::regtype = 'integer'::regtype",
            "'int4'::regtype::oid::int8 + 1, 'x' || 'int4[]'::regtype",
            "0::regtype, '-'::regtype::oid, 99999::regtype",
            "'00023'::regtype::text",
            "'nosuch'::regtype",
            "'nosuch[]'::regtype",
            "'NoSuch'::regtype",
            "'\"int\"'::regtype",
            "'public.nosuch'::regtype",
            "'public.int4'::regtype",
            "'pg_catalog.integer'::regtype",
            "'nosuch.int4'::regtype",
            "'foo bar'::regtype",
            "'select'::regtype",
            "'int4;'::regtype",
            "''::regtype",
            "' 23'::regtype",
            "'a.b.c.d'::regtype",
            "'4294967296'::regtype",
        ],
    )
    .await;
    // A parameter (sent as text) is read as the literal is.
    for client in [sluice, postgres] {
        let text = tokio_postgres::types::Type::TEXT;
        let statement = client
            .prepare_typed(
                "SELECT $1::regtype::text, $2::regnamespace::text",
                &[text.clone(), text],
            )
            .await
            .unwrap();
        let row = client
            .query_one(&statement, &[&"int4[]", &"public"])
            .await
            .unwrap();
        let (t, n): (String, String) = (row.get(0), row.get(1));
        assert_eq!((t.as_str(), n.as_str()), ("integer[]", "public"));
    }
    // What Sluice cannot read as PostgreSQL does is refused: type modifiers (checked by
    // each type's rules) and the row types of tables, which Sluice's tables lack.
    for statement in [
        "SELECT 'varchar(10)'::regtype",
        "SELECT 'interval year'::regtype",
        "SELECT 't'::regtype",
    ] {
        let error = sluice.simple_query(statement).await.unwrap_err();
        assert_eq!(common::sqlstate(&error), "0A000", "{statement}");
        assert!(
            postgres.simple_query(statement).await.is_ok(),
            "{statement}"
        );
    }
}

/// `date ± interval` is a timestamp, as in PostgreSQL (the interval's time part was
/// dropped), interval text is read as PostgreSQL reads it (its own output was refused),
/// and text read as `bytea` is decoded as PostgreSQL's `byteain` decodes it
/// (hex `\x...` and escapes were stored as their characters), in queries, `INSERT`s,
/// comparisons and views.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dates_with_intervals_and_bytea_input_answer_as_postgres() {
    let servers = Both::start(
        "CREATE TABLE days (k INT, d DATE, span INTERVAL);
         INSERT INTO days VALUES (1, DATE '2024-02-29', INTERVAL '1 hour'),
             (2, DATE '2024-01-31', INTERVAL '1 month 2 days 03:04:05.5'),
             (3, DATE '2024-03-01', INTERVAL '-1 day -2 hours'), (4, NULL, INTERVAL '1 day');
         CREATE TABLE blobs (k INT, data BYTEA);
         INSERT INTO blobs VALUES (1, '\\x0102ff'), (2, 'a\\\\b\\001'), (3, 'plain'),
             (4, '\\x DE ad'), (5, '\\x');",
    )
    .await;
    let (sluice, postgres) = (&servers.ours, &servers.theirs);
    assert_same_answers(
        sluice,
        postgres,
        &[
            "DATE '2024-02-29' + INTERVAL '1 hour'",
            "INTERVAL '1 month' + DATE '2024-01-31'",
            "DATE '2024-03-01' - INTERVAL '1 day 2 hours'",
            "DATE '2024-03-01' - DATE '2024-02-01', DATE '2024-03-01' + 1",
            "k, d + span, span + d, d - span FROM days ORDER BY k",
            "k FROM days WHERE d + span > TIMESTAMP '2024-02-29 00:30:00' ORDER BY k",
            // Interval text as PostgreSQL reads it, its own output included.
            "INTERVAL '1 day 02:00:00', '-1 days +02:00:00'::interval, '1:30'::interval",
            "'1 2:03:04'::interval, '1-2'::interval, '@ 3 days ago'::interval, '10'::interval",
            "'1.5 months'::interval, '1.5 years'::interval, '1.5 weeks'::interval",
            "'1day 2h'::interval, '5 ms 3 us'::interval, '1:30.5'::interval",
            "'P1Y2M3DT4H5M6.5S'::interval, 'PT1.5H'::interval, 'P2W'::interval",
            "INTERVAL '1 year 2 mons 3 days 04:05:06.5' + INTERVAL '-00:00:19.998'",
            "k, span::text::interval = span FROM days ORDER BY k",
            "'1 parsec'::interval",
            "'P'::interval",
            "'\\x0102'::bytea, '\\x 01 02'::bytea, 'a\\\\b\\001'::bytea, 'abc'::bytea",
            "CAST('\\x41' AS BYTEA), '\\x'::bytea",
            "'\\x0'::bytea",
            "'\\xzz'::bytea",
            "'a\\b'::bytea",
            "'\\400'::bytea",
            "k, data FROM blobs ORDER BY k",
            "k FROM blobs WHERE data = '\\x0102ff'",
        ],
    )
    .await;
    sluice
        .batch_execute(
            "CREATE MATERIALIZED VIEW moved AS SELECT k, d + span AS later, d - span AS earlier \
             FROM days;
             CREATE MATERIALIZED VIEW marked AS SELECT k, data FROM blobs \
             WHERE data <> '\\x0102ff'",
        )
        .await
        .unwrap();
    let query = |relation: &str| format!("SELECT * FROM {relation} ORDER BY k");
    assert_eq!(
        text_rows(sluice, &query("moved")).await.unwrap(),
        text_rows(
            postgres,
            "SELECT k, d + span AS later, d - span AS earlier FROM days ORDER BY k"
        )
        .await
        .unwrap()
    );
    assert_eq!(
        text_rows(sluice, &query("marked")).await.unwrap(),
        text_rows(
            postgres,
            "SELECT k, data FROM blobs WHERE data <> '\\x0102ff' ORDER BY k"
        )
        .await
        .unwrap()
    );
}

/// Date and timestamp text is read as PostgreSQL reads it: without seconds, with `T`,
/// month names, `MDY` dates, zones (ignored by `timestamp`, applied by
/// `timestamptz`), rounding beyond microseconds — in literals, casts, `INSERT`s,
/// comparisons and views (Arrow's parser refused most forms and converted zones of
/// `timestamp` text to UTC). Window sizes are read as PostgreSQL reads intervals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn date_and_timestamp_text_answers_as_postgres() {
    let servers = Both::start(
        "CREATE TABLE readings (k INT, at TIMESTAMP, at_zone TIMESTAMPTZ, day DATE, v INT);
         INSERT INTO readings VALUES
             (1, '2024-01-01 00:05', '2024-01-01 00:05 +02', 'Jan 1 2024', 10),
             (2, '2024-01-01T00:15', '2024-01-01 00:15 Europe/Paris', '01/02/2024', 20),
             (3, '2024-01-01 01:15:00.1234567 +05', '2024-01-01 01:15 EST', '2024-1-3', 30),
             (4, '20240101 011600', '2024-01-01 01:16:30Z', '20240104', 40),
             (5, 'Jan 1 2024 1:30 PM', '2024-01-01 13:30 America/New_York', 'epoch', 50);
         CREATE TABLE eras (k INT, t TIMESTAMP, tz TIMESTAMPTZ, d DATE);
         INSERT INTO eras VALUES (1, '0044-03-15 12:00 BC', '0044-03-15 12:00 BC', '0044-03-15 BC'),
             (2, '0001-01-01', '0001-01-01 00:00+00', '0001-01-01'),
             (3, '12000-01-01 10:00:00.5', '12000-01-01 10:00 UTC', '12000-01-01');",
    )
    .await;
    let (sluice, postgres) = (&servers.ours, &servers.theirs);
    postgres
        .batch_execute("SET TimeZone = 'UTC'")
        .await
        .unwrap();
    assert_same_answers(
        sluice,
        postgres,
        &[
            "'2020-04-15 12:02'::timestamp, '2020-04-15 12:02'::timestamptz",
            "TIMESTAMP '2020-04-15T12:02', TIMESTAMPTZ '2020-04-15 12:02 +05:30'",
            "'2020-04-15 12:02:03 +05:30'::timestamp, '2020-04-15 12:02:03 Europe/Paris'::timestamp",
            "'2020-04-15 12:02:03.1234567'::timestamp, '2020-04-15 23:59:59.9999999'::timestamp",
            "'Wed Apr 15 2020 12:02 PM'::timestamp, '15 April 2020 1:02 am'::timestamptz",
            "'04/15/20'::timestamp, '2020/04/15'::date, 'April 15, 2020'::date, DATE 'epoch'",
            "'2020-04-15 24:00'::timestamp, '2020-04-15 12:02 -0330'::timestamptz",
            "'2018-11-04 01:30 America/New_York'::timestamptz",
            "'2018-03-11 02:30 America/New_York'::timestamptz",
            "'2020-04-15 12:02 CET'::timestamptz, '2020-07-15 12:02 CEST'::timestamptz",
            "'2020-02-30'::timestamp",
            "'2020-04-15 12:60'::timestamp",
            "'15/04/2020'::date",
            "'12:02'::timestamp",
            "'2020-04-15 12:02 Mars/Olympus'::timestamptz",
            "'2020-04-15 12:02 +16'::timestamptz",
            "'abc'::timestamptz",
            "k, at, at_zone, day FROM readings ORDER BY k",
            "k FROM readings WHERE at >= '2024-01-01 01:15' AND day < 'Jan 4 2024' ORDER BY k",
            "k FROM readings WHERE at_zone = '2024-01-01 06:15 UTC' ORDER BY k",
            "k, t, tz, d, t::text, d::text FROM eras ORDER BY k",
            // Quoted literals in a VALUES list take the type of their column's typed values.
            "* FROM (VALUES (DATE '2024-01-01', 1), ('Jan 2 2024', 2), (NULL, 3)) t(d, n)",
            "* FROM (VALUES ('2020-04-15 12:02'), (TIMESTAMP '2020-04-15T13:02')) t(x)",
            "* FROM (VALUES ('2020-04-15 12:02 +02'), ('2020-04-15'::timestamptz)) t(x)",
            "* FROM (VALUES (INTERVAL '1 day'), ('-1 days +02:00:00'), ('P1DT2H')) t(i)",
            "* FROM (VALUES (true), ('f'), ('yes')) t(b)",
            "* FROM (VALUES (DATE '2024-01-01'), ('not a date')) t(d)",
        ],
    )
    .await;
    sluice
        .batch_execute(
            "CREATE MATERIALIZED VIEW per_ten AS SELECT window_start, sum(v) AS total \
             FROM TUMBLE(readings, at, INTERVAL '00:10:00') GROUP BY window_start;
             INSERT INTO readings VALUES (6, '2024-01-01 00:09:59.9999996', NULL, NULL, 60);
             FLUSH",
        )
        .await
        .unwrap();
    postgres
        .batch_execute(
            "INSERT INTO readings VALUES (6, '2024-01-01 00:09:59.9999996', NULL, NULL, 60)",
        )
        .await
        .unwrap();
    assert_eq!(
        text_rows(sluice, "SELECT * FROM per_ten ORDER BY window_start")
            .await
            .unwrap(),
        text_rows(
            postgres,
            "SELECT date_bin('10 minutes', at, TIMESTAMP '1970-01-01') AS window_start, \
             sum(v) AS total FROM readings GROUP BY 1 ORDER BY 1"
        )
        .await
        .unwrap()
    );
}

/// EXTRACT is a `numeric` of PostgreSQL's scale, `timestamp - timestamp` an interval of
/// days and time, and intervals compare, sort and take `max`/`min` by their span (a
/// month as 30 days): in queries, and in a view after deletes and updates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extract_and_interval_comparisons_answer_as_postgres() {
    let servers = Both::start(
        "CREATE TABLE trips (id INT PRIMARY KEY, kind TEXT, started TIMESTAMP, ended TIMESTAMP,
                             day DATE, planned INTERVAL);
         INSERT INTO trips VALUES
             (1, 'a', '2024-01-01 10:00', '2024-01-02 11:00:00.25', '2024-01-01', '25 hours'),
             (2, 'a', '2024-01-01 10:00', '2024-01-01 10:30', '0044-03-15 BC', '1 day'),
             (3, 'b', '2024-01-05 00:00', '2024-02-06 00:00', '2000-01-01', '1 month'),
             (4, 'b', '1999-12-31 23:59:59.999999', '1999-12-31 12:00', '1999-12-31', '29 days 25:00'),
             (5, 'c', NULL, NULL, NULL, NULL);",
    )
    .await;
    let (sluice, postgres) = (&servers.ours, &servers.theirs);
    postgres
        .batch_execute("SET TimeZone = 'UTC'")
        .await
        .unwrap();
    assert_same_answers(
        sluice,
        postgres,
        &[
            "extract(epoch from timestamp '2024-06-01 12:00:00.5'), \
             extract(epoch from timestamptz '2024-06-01 12:00:00+02')",
            "extract(second from timestamp '2024-06-01 12:00:07.5'), \
             extract(ms from interval '1.5 s'), extract(us from timestamp '2024-06-01 00:00:01')",
            "extract(hour from date '2024-01-01')",
            "extract(foo from timestamp '2024-01-01')",
            "extract(timezone from timestamp '2024-01-01')",
            "extract(timezone_hour from timestamptz '2024-01-01 00:00+00')",
            "id, extract(epoch from ended - started), extract(hour from ended - started), \
             extract(second from ended - started), ended - started FROM trips ORDER BY id",
            "id, extract(year from day), extract(century from day), extract(isoyear from day), \
             extract(epoch from day), extract(julian from day) FROM trips ORDER BY id",
            "id, extract(epoch from planned), extract(day from planned), \
             extract(month from planned) FROM trips ORDER BY id",
            "interval '25 hours' > interval '1 day', interval '1 month' = interval '30 days', \
             interval '1 day' BETWEEN interval '23 hours' AND interval '25 hours'",
            "id FROM trips WHERE planned >= interval '1 day' AND planned < interval '720 hours' \
             ORDER BY id",
            "id, planned FROM trips ORDER BY planned, id",
            "id FROM trips WHERE ended - started > interval '1 day' ORDER BY id",
            "kind, max(planned), min(planned), max(ended - started) FROM trips GROUP BY kind \
             ORDER BY kind",
            "timestamp '2024-01-01' - timestamp '2024-01-09 03:00'",
            // DataFusion's date_trunc works in nanoseconds: 44 BC fails with 22008.
            "id, date_trunc('week', day), date_trunc('month', day), date_trunc('day', started) \
             FROM trips WHERE id <> 2 ORDER BY id",
        ],
    )
    .await;
    let view = "SELECT kind, max(ended - started) AS longest, min(planned) AS shortest_plan, \
                count(*) FILTER (WHERE ended - started > planned) AS late, \
                sum(extract(epoch from ended - started)) AS seconds, \
                max(extract(dow from started)) AS dow FROM trips GROUP BY kind";
    assert_view_follows_changes(
        sluice,
        postgres,
        ("by_kind", view),
        "DELETE FROM trips WHERE id = 1;
         UPDATE trips SET planned = '31 days' WHERE id = 4;
         INSERT INTO trips VALUES (6, 'a', '2024-03-01', '2024-03-03 01:00', NULL, '2 days');",
        "ORDER BY kind",
    )
    .await;
}

/// A `real` meeting an integer or `numeric` is compared and computed as a `double
/// precision`, as are `real` arguments of PostgreSQL's double-only math functions;
/// float arithmetic fails on a zero divisor, overflow and underflow: in queries and in
/// a view kept up to date through deletes and inserts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_operands_answer_as_postgres() {
    let servers = Both::start(
        "CREATE TABLE sensors (id INT PRIMARY KEY, r REAL, n INT);
         INSERT INTO sensors VALUES (1, 1.1, 1), (2, 16777217, 16777217), (3, 2.5, 3),
             (4, -0.1, 0), (5, NULL, NULL);",
    )
    .await;
    let (sluice, postgres) = (&servers.ours, &servers.theirs);
    assert_same_answers(
        sluice,
        postgres,
        &[
            "1.1::float4 > 1.1, 1.1::float4 = 1.1, 16777217::float4 = 16777217, \
             10::float4 / 3, 1 - 1.1::float4, 1.1::float4 * 1.1::float8",
            "1.1::float4 IN (1.1), 1.1::float4 NOT IN (1.1, 2), \
             16777217::float4 IN (16777217, 5), 16777217::float4 IN (16777217, 5::float8), \
             1.1::float4 BETWEEN 1.1 AND 2",
            "sqrt(2::float4), ln(2::float4), power(1.1::float4, 2), abs(-1.1::float4), \
             round(2.5::float4), floor(-1.5::float4)",
            "id, r = 1.1, r > 1.1, r = n, r * 3, r / nullif(n, 0), r + 0.1, sqrt(abs(r)) \
             FROM sensors ORDER BY id",
            "id, r / n FROM sensors ORDER BY id",
            "1::float8 / 0",
            "'nan'::float8 / 0, 1::float8 / 'infinity'::float8, 'infinity'::float8 - 1",
            "'1e308'::float8 * 10",
            "'1e-300'::float8 * '1e-300'::float8",
            "'3e38'::float4 + '3e38'::float4",
            "id FROM sensors WHERE r IN (1.1, 16777217) ORDER BY id",
            "id FROM sensors WHERE r = 16777217 OR r BETWEEN 2.5 AND 3 ORDER BY id",
            // PostgreSQL has no float remainder.
            "5.5::float8 % 2",
            "mod(r, 2.0) FROM sensors",
            "7 % 3, mod(-7, 3), 5.5 % 2, n % 2 FROM sensors ORDER BY id",
            // Values beyond a float's range fail; infinities written as such do not.
            "'-1e-300'::float8::real",
            "'1e300'::float8::real",
            "'1e-40'::float8::real, 'nan'::float8::real, '-inf'::float8::real",
            "'1e40'::real",
            "' -Infinity'::real, 'NaN'::float8, '1e308'::float8",
            "'1e400'::float8",
            "'1e-400'::float8",
            "'1e40'::numeric::real",
            "'abc'::real",
            "r * 1e38::float8 FROM sensors ORDER BY id",
            "(r * 1e38::float8)::real FROM sensors ORDER BY id",
        ],
    )
    .await;
    for out_of_range in [
        "INSERT INTO sensors VALUES (9, 1e39, 1)",
        "INSERT INTO sensors SELECT 10, '1e-300'::float8, 1",
    ] {
        let ours = sluice.batch_execute(out_of_range).await.unwrap_err();
        let theirs = postgres.batch_execute(out_of_range).await.unwrap_err();
        assert_eq!(
            (
                common::sqlstate(&ours),
                ours.as_db_error().map(|e| e.message().to_string())
            ),
            (
                common::sqlstate(&theirs),
                theirs.as_db_error().map(|e| e.message().to_string())
            ),
            "{out_of_range}"
        );
    }
    let view = "SELECT count(*) FILTER (WHERE r = 1.1) AS exact, \
                count(*) FILTER (WHERE r > 1.1) AS above, sum(r * 2) AS doubled, \
                max(sqrt(abs(r))) AS root FROM sensors";
    assert_view_follows_changes(
        sluice,
        postgres,
        ("reals", view),
        "DELETE FROM sensors WHERE id = 3; INSERT INTO sensors VALUES (6, 1.1, 2), (7, 9.5, 1);",
        "",
    )
    .await;
}

/// `SIMILAR TO` matches the whole text with PostgreSQL's SQL regular expressions
/// (`%`, `_`, `|`, groups, classes, `ESCAPE`), constant patterns and a pattern column,
/// in queries and a view.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn similar_to_answers_as_postgres() {
    let servers = Both::start(
        "CREATE TABLE names (id INT PRIMARY KEY, s TEXT, p TEXT);
         INSERT INTO names VALUES (1, 'abc', 'a%'), (2, 'xabcx', 'abc'), (3, 'a.c', 'a.c'),
             (4, 'abc', 'a.c'), (5, 'AbC', '[A-Z]%'), (6, 'a%', 'a\\%'), (7, NULL, 'a'),
             (8, 'aaab', 'a+b?'), (9, 'b', '(a|b)');",
    )
    .await;
    let (sluice, postgres) = (&servers.ours, &servers.theirs);
    assert_same_answers(
        sluice,
        postgres,
        &[
            "id, s SIMILAR TO 'a%', s SIMILAR TO '%b_', s NOT SIMILAR TO '(a|x)%', \
             s SIMILAR TO 'a#%' ESCAPE '#', s SIMILAR TO p FROM names ORDER BY id",
            "'a^$b' SIMILAR TO 'a^$b', 'abc' SIMILAR TO 'abc\\', 'ab' SIMILAR TO 'a{1}b'",
        ],
    )
    .await;
    let view = "SELECT count(*) FILTER (WHERE s SIMILAR TO 'a%') AS starts_with_a, \
                count(*) FILTER (WHERE s SIMILAR TO p) AS own_pattern FROM names";
    assert_view_follows_changes(
        sluice,
        postgres,
        ("similar", view),
        "DELETE FROM names WHERE id = 1; INSERT INTO names VALUES (10, 'azz', 'a_z');",
        "",
    )
    .await;
}

/// `trim([LEADING | TRAILING | BOTH] FROM s)`, which names no characters, trims spaces
/// as in PostgreSQL (the SQL parser refused it), in queries and a view.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trim_without_characters_answers_as_postgres() {
    let servers = Both::start(
        "CREATE TABLE padded (id INT PRIMARY KEY, s TEXT);
         INSERT INTO padded VALUES (1, '  a  '), (2, NULL), (3, 'b '), (4, 'xx');",
    )
    .await;
    let (sluice, postgres) = (&servers.ours, &servers.theirs);
    assert_same_answers(
        sluice,
        postgres,
        &[
            "id, trim(LEADING FROM s) || '|', trim(TRAILING FROM s) || '|', \
             trim(BOTH FROM s) || '|', trim(FROM s) || '|', trim(LEADING 'x' FROM s) \
             FROM padded ORDER BY id",
        ],
    )
    .await;
    assert_view_follows_changes(
        sluice,
        postgres,
        (
            "trimmed",
            "SELECT id, trim(LEADING FROM s) AS s FROM padded",
        ),
        "DELETE FROM padded WHERE id = 1; INSERT INTO padded VALUES (5, '  c');",
        "ORDER BY id",
    )
    .await;
}

/// A `numeric` in its binary form, as the server sent it (or is to receive it).
#[derive(Debug, PartialEq)]
struct NumericBytes(Vec<u8>);

impl<'a> tokio_postgres::types::FromSql<'a> for NumericBytes {
    fn from_sql(
        _: &tokio_postgres::types::Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(NumericBytes(raw.to_vec()))
    }

    fn accepts(ty: &tokio_postgres::types::Type) -> bool {
        *ty == tokio_postgres::types::Type::NUMERIC
    }
}

impl tokio_postgres::types::ToSql for NumericBytes {
    fn to_sql(
        &self,
        _: &tokio_postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(&self.0);
        Ok(tokio_postgres::types::IsNull::No)
    }

    fn accepts(ty: &tokio_postgres::types::Type) -> bool {
        *ty == tokio_postgres::types::Type::NUMERIC
    }

    tokio_postgres::types::to_sql_checked!();
}

/// The binary form of the first column of each row of `sql`.
async fn binary_numerics(client: &Client, sql: &str) -> Vec<NumericBytes> {
    let rows = client.query(sql, &[]).await.unwrap();
    rows.iter().map(|row| row.get(0)).collect()
}

/// An unconstrained `NUMERIC` holds 66 digits before the point: products and sums of
/// products past 38 digits answer as PostgreSQL's (they overflowed), in queries and
/// views, in text and binary results and from binary parameters; a result past 76
/// digits overflows with PostgreSQL's words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wide_numerics_answer_as_postgres() {
    let servers = Both::start(
        "CREATE TABLE line (id INT PRIMARY KEY, qty NUMERIC(30,4), price NUMERIC);
         INSERT INTO line VALUES (1, 12345678901234567890.1234, 98765432109876543210.5),
           (2, -3.5, 2.25), (3, 99999999999999999999.9999, 99999999999999999999999999999.99);",
    )
    .await;
    let (sluice, postgres) = (&servers.ours, &servers.theirs);
    let queries = [
        "id, round(qty * price, 5) FROM line ORDER BY id",
        "round(sum(qty * price), 2), round(sum(price), 2), max(price)::numeric(76,2), \
         min(qty * price)::numeric(76,4) FROM line",
        "id, trunc(price), ceil(price), floor(-price), sign(-price), round(price, -3), \
         abs(-price)::numeric(76,2) FROM line ORDER BY id",
        "round(123456789012345678901234567890.5::numeric * 1000000000000, 1)",
        "'123456789012345678901234567890.125'::numeric(40,2)",
    ];
    assert_same_answers(sluice, postgres, &queries).await;
    for sql in [
        "SELECT round(qty * price, 5) FROM line ORDER BY id",
        "SELECT round(sum(qty * price), 3) FROM line",
        "SELECT 1234567890123456789012345678901234567890.5::numeric(45,1)",
        "SELECT qty FROM line ORDER BY id",
    ] {
        assert_eq!(
            binary_numerics(sluice, sql).await,
            binary_numerics(postgres, sql).await,
            "{sql} in binary"
        );
    }
    // PostgreSQL's own binary form of a 40-digit value, as a parameter to both.
    let [wide] = &binary_numerics(
        postgres,
        "SELECT 9876543210987654321098765432109876543.21::numeric",
    )
    .await[..] else {
        panic!("one value");
    };
    for client in [sluice, postgres] {
        client
            .execute(
                "INSERT INTO line VALUES (4, 1.5, $1)",
                &[&NumericBytes(wide.0.clone())],
            )
            .await
            .unwrap();
    }
    assert_same_answers(sluice, postgres, &queries[..3]).await;
    assert_view_follows_changes(
        sluice,
        postgres,
        (
            "line_totals",
            "SELECT id % 2 AS odd, round(sum(qty * price), 4) AS total, \
             round(avg(price), 2) AS mean, max(price)::numeric(76,2) AS top, count(*) AS n \
             FROM line GROUP BY id % 2",
        ),
        "INSERT INTO line VALUES (5, 7, 123456789012345678901234567890123.5);
         UPDATE line SET price = price * 1000 WHERE id = 1;
         DELETE FROM line WHERE id = 2;",
        "ORDER BY odd",
    )
    .await;
    let error = sluice
        .simple_query("SELECT 1e40::numeric * 1e40::numeric")
        .await
        .unwrap_err();
    assert_eq!(common::sqlstate(&error), "22003");
    let message = error.as_db_error().map(|e| e.message().to_string());
    assert_eq!(message.as_deref(), Some("value overflows numeric format"));
}

/// Text read as a `numeric` as PostgreSQL reads it: exponents, bare points, spaces, in
/// casts and `INSERT`s; `NaN`, which PostgreSQL's `numeric` holds, is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numeric_text_answers_as_postgres() {
    let servers = Both::start(
        "CREATE TABLE amounts (id INT PRIMARY KEY, a NUMERIC(12,3));
         INSERT INTO amounts VALUES (1, '2.5e3'), (2, ' -1.0005E-1 '), (3, '.5'), (4, '7.');",
    )
    .await;
    let (sluice, postgres) = (&servers.ours, &servers.theirs);
    assert_same_answers(
        sluice,
        postgres,
        &[
            "id, a FROM amounts ORDER BY id",
            "'1e5'::numeric(10,2)",
            "' -1.5E-3 '::numeric(10,4)",
            "'+12.5e1'::numeric(6,1)",
            "'1e-20'::numeric(10,2)",
            "'abc'::numeric",
            "'1e'::numeric",
            "'1e5'::numeric(3,0)",
            "'1e1000'::numeric(10,0)",
        ],
    )
    .await;
    let error = sluice
        .simple_query("SELECT 'NaN'::numeric")
        .await
        .unwrap_err();
    assert_eq!(common::sqlstate(&error), "0A000");
}

/// `to_timestamp(text, pattern)` and `to_date(text, pattern)` read as PostgreSQL's:
/// spaces and separators, fixed and `FM` widths, names, 12-hour clocks, partial years,
/// days of the year, Julian days, and PostgreSQL's errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn to_timestamp_and_to_date_read_patterns_as_postgres() {
    let servers = Both::start(
        "CREATE TABLE stamped (id INT PRIMARY KEY, t TEXT);
         INSERT INTO stamped VALUES (1, '2024-06-01 12:02:03'), (2, '1999-12-31 23:59:59'),
           (3, NULL), (4, '2000-02-29 00:00:00');",
    )
    .await;
    let (sluice, postgres) = (&servers.ours, &servers.theirs);
    let pairs = [
        ("2024-06-01 12:02:03", "YYYY-MM-DD HH24:MI:SS"),
        ("  2000    JUN", "YYYY MON"),
        ("2000 - JUN", "YYYY-MON"),
        ("2000JUN", "YYYY///MON"),
        ("2000/JUN", "YYYY MON"),
        ("2000//JUN", "YYYY/MON"),
        ("2000/JUN", "FXYYYY MON"),
        ("2000/JUN", "FXYYYY  MON"),
        ("5 March 2024", "FMDD Month YYYY"),
        ("5 march 2024", "DD Month YYYY"),
        ("20240229", "YYYYMMDD"),
        ("99-1-5", "YY-MM-DD"),
        ("5-1-5", "Y-MM-DD"),
        ("450-1-5", "YYY-MM-DD"),
        ("2024-060", "YYYY-DDD"),
        ("2024-366", "YYYY-DDD"),
        ("12:30 PM", "HH:MI AM"),
        ("12:30 a.m.", "HH12:MI P.M."),
        ("13:00 PM", "HH:MI AM"),
        ("1,999 12 31", "Y,YYY MM DD"),
        ("2024-01-02 03:04:05.5", "YYYY-MM-DD HH24:MI:SS.MS"),
        ("2024-01-02 03:04:05.12", "YYYY-MM-DD HH24:MI:SS.US"),
        ("2024-01-02 03:04:05.123456789", "YYYY-MM-DD HH24:MI:SS.FF3"),
        ("2451545", "J"),
        ("2024 xii", "YYYY RM"),
        ("21 05", "CC YY"),
        ("21", "CC"),
        ("2024-01-01T10:00", "YYYY-MM-DD\"T\"HH24:MI"),
        ("2024-01-01 garbage", "YYYY-MM-DD"),
        ("2024", "YYYY-MM-DD"),
        ("2024-02-30", "YYYY-MM-DD"),
        ("2024-13-01", "YYYY-MM-DD"),
        ("2024-Foo-01", "YYYY-Mon-DD"),
        ("202", "YYYYMMDD"),
        ("2024-1x-01", "YYYYMMDD"),
        ("2024 2025", "YYYY YYYY"),
        ("060", "DDD"),
        ("1st 2nd 2024", "DDth MMth YYYY"),
        ("Monday 3 2024 06", "Day D YYYY MM"),
        ("05 BC 2 3", "YYYY BC MM DD"),
        ("100000-01-01", "YYYY-MM-DD"),
        ("0000-03-04", "YYYY-MM-DD"),
        ("12 30 45", "SSSS"),
        ("4500", "SSSS"),
        ("2024 12 w3", "YYYY MM \"w\"W"),
    ];
    let mut expressions = Vec::new();
    for (text, pattern) in pairs {
        expressions.push(format!("to_timestamp('{text}', '{pattern}')"));
        expressions.push(format!("to_date('{text}', '{pattern}')"));
    }
    let expressions: Vec<&str> = expressions.iter().map(String::as_str).collect();
    assert_same_answers(sluice, postgres, &expressions).await;
    assert_view_follows_changes(
        sluice,
        postgres,
        (
            "parsed",
            "SELECT id, to_timestamp(t, 'YYYY-MM-DD HH24:MI:SS') AS at, \
             to_date(t, 'YYYY-MM-DD') AS day FROM stamped",
        ),
        "INSERT INTO stamped VALUES (5, '2024-02-29 13:45:59'); DELETE FROM stamped WHERE id = 2;",
        "ORDER BY id",
    )
    .await;
}

/// `sum(real)` is a `real`, as in PostgreSQL (it was a `double precision` printed with
/// 17 digits), in queries, windows and views; `avg(real)` stays a `double precision`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sums_of_reals_are_reals_as_postgres() {
    let servers = Both::start(
        "CREATE TABLE readings (id INT PRIMARY KEY, g INT, r REAL);
         INSERT INTO readings VALUES (1, 1, 1.1), (2, 1, 2.2), (3, 2, 0.1), (4, 2, NULL),
           (5, 3, 1e30), (6, 3, 1e30);",
    )
    .await;
    let (sluice, postgres) = (&servers.ours, &servers.theirs);
    assert_same_answers(
        sluice,
        postgres,
        &[
            "sum(r), pg_typeof(sum(r)), pg_typeof(avg(r)) FROM readings WHERE g < 3",
            "g, sum(r), count(r) FROM readings GROUP BY g ORDER BY g",
            "id, sum(r) OVER (PARTITION BY g ORDER BY id) FROM readings ORDER BY id",
            "sum(DISTINCT r) FROM readings WHERE g = 1",
            "count(DISTINCT g), sum(r) FROM readings WHERE g < 3",
        ],
    )
    .await;
    assert_view_follows_changes(
        sluice,
        postgres,
        (
            "reading_sums",
            "SELECT g, sum(r) AS total FROM readings GROUP BY g",
        ),
        "INSERT INTO readings VALUES (7, 2, 2.5); DELETE FROM readings WHERE id = 2;
         UPDATE readings SET r = 0.25 WHERE id = 3;",
        "ORDER BY g",
    )
    .await;
}

/// Intervals as keys are compared by their span, as PostgreSQL's are (`'1 mon'`,
/// `'30 days'` and `'720:00:00'` are one group): `GROUP BY`, `DISTINCT`, `DISTINCT ON`,
/// `UNION`, `count(DISTINCT)`, window partitions, orders and range frames, and joins, in
/// queries and in views kept through a random stream of inserts, updates and deletes.
/// Which of a group's equal intervals PostgreSQL shows depends on its plan, so the
/// groups are shown through `justify_interval`, which is the same for all of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intervals_as_keys_answer_as_postgres() {
    const FORMS: &[&str] = &[
        "'1 mon'",
        "'30 days'",
        "'720 hours'",
        "'1 day'",
        "'24 hours'",
        "'1 day -1 hour'",
        "'23 hours'",
        "'2 mons'",
        "'1 mon 30 days'",
        "'60 days'",
        "'-1 day'",
        "'-24 hours'",
        "'1 mon -1 day'",
        "'29 days'",
        "NULL",
    ];
    let servers = Both::start(
        "CREATE TABLE spans (id INT PRIMARY KEY, i INTERVAL, n INT);
         CREATE TABLE plans (j INTERVAL, m INT);",
    )
    .await;
    let (sluice, postgres) = (&servers.ours, &servers.theirs);
    let mut seed: u64 = 0x5eed;
    let mut next = |below: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize % below
    };
    let rows: Vec<String> = (0..400)
        .map(|id| format!("({id}, {}, {})", FORMS[next(FORMS.len())], next(100)))
        .collect();
    let plans: Vec<String> = (0..40)
        .map(|m| format!("({}, {m})", FORMS[next(FORMS.len())]))
        .collect();
    both(
        sluice,
        postgres,
        &format!(
            "INSERT INTO spans VALUES {}; INSERT INTO plans VALUES {};",
            rows.join(", "),
            plans.join(", ")
        ),
    )
    .await;
    let queries = [
        (
            "by_span",
            "SELECT justify_interval(i) AS i, count(*) AS c, sum(n) AS s \
                     FROM spans GROUP BY i",
            "ORDER BY 1",
        ),
        (
            "distinct_spans",
            "SELECT justify_interval(i) AS i \
                            FROM (SELECT DISTINCT i FROM spans) d",
            "ORDER BY 1",
        ),
        (
            "first_per_span",
            "SELECT DISTINCT ON (i) justify_interval(i) AS i, id \
                            FROM spans ORDER BY i, id",
            "ORDER BY 1",
        ),
        (
            "both_spans",
            "SELECT justify_interval(i) AS i \
                        FROM (SELECT i FROM spans UNION SELECT j FROM plans) u",
            "ORDER BY 1",
        ),
        (
            "span_count",
            "SELECT count(DISTINCT i) AS c, count(*) AS rows FROM spans",
            "",
        ),
        (
            "windows",
            "SELECT id, count(*) OVER (PARTITION BY i) AS peers, \
                     rank() OVER (ORDER BY i) AS r, \
                     sum(n) OVER (ORDER BY i RANGE BETWEEN '1 day' PRECEDING \
                                  AND '1 hour' FOLLOWING) AS near FROM spans",
            "ORDER BY id",
        ),
        (
            "planned",
            "SELECT id, m FROM spans JOIN plans ON i = j",
            "ORDER BY id, m",
        ),
    ];
    for (name, query, _) in &queries {
        sluice
            .batch_execute(&format!("CREATE MATERIALIZED VIEW {name} AS {query}"))
            .await
            .unwrap();
    }
    let mut live: Vec<usize> = (0..400).collect();
    let mut fresh = 400..;
    for round in 0..8 {
        let mut changes = String::new();
        for _ in 0..30 {
            let at = next(live.len());
            changes += &match next(3) {
                0 => {
                    live.extend(fresh.next());
                    format!(
                        "INSERT INTO spans VALUES ({}, {}, {});",
                        live[live.len() - 1],
                        FORMS[next(FORMS.len())],
                        next(100)
                    )
                }
                1 => format!(
                    "UPDATE spans SET i = {} WHERE id = {};",
                    FORMS[next(FORMS.len())],
                    live[at]
                ),
                _ => format!("DELETE FROM spans WHERE id = {};", live.swap_remove(at)),
            };
        }
        both(sluice, postgres, &changes).await;
        sluice.batch_execute("FLUSH").await.unwrap();
        for (name, query, order_by) in &queries {
            let ordered = format!("SELECT * FROM ({query}) q {order_by}");
            let expected = text_rows(postgres, &ordered).await.unwrap();
            assert_eq!(
                text_rows(sluice, &format!("SELECT * FROM {name} {order_by}"))
                    .await
                    .unwrap(),
                expected,
                "view {name} after round {round}"
            );
            assert_eq!(
                text_rows(sluice, &ordered).await.unwrap(),
                expected,
                "{ordered} after round {round}"
            );
        }
    }
    assert_same_answers(
        sluice,
        postgres,
        &[
            "i, count(*) FROM (VALUES (interval '1 month'), (interval '30 days'), \
             (interval '1 day'), (interval '24 hours')) v(i) GROUP BY i ORDER BY i",
            "sum(n) OVER (ORDER BY i RANGE BETWEEN 'x' PRECEDING AND CURRENT ROW) FROM spans",
        ],
    )
    .await;
    // Which of the equal intervals these would list is PostgreSQL's plan's choice.
    for refused in [
        "SELECT array_agg(DISTINCT i) FROM spans",
        "SELECT i, count(*) FROM spans GROUP BY ROLLUP (i)",
    ] {
        let error = sluice.simple_query(refused).await.unwrap_err();
        assert_eq!(common::sqlstate(&error), "0A000", "{refused}");
    }
}

/// `to_char` of numbers writes what PostgreSQL writes: a seeded random set of values of
/// every number type and patterns of digits, points, separators, signs, fill mode and
/// text, compared with PostgreSQL 15 (the text, or the failure's SQLSTATE). Patterns
/// Sluice does not write (`EEEE`, `RN`, `TH`, `V`, `L`, `B`) and floats that are not
/// finite are refused (`0A000`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn to_char_of_numbers_answers_as_postgres() {
    const PIECES: &[&str] = &[
        "9",
        "9",
        "9",
        "0",
        "0",
        ".",
        "D",
        ",",
        "G",
        "S",
        "MI",
        "PL",
        "SG",
        "PR",
        "FM",
        "\"x\"",
        " ",
        "$",
        "-",
        "C",
        "SP",
        "fm",
        "mi",
        "s",
        "999",
        "9,999",
        "0000",
        ".99",
        ".00",
        "9999999",
        ".999999999",
        "é",
    ];
    const VALUES: &[&str] = &[
        "0::int",
        "7::int",
        "-7::int",
        "2147483647::int",
        "-2147483648::int",
        "-9223372036854775808::bigint",
        "123456::bigint",
        "12::smallint",
        "-32768::smallint",
        "0.5::numeric",
        "-0.5::numeric",
        "1.005::numeric(10,3)",
        "99.95::numeric",
        "-12.345::numeric(12,4)",
        "0.0049::numeric",
        "1234567890123.456789::numeric",
        "-0.001::numeric",
        "99999999999999999999.99999::numeric",
        "0.125::float8",
        "2.5::float8",
        "-3.75::float8",
        "1e15::float8",
        "123456789012345.6::float8",
        "1234567.891::float8",
        "-1e-5::float8",
        "0.1::real",
        "3.4028235e38::real",
        "98765.4321::real",
        "-0.0::float8",
    ];
    let servers = Both::start("SELECT 1").await;
    let (sluice, postgres) = (&servers.ours, &servers.theirs);
    let mut seed: u64 = 0x70c4a2;
    let mut next = |below: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize % below
    };
    let mut calls = vec![
        "to_char(485, 'PL999'), to_char(-485, '999PR'), to_char(0.5, '9.99'), \
         to_char(1, 'FM9.99'), to_char(12345, '999'), to_char(-12.5, 'S99.9')"
            .to_string(),
        "to_char(1234567.891::numeric, 'FM9G999G999D00'), to_char(-0.1::float8, 'FM0.00SG')"
            .to_string(),
    ];
    for _ in 0..400 {
        let pattern: String = (0..1 + next(10))
            .map(|_| PIECES[next(PIECES.len())])
            .collect();
        calls.push(format!(
            "to_char({}, '{pattern}')",
            VALUES[next(VALUES.len())]
        ));
    }
    let calls: Vec<&str> = calls.iter().map(String::as_str).collect();
    assert_same_answers(sluice, postgres, &calls).await;
    for refused in [
        "to_char(1.5, '9.9EEEE')",
        "to_char(12, 'RN')",
        "to_char(12, '99TH')",
        "to_char(12, '99V9')",
        "to_char(12, 'L99')",
        "to_char(12, 'B99')",
        "to_char('NaN'::float8, '999')",
        "to_char('Infinity'::float8, '999')",
    ] {
        let error = sluice
            .simple_query(&format!("SELECT {refused}"))
            .await
            .unwrap_err();
        assert_eq!(common::sqlstate(&error), "0A000", "{refused}");
    }
}
