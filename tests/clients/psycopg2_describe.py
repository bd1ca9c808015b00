"""What psycopg2 answers for typical queries, as JSON on stdout.

Usage: python psycopg2_describe.py DSN

`tests/bi_clients.rs` runs it against Sluice and PostgreSQL 15 holding the same
schema and compares the two answers. For each query: `cursor.description` (name,
type_code, display_size, internal_size, precision, scale, null_ok), the rows as
psycopg2 converted them (each value's Python type and repr), and `rowcount`; or the
error's SQLSTATE and first line.
"""

import json
import sys

import psycopg2

QUERIES = {
    "select * from orders": ("SELECT * FROM orders ORDER BY id", None),
    "select * from lines": ("SELECT * FROM lines ORDER BY order_id, line", None),
    "select * from spend": ("SELECT * FROM spend ORDER BY customer", None),
    "aggregates": (
        "SELECT count(*) AS n, sum(amount) AS total, max(placed) AS last, "
        "min(day) AS first_day, avg(ratio) AS mean, bool_or(paid) AS any_paid FROM orders",
        None,
    ),
    "literals": (
        "SELECT 1::int2 AS a, 2::int4 AS b, 3::int8 AS c, 1.5::float4 AS d, "
        "2.25::float8 AS e, 'x'::text AS f, true AS h, DATE '2024-02-03' AS i, "
        "TIMESTAMP '2024-02-03 04:05:06' AS j, NULL::text AS m, "
        "ARRAY['a', NULL] AS n",
        None,
    ),
    "varchar(3) cast": ("SELECT 'y'::varchar(3) AS g", None),
    "numeric(6,2) cast": ("SELECT 1.50::numeric(6,2) AS k", None),
    "numeric cast": ("SELECT 1.50::numeric AS k", None),
    "integer array": ("SELECT ARRAY[1, 2] AS l", None),
    # psycopg2 puts parameters into the text itself (client-side binding).
    "orders by id (%s)": ("SELECT id, customer, amount FROM orders WHERE id = %s", (1,)),
    "orders by customer (%s)": (
        "SELECT id, tags FROM orders WHERE customer = %s",
        ("ann",),
    ),
    "information_schema.columns": (
        "SELECT table_name, column_name, ordinal_position, data_type, is_nullable, "
        "character_maximum_length, numeric_precision, numeric_scale "
        "FROM information_schema.columns WHERE table_schema = %s "
        "ORDER BY table_name, ordinal_position",
        ("public",),
    ),
    "pg_type of the result's type codes": (
        "SELECT oid, typname, typlen, typtype, typcategory FROM pg_catalog.pg_type "
        "WHERE oid IN (16, 20, 21, 23, 25, 700, 701, 1009, 1043, 1082, 1114, 1184, 1700) "
        "ORDER BY oid",
        None,
    ),
}


def main():
    conn = psycopg2.connect(sys.argv[1])
    conn.autocommit = True
    answers = {}
    for name, (sql, params) in QUERIES.items():
        cur = conn.cursor()
        try:
            cur.execute(sql, params)
            answers[name] = {
                "description": [list(column) for column in cur.description],
                "rows": [[[type(v).__name__, repr(v)] for v in row] for row in cur.fetchall()],
                "rowcount": cur.rowcount,
            }
        except psycopg2.Error as error:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
            answers[name] = {"error": f"{error.pgcode} {first_line}"}
        finally:
            cur.close()
    conn.close()
    print(json.dumps(answers))


if __name__ == "__main__":
    main()
