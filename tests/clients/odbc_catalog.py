"""What psqlODBC (through unixODBC and pyodbc) answers for catalog calls, as JSON.

Usage: python odbc_catalog.py DRIVER_PATH PORT DATABASE USER

`tests/bi_clients.rs` runs it against Sluice and PostgreSQL 15 holding the same
schema and compares the two answers: for `SQLTables`, `SQLColumns` and
`SQLPrimaryKeys` (pyodbc's `tables`, `columns`, `primaryKeys`), the result set's
column names and rows, or the error's SQLSTATE and message. BI tools on Windows and
Excel/Power Query read a database's tables and columns through these calls.
"""

import json
import sys

import pyodbc


def main():
    driver, port, database, user = sys.argv[1:5]
    conn = pyodbc.connect(
        f"DRIVER={driver};SERVER=127.0.0.1;PORT={port};DATABASE={database};UID={user}",
        autocommit=True,
    )
    cur = conn.cursor()
    calls = {
        "SQLTables public": lambda: cur.tables(schema="public"),
        "SQLTables views": lambda: cur.tables(schema="public", tableType="VIEW,MATVIEW"),
        "SQLColumns orders": lambda: cur.columns(table="orders", schema="public"),
        "SQLColumns spend": lambda: cur.columns(table="spend", schema="public"),
        "SQLPrimaryKeys orders": lambda: cur.primaryKeys("orders", schema="public"),
        "SQLPrimaryKeys lines": lambda: cur.primaryKeys("lines", schema="public"),
    }
    answers = {}
    for name, call in calls.items():
        try:
            result = call()
            answers[name] = {
                "columns": [column[0] for column in result.description],
                "rows": [[str(v) if v is not None else None for v in row] for row in result.fetchall()],
            }
        except pyodbc.Error as error:
            answers[name] = {"error": " ".join(str(a) for a in error.args)}
    conn.close()
    print(json.dumps(answers))


if __name__ == "__main__":
    main()
