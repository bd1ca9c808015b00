"""What SQLAlchemy 2's inspector and pandas see of a database, as JSON on stdout.

Usage: python sqlalchemy_inspect.py URL

`tests/bi_clients.rs` runs it against Sluice and PostgreSQL 15 holding the same
schema and compares the two answers. Each call's answer is recorded under its name,
or, when the call fails, the exception's class and first line (so a failure shows up
as a difference naming the call, not as a crash of the script). Types are written as
SQLAlchemy prints them (`BIGINT`, `VARCHAR(12)`, `NUMERIC(10, 2)`).
"""

import json
import sys

import pandas
import sqlalchemy


def jsonable(value):
    """The inspector's answer in JSON's terms: types and other objects as text."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, sqlalchemy.types.TypeEngine):
        # repr shows what str leaves out: TIMESTAMP(timezone=True), ARRAY(TEXT()).
        return repr(value)
    return str(value)


def main():
    engine = sqlalchemy.create_engine(sys.argv[1])
    inspector = sqlalchemy.inspect(engine)
    answers = {}

    def record(name, call):
        try:
            answers[name] = jsonable(call())
        except Exception as error:  # noqa: BLE001 - every failure is an answer here
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
            answers[name] = {"error": type(error).__name__, "message": first_line}

    # The name lists come from queries without ORDER BY: their order is the catalog's.
    record("get_schema_names", lambda: sorted(inspector.get_schema_names()))
    record("get_table_names", lambda: sorted(inspector.get_table_names()))
    record("get_view_names", lambda: sorted(inspector.get_view_names()))
    record(
        "get_materialized_view_names",
        lambda: sorted(inspector.get_materialized_view_names()),
    )
    record(
        "get_foreign_table_names", lambda: sorted(inspector.get_foreign_table_names())
    )
    relations = ["orders", "lines", "spend"]
    for relation in relations:
        record(f"has_table {relation}", lambda r=relation: inspector.has_table(r))
        record(f"get_columns {relation}", lambda r=relation: inspector.get_columns(r))
        record(
            f"get_pk_constraint {relation}",
            lambda r=relation: inspector.get_pk_constraint(r),
        )
        record(
            f"get_unique_constraints {relation}",
            lambda r=relation: inspector.get_unique_constraints(r),
        )
        record(f"get_indexes {relation}", lambda r=relation: inspector.get_indexes(r))
        record(
            f"get_foreign_keys {relation}",
            lambda r=relation: inspector.get_foreign_keys(r),
        )
        record(
            f"get_check_constraints {relation}",
            lambda r=relation: inspector.get_check_constraints(r),
        )
        record(
            f"get_table_comment {relation}",
            lambda r=relation: inspector.get_table_comment(r),
        )
    record("get_view_definition spend", lambda: inspector.get_view_definition("spend"))
    # The multi-table forms Alembic's autogenerate and Superset call.
    record("get_multi_columns", lambda: sorted(inspector.get_multi_columns().items()))
    record(
        "get_multi_pk_constraint",
        lambda: sorted(inspector.get_multi_pk_constraint().items()),
    )
    record("get_multi_indexes", lambda: sorted(inspector.get_multi_indexes().items()))

    def read_sql(query):
        with engine.connect() as connection:
            frame = pandas.read_sql(query, connection)
        return described(frame)

    def read_sql_table(table, order):
        # read_sql_table reflects the table through the inspector first.
        with engine.connect() as connection:
            frame = pandas.read_sql_table(table, connection)
        return described(frame.sort_values(order, ignore_index=True))

    def described(frame):
        return {
            "columns": list(frame.columns),
            "dtypes": [str(t) for t in frame.dtypes],
            "rows": json.loads(frame.to_json(orient="values", date_format="iso")),
        }

    record("read_sql orders", lambda: read_sql("SELECT * FROM orders ORDER BY id"))
    record(
        "read_sql_table lines",
        lambda: read_sql_table("lines", ["order_id", "line"]),
    )
    record("read_sql spend", lambda: read_sql("SELECT * FROM spend ORDER BY customer"))

    json.dump(answers, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
