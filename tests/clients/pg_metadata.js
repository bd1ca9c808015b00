// What node-postgres (pg) answers for metadata and typed queries, as JSON on stdout:
//   NODE_PATH=.../node_modules TZ=UTC node pg_metadata.js HOST PORT DATABASE USER
// `tests/bi_clients.rs` runs it against Sluice and PostgreSQL 15 holding the same schema
// and compares the two. Each query's answer is its fields (as pg describes them, with
// the table's OID replaced by its name, since each server numbers relations its own way)
// and its rows as pg parsed them, or the error's SQLSTATE and message.
const { Client } = require('pg');

const QUERIES = {
  'information_schema.tables': `SELECT table_catalog IS NOT NULL AS has_catalog, table_schema,
      table_name, table_type, is_insertable_into
    FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
  'information_schema.columns': `SELECT table_name, column_name, ordinal_position,
      column_default, is_nullable, data_type, character_maximum_length, numeric_precision,
      numeric_scale, datetime_precision, udt_name
    FROM information_schema.columns WHERE table_schema = 'public'
    ORDER BY table_name, ordinal_position`,
  'select * from orders': 'SELECT * FROM orders ORDER BY id',
  'select * from lines': 'SELECT * FROM lines ORDER BY order_id, line',
  'select * from spend': 'SELECT * FROM spend ORDER BY customer',
  aggregates: `SELECT count(*) AS n, sum(amount) AS total, max(placed) AS last,
      min(day) AS first_day, avg(ratio) AS mean, bool_or(paid) AS any_paid FROM orders`,
  literals: `SELECT 1::int2 AS a, 2::int4 AS b, 3::int8 AS c, 1.5::float4 AS d,
      2.25::float8 AS e, 'x'::text AS f, true AS h, DATE '2024-02-03' AS i,
      TIMESTAMP '2024-02-03 04:05:06' AS j, NULL::text AS m,
      ARRAY['a', NULL] AS n`,
  'varchar(3) cast': `SELECT 'y'::varchar(3) AS g`,
  'numeric(6,2) cast': 'SELECT 1.50::numeric(6,2) AS k',
  'numeric cast': 'SELECT 1.50::numeric AS k',
  'integer array': 'SELECT ARRAY[1, 2] AS l',
};

// Parameters go through the extended protocol (Parse/Bind with values as text).
const PARAMETERIZED = {
  'orders by id ($1)': ['SELECT id, customer, amount FROM orders WHERE id = $1', [1]],
  'orders by customer ($1)': ['SELECT id, tags FROM orders WHERE customer = $1', ['ann']],
  // Date and timestamp text as PostgreSQL's input functions read it.
  'orders placed after ($1 without seconds)': [
    'SELECT id FROM orders WHERE placed > $1 ORDER BY id', ['2024-01-02 03:04 +00']],
  'orders of a day ($1 with a month name)': [
    'SELECT id FROM orders WHERE day = $1 ORDER BY id', ['Jan 2 2024']],
  // A NULL of no declared type (pg sends type 0) keeps its place among the others.
  'orders by customer or all ($1, $2 NULL)': [
    'SELECT id FROM orders WHERE customer = $1 OR $2::text IS NULL ORDER BY id', ['ann', null]],
  'orders by customer or all ($1 NULL, $2)': [
    'SELECT id FROM orders WHERE customer = $2 OR $1::date IS NULL ORDER BY id', [null, 'bob']],
};

async function main() {
  const [host, port, database, user] = process.argv.slice(2);
  const client = new Client({ host, port: Number(port), database, user });
  await client.connect();
  const relations = await client.query(`SELECT c.oid, n.nspname || '.' || c.relname AS name
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace`);
  const names = new Map(relations.rows.map((r) => [Number(r.oid), r.name]));
  const answers = {};
  const record = async (name, run) => {
    try {
      const result = await run();
      answers[name] = {
        fields: result.fields.map((f) => ({
          name: f.name,
          table: f.tableID === 0 ? null : names.get(f.tableID) || `unknown OID ${f.tableID}`,
          columnID: f.columnID,
          dataTypeID: f.dataTypeID,
          dataTypeSize: f.dataTypeSize,
          dataTypeModifier: f.dataTypeModifier,
          format: f.format,
        })),
        rows: result.rows,
      };
    } catch (error) {
      answers[name] = { error: `${error.code} ${error.message}` };
    }
  };
  for (const [name, text] of Object.entries(QUERIES)) {
    await record(name, () => client.query(text));
  }
  for (const [name, [text, values]] of Object.entries(PARAMETERIZED)) {
    await record(name, () => client.query({ text, values }));
  }
  await client.end();
  console.log(JSON.stringify(answers));
}

main().catch((error) => {
  console.error(`${error.code} ${error.message}`);
  process.exit(1);
});
