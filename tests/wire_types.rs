//! Every supported column type round-trips over the wire: binary results through
//! tokio-postgres, text results through psql, NULLs included.

mod common;

use std::error::Error;

use bytes::{Buf, BufMut};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use common::{TestServer, psql};
use postgres_types::{FromSql, IsNull, ToSql, Type, to_sql_checked};
use rust_decimal::Decimal;

const CREATE: &str = "CREATE TABLE all_types (
    id INT PRIMARY KEY, b BOOLEAN, i2 SMALLINT, i4 INTEGER, i8 BIGINT, f4 REAL,
    f8 DOUBLE PRECISION, n NUMERIC(12,3), t TEXT, v VARCHAR(10), by BYTEA, d DATE,
    ts TIMESTAMP, tstz TIMESTAMPTZ, iv INTERVAL, af4 FLOAT4[], af8 FLOAT8[], ai8 INT8[],
    at TEXT[])";

const INSERT_LITERALS: &str = "INSERT INTO all_types VALUES (
    1, true, -12, 123456, 9000000000, 1.5, -2.25, 12345.678, 'héllo', 'short',
    decode('0102ff', 'hex'), DATE '2024-02-29', TIMESTAMP '2024-01-02 03:04:05.123456',
    TIMESTAMPTZ '2024-01-02 03:04:05+00', INTERVAL '1 day 2 hours',
    ARRAY[1.5, 2.5], ARRAY[0.25], ARRAY[1, -2, 3], ARRAY['a', 'b c'])";

/// Postgres's binary INTERVAL: microseconds, days, months.
#[derive(Debug, PartialEq)]
struct Interval {
    micros: i64,
    days: i32,
    months: i32,
}

impl<'a> FromSql<'a> for Interval {
    fn from_sql(_: &Type, mut raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        Ok(Interval {
            micros: raw.get_i64(),
            days: raw.get_i32(),
            months: raw.get_i32(),
        })
    }
    fn accepts(ty: &Type) -> bool {
        *ty == Type::INTERVAL
    }
}

impl ToSql for Interval {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        out.put_i64(self.micros);
        out.put_i32(self.days);
        out.put_i32(self.months);
        Ok(IsNull::No)
    }
    fn accepts(ty: &Type) -> bool {
        *ty == Type::INTERVAL
    }
    to_sql_checked!();
}

fn expected_ts() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2024, 1, 2)
        .unwrap()
        .and_hms_micro_opt(3, 4, 5, 123456)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_results_round_trip_every_type() {
    let server = TestServer::start().await;
    let client = server.client().await;
    client.batch_execute(CREATE).await.unwrap();
    client.batch_execute(INSERT_LITERALS).await.unwrap();
    client
        .batch_execute("INSERT INTO all_types (id) VALUES (2)")
        .await
        .unwrap();

    let row = client
        .query_one("SELECT * FROM all_types WHERE id = 1", &[])
        .await
        .unwrap();
    assert!(row.get::<_, bool>("b"));
    assert_eq!(row.get::<_, i16>("i2"), -12);
    assert_eq!(row.get::<_, i32>("i4"), 123456);
    assert_eq!(row.get::<_, i64>("i8"), 9_000_000_000);
    assert_eq!(row.get::<_, f32>("f4"), 1.5);
    assert_eq!(row.get::<_, f64>("f8"), -2.25);
    assert_eq!(
        row.get::<_, Decimal>("n"),
        "12345.678".parse::<Decimal>().unwrap()
    );
    assert_eq!(row.get::<_, &str>("t"), "héllo");
    assert_eq!(row.get::<_, &str>("v"), "short");
    assert_eq!(row.get::<_, Vec<u8>>("by"), vec![1u8, 2, 255]);
    assert_eq!(
        row.get::<_, NaiveDate>("d"),
        NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()
    );
    assert_eq!(row.get::<_, NaiveDateTime>("ts"), expected_ts());
    assert_eq!(
        row.get::<_, DateTime<Utc>>("tstz"),
        "2024-01-02T03:04:05Z".parse::<DateTime<Utc>>().unwrap()
    );
    assert_eq!(
        row.get::<_, Interval>("iv"),
        Interval {
            micros: 2 * 3600 * 1_000_000,
            days: 1,
            months: 0
        }
    );
    assert_eq!(row.get::<_, Vec<f32>>("af4"), vec![1.5f32, 2.5]);
    assert_eq!(row.get::<_, Vec<f64>>("af8"), vec![0.25f64]);
    assert_eq!(row.get::<_, Vec<i64>>("ai8"), vec![1i64, -2, 3]);
    assert_eq!(
        row.get::<_, Vec<String>>("at"),
        vec!["a".to_string(), "b c".into()]
    );

    // Every column of row 2 but the key is NULL, and NULL decodes in binary too.
    let row = client
        .query_one("SELECT * FROM all_types WHERE id = 2", &[])
        .await
        .unwrap();
    for i in 1..row.len() {
        let column = &row.columns()[i];
        let is_null = match *column.type_() {
            Type::BOOL => row.get::<_, Option<bool>>(i).is_none(),
            Type::INT2 => row.get::<_, Option<i16>>(i).is_none(),
            Type::INT4 => row.get::<_, Option<i32>>(i).is_none(),
            Type::INT8 => row.get::<_, Option<i64>>(i).is_none(),
            Type::FLOAT4 => row.get::<_, Option<f32>>(i).is_none(),
            Type::FLOAT8 => row.get::<_, Option<f64>>(i).is_none(),
            Type::NUMERIC => row.get::<_, Option<Decimal>>(i).is_none(),
            Type::TEXT | Type::VARCHAR => row.get::<_, Option<&str>>(i).is_none(),
            Type::BYTEA => row.get::<_, Option<Vec<u8>>>(i).is_none(),
            Type::DATE => row.get::<_, Option<NaiveDate>>(i).is_none(),
            Type::TIMESTAMP => row.get::<_, Option<NaiveDateTime>>(i).is_none(),
            Type::TIMESTAMPTZ => row.get::<_, Option<DateTime<Utc>>>(i).is_none(),
            Type::INTERVAL => row.get::<_, Option<Interval>>(i).is_none(),
            Type::FLOAT4_ARRAY => row.get::<_, Option<Vec<f32>>>(i).is_none(),
            Type::FLOAT8_ARRAY => row.get::<_, Option<Vec<f64>>>(i).is_none(),
            Type::INT8_ARRAY => row.get::<_, Option<Vec<i64>>>(i).is_none(),
            Type::TEXT_ARRAY => row.get::<_, Option<Vec<String>>>(i).is_none(),
            ref other => panic!("column {} has unexpected type {other}", column.name()),
        };
        assert!(is_null, "column {} should be NULL", column.name());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_parameters_round_trip_every_type() {
    let server = TestServer::start().await;
    let client = server.client().await;
    client.batch_execute(CREATE).await.unwrap();
    let insert = client
        .prepare(
            "INSERT INTO all_types VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
        )
        .await
        .unwrap();
    let ts = expected_ts();
    let tstz: DateTime<Utc> = "2030-05-06T07:08:09.5Z".parse().unwrap();
    let n: Decimal = "-0.125".parse().unwrap();
    let iv = Interval {
        micros: 1_500_000,
        days: 3,
        months: 14,
    };
    client
        .execute(
            &insert,
            &[
                &7i32,
                &false,
                &i16::MIN,
                &i32::MAX,
                &i64::MIN,
                &f32::MAX,
                &f64::MIN_POSITIVE,
                &n,
                &"naïve 🚀",
                &"v",
                &vec![0u8, 0, 7],
                &NaiveDate::from_ymd_opt(1999, 12, 31).unwrap(),
                &ts,
                &tstz,
                &iv,
                &vec![Some(0.5f32), None],
                &vec![1e300f64],
                &Vec::<i64>::new(),
                &vec!["x".to_string(), "\"quoted\"".to_string()],
            ],
        )
        .await
        .unwrap();
    let row = client
        .query_one("SELECT * FROM all_types WHERE id = $1", &[&7i32])
        .await
        .unwrap();
    assert!(!row.get::<_, bool>("b"));
    assert_eq!(row.get::<_, i16>("i2"), i16::MIN);
    assert_eq!(row.get::<_, i32>("i4"), i32::MAX);
    assert_eq!(row.get::<_, i64>("i8"), i64::MIN);
    assert_eq!(row.get::<_, f32>("f4"), f32::MAX);
    assert_eq!(row.get::<_, f64>("f8"), f64::MIN_POSITIVE);
    assert_eq!(row.get::<_, Decimal>("n"), n);
    assert_eq!(row.get::<_, &str>("t"), "naïve 🚀");
    assert_eq!(row.get::<_, Vec<u8>>("by"), vec![0u8, 0, 7]);
    assert_eq!(row.get::<_, NaiveDateTime>("ts"), ts);
    assert_eq!(row.get::<_, DateTime<Utc>>("tstz"), tstz);
    assert_eq!(row.get::<_, Interval>("iv"), iv);
    assert_eq!(
        row.get::<_, Vec<Option<f32>>>("af4"),
        vec![Some(0.5f32), None]
    );
    assert_eq!(row.get::<_, Vec<f64>>("af8"), vec![1e300f64]);
    assert_eq!(row.get::<_, Vec<i64>>("ai8"), Vec::<i64>::new());
    assert_eq!(
        row.get::<_, Vec<String>>("at"),
        vec!["x".to_string(), "\"quoted\"".to_string()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_results_match_postgres_formatting() {
    let server = TestServer::start().await;
    let client = server.client().await;
    client.batch_execute(CREATE).await.unwrap();
    client.batch_execute(INSERT_LITERALS).await.unwrap();
    client
        .batch_execute("INSERT INTO all_types (id) VALUES (2)")
        .await
        .unwrap();

    let addr = server.addr;
    let (ok, out, err) = tokio::task::spawn_blocking(move || {
        psql(
            addr,
            &[
                "-At",
                "-F",
                "|",
                "-c",
                "SELECT b, i2, i4, i8, f4, f8, n, t, v, by, d, ts, tstz, iv, af4, af8, ai8, at \
                 FROM all_types ORDER BY id",
            ],
        )
    })
    .await
    .unwrap();
    assert!(ok, "psql failed: {err}");
    let lines: Vec<&str> = out.lines().collect();
    // What PostgreSQL 15 prints for the same values (NULL is empty in -A mode).
    let expected_first = "t|-12|123456|9000000000|1.5|-2.25|12345.678|héllo|short|\\x0102ff|\
        2024-02-29|2024-01-02 03:04:05.123456|2024-01-02 03:04:05+00|1 day 02:00:00|\
        {1.5,2.5}|{0.25}|{1,-2,3}|{a,\"b c\"}";
    assert_eq!(lines, vec![expected_first, "|||||||||||||||||"]);
}
