//! The Nexmark queries in RisingWave's texts (`e2e_test/streaming/nexmark/`), as
//! Sluice views over the `nexmark` generator's sources and as PostgreSQL queries over
//! tables of the same events: tests/nexmark_queries.rs compares them, the
//! `nexmark_generator` benchmark times them.

/// The sources' columns, as PostgreSQL tables too.
pub const BID: &str = "auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR, \
                   date_time TIMESTAMP, extra VARCHAR";
pub const AUCTION: &str = "id BIGINT, item_name VARCHAR, description VARCHAR, initial_bid BIGINT, \
                       reserve BIGINT, date_time TIMESTAMP, expires TIMESTAMP, seller BIGINT, \
                       category BIGINT, extra VARCHAR";
pub const PERSON: &str = "id BIGINT, name VARCHAR, email_address VARCHAR, credit_card VARCHAR, \
                      city VARCHAR, state VARCHAR, date_time TIMESTAMP, extra VARCHAR";

/// q13's side input: RisingWave's table and rows (its `SELECT generate_series(...)` in a
/// select list written as a table function).
pub const SIDE_INPUT: &str = "CREATE TABLE side_input(key BIGINT PRIMARY KEY, value VARCHAR); \
                          INSERT INTO side_input SELECT i::bigint, i::varchar FROM \
                          generate_series(0, 9999, 1) AS s(i)";

/// q14's user-defined function, as a SQL-language function PostgreSQL runs too.
pub const COUNT_CHAR: &str = "CREATE FUNCTION count_char(s varchar, c varchar) RETURNS int \
                          LANGUAGE sql IMMUTABLE AS \
                          $$ SELECT (length(s) - length(replace(s, c, ''))) / length(c) $$";

/// One query: Sluice's view, PostgreSQL's text, and the columns compared.
pub struct Case {
    pub name: &'static str,
    pub sluice: &'static str,
    /// `None`: the same text as Sluice's.
    pub postgres: Option<&'static str>,
    pub compared: &'static str,
}

/// PostgreSQL's `TUMBLE(t, date_time, INTERVAL '10' SECOND)`.
macro_rules! tumble10 {
    ($table:literal) => {
        concat!(
            "(SELECT *, date_bin('10 seconds', date_time, TIMESTAMP '1970-01-01') AS window_start, ",
            "date_bin('10 seconds', date_time, TIMESTAMP '1970-01-01') + INTERVAL '10 seconds' ",
            "AS window_end FROM ",
            $table,
            ")"
        )
    };
}

/// PostgreSQL's `HOP(bid, date_time, INTERVAL '2' SECOND, INTERVAL '10' SECOND)`: each
/// bid in the five windows of 10 s starting every 2 s that hold it.
pub const HOP_BID: &str = "(SELECT b.*, date_bin('2 seconds', b.date_time, TIMESTAMP '1970-01-01') \
                       - k * INTERVAL '2 seconds' AS window_start FROM bid b, generate_series(0, 4) k)";

pub const CASES: &[Case] = &[
    Case {
        name: "q0",
        sluice: "SELECT auction, bidder, price, date_time FROM bid",
        postgres: None,
        compared: "*",
    },
    Case {
        name: "q1",
        sluice: "SELECT auction, bidder, 0.908 * price AS price, date_time FROM bid",
        postgres: None,
        compared: "*",
    },
    Case {
        name: "q2",
        sluice: "SELECT auction, price FROM bid WHERE auction = 1007 OR auction = 1020 \
                 OR auction = 2001 OR auction = 2019 OR auction = 2087",
        postgres: None,
        compared: "*",
    },
    Case {
        name: "q3",
        sluice: "SELECT P.name, P.city, P.state, A.id FROM auction AS A INNER JOIN person AS P \
                 on A.seller = P.id WHERE A.category = 10 \
                 and (P.state = 'or' OR P.state = 'id' OR P.state = 'ca')",
        postgres: None,
        compared: "*",
    },
    Case {
        name: "q4",
        sluice: "SELECT Q.category, AVG(Q.final) as avg FROM (SELECT MAX(B.price) AS final, \
                 A.category FROM auction A, bid B WHERE A.id = B.auction AND B.date_time \
                 BETWEEN A.date_time AND A.expires GROUP BY A.id, A.category) Q \
                 GROUP BY Q.category",
        postgres: None,
        compared: "*",
    },
    Case {
        name: "q5",
        sluice: "SELECT AuctionBids.auction, AuctionBids.num FROM (SELECT bid.auction, \
                 count(*) AS num, window_start AS starttime FROM HOP(bid, date_time, \
                 INTERVAL '2' SECOND, INTERVAL '10' SECOND) GROUP BY window_start, bid.auction) \
                 AS AuctionBids JOIN (SELECT max(CountBids.num) AS maxn, CountBids.starttime_c \
                 FROM (SELECT count(*) AS num, window_start AS starttime_c FROM HOP(bid, \
                 date_time, INTERVAL '2' SECOND, INTERVAL '10' SECOND) GROUP BY bid.auction, \
                 window_start) AS CountBids GROUP BY CountBids.starttime_c) AS MaxBids \
                 ON AuctionBids.starttime = MaxBids.starttime_c AND AuctionBids.num >= MaxBids.maxn",
        postgres: Some(
            "WITH hop AS MATERIALIZED (SELECT * FROM HOP_BID h) \
             SELECT AuctionBids.auction, AuctionBids.num FROM (SELECT auction, count(*) AS num, \
             window_start AS starttime FROM hop GROUP BY window_start, auction) AS AuctionBids \
             JOIN (SELECT max(CountBids.num) AS maxn, CountBids.starttime_c FROM (SELECT \
             count(*) AS num, window_start AS starttime_c FROM hop GROUP BY auction, \
             window_start) AS CountBids GROUP BY CountBids.starttime_c) AS MaxBids \
             ON AuctionBids.starttime = MaxBids.starttime_c AND AuctionBids.num >= MaxBids.maxn",
        ),
        compared: "*",
    },
    Case {
        name: "q6",
        sluice: "SELECT Q.seller, AVG(Q.final) OVER (PARTITION BY Q.seller ORDER BY Q.date_time, \
                 Q.auction ROWS BETWEEN 10 PRECEDING AND CURRENT ROW) as avg FROM (SELECT \
                 ROW_NUMBER() OVER (PARTITION BY A.id, A.seller ORDER BY B.price DESC, \
                 B.date_time, B.bidder) AS rank, A.id AS auction, A.seller, B.price AS final, \
                 B.date_time FROM auction AS A, bid AS B WHERE A.id = B.auction AND \
                 B.date_time BETWEEN A.date_time AND A.expires) AS Q WHERE Q.rank <= 1",
        postgres: None,
        compared: "*",
    },
    Case {
        name: "q7",
        sluice: "SELECT B.auction, B.price, B.bidder, B.date_time FROM bid B JOIN (SELECT \
                 MAX(price) AS maxprice, window_end as date_time FROM TUMBLE(bid, date_time, \
                 INTERVAL '10' SECOND) GROUP BY window_end) B1 ON B.price = B1.maxprice \
                 WHERE B.date_time BETWEEN B1.date_time - INTERVAL '10' SECOND AND B1.date_time",
        postgres: Some(concat!(
            "SELECT B.auction, B.price, B.bidder, B.date_time FROM bid B JOIN (SELECT \
             MAX(price) AS maxprice, window_end as date_time FROM ",
            tumble10!("bid"),
            " t GROUP BY window_end) B1 ON B.price = B1.maxprice WHERE B.date_time \
             BETWEEN B1.date_time - INTERVAL '10' SECOND AND B1.date_time"
        )),
        compared: "*",
    },
    Case {
        name: "q8",
        sluice: "SELECT P.id, P.name, P.starttime FROM (SELECT id, name, window_start AS \
                 starttime, window_end AS endtime FROM TUMBLE(person, date_time, INTERVAL '10' \
                 SECOND) GROUP BY id, name, window_start, window_end) P JOIN (SELECT seller, \
                 window_start AS starttime, window_end AS endtime FROM TUMBLE(auction, \
                 date_time, INTERVAL '10' SECOND) GROUP BY seller, window_start, window_end) A \
                 ON P.id = A.seller AND P.starttime = A.starttime AND P.endtime = A.endtime",
        postgres: Some(concat!(
            "SELECT P.id, P.name, P.starttime FROM (SELECT id, name, window_start AS \
             starttime, window_end AS endtime FROM ",
            tumble10!("person"),
            " t GROUP BY id, name, window_start, window_end) P JOIN (SELECT seller, \
             window_start AS starttime, window_end AS endtime FROM ",
            tumble10!("auction"),
            " t GROUP BY seller, window_start, window_end) A ON P.id = A.seller \
             AND P.starttime = A.starttime AND P.endtime = A.endtime"
        )),
        compared: "*",
    },
    // The winning bid of each auction; on a tie in price and time the bidder is any.
    Case {
        name: "q9",
        sluice: "SELECT id, item_name, description, initial_bid, reserve, date_time, expires, \
                 seller, category, auction, bidder, price, bid_date_time FROM (SELECT A.*, \
                 B.auction, B.bidder, B.price, B.date_time AS bid_date_time, ROW_NUMBER() OVER \
                 (PARTITION BY A.id ORDER BY B.price DESC, B.date_time ASC) AS rownum FROM \
                 auction A, bid B WHERE A.id = B.auction AND B.date_time BETWEEN A.date_time \
                 AND A.expires) tmp WHERE rownum <= 1",
        postgres: None,
        compared: "id, item_name, description, initial_bid, reserve, date_time, expires, \
                   seller, category, auction, price, bid_date_time",
    },
    Case {
        name: "q10",
        sluice: "SELECT auction, bidder, price, date_time, TO_CHAR(date_time, 'YYYY-MM-DD') as \
                 date, TO_CHAR(date_time, 'HH:MI') as time FROM bid",
        postgres: None,
        compared: "*",
    },
    Case {
        name: "q13",
        sluice: "SELECT B.auction, B.bidder, B.price, B.date_time, S.value FROM bid B join \
                 side_input FOR SYSTEM_TIME AS OF PROCTIME() S on mod(B.auction, 10000) = S.key",
        // The side input does not change while bids come: a plain join.
        postgres: Some(
            "SELECT B.auction, B.bidder, B.price, B.date_time, S.value FROM bid B join \
             side_input S on mod(B.auction, 10000) = S.key",
        ),
        compared: "*",
    },
    Case {
        name: "q14",
        sluice: "SELECT auction, bidder, 0.908 * price as price, CASE WHEN extract(hour from \
                 date_time) >= 8 AND extract(hour from date_time) <= 18 THEN 'dayTime' WHEN \
                 extract(hour from date_time) <= 6 OR extract(hour from date_time) >= 20 THEN \
                 'nightTime' ELSE 'otherTime' END AS bidTimeType, date_time, count_char(extra, \
                 'c') AS c_counts FROM bid WHERE 0.908 * price > 1000000 AND 0.908 * price < \
                 50000000",
        postgres: None,
        compared: "*",
    },
    Case {
        name: "q15",
        sluice: "SELECT to_char(date_time, 'YYYY-MM-DD') as day, count(*) AS total_bids, \
                 count(*) filter (where price < 10000) AS rank1_bids, count(*) filter (where \
                 price >= 10000 and price < 1000000) AS rank2_bids, count(*) filter (where \
                 price >= 1000000) AS rank3_bids, count(distinct bidder) AS total_bidders, \
                 count(distinct bidder) filter (where price < 10000) AS rank1_bidders, \
                 count(distinct bidder) filter (where price >= 10000 and price < 1000000) AS \
                 rank2_bidders, count(distinct bidder) filter (where price >= 1000000) AS \
                 rank3_bidders, count(distinct auction) AS total_auctions, count(distinct \
                 auction) filter (where price < 10000) AS rank1_auctions, count(distinct \
                 auction) filter (where price >= 10000 and price < 1000000) AS rank2_auctions, \
                 count(distinct auction) filter (where price >= 1000000) AS rank3_auctions \
                 FROM bid GROUP BY to_char(date_time, 'YYYY-MM-DD')",
        postgres: None,
        compared: "*",
    },
    Case {
        name: "q16",
        sluice: "SELECT channel, to_char(date_time, 'YYYY-MM-DD') AS day, \
                 max(to_char(date_time, 'HH:mm')) AS minute, count(*) AS total_bids, count(*) \
                 filter (where price < 10000) AS rank1_bids, count(*) filter (where price >= \
                 10000 and price < 1000000) AS rank2_bids, count(*) filter (where price >= \
                 1000000) AS rank3_bids, count(distinct bidder) AS total_bidders, count(distinct \
                 bidder) filter (where price < 10000) AS rank1_bidders, count(distinct bidder) \
                 filter (where price >= 10000 and price < 1000000) AS rank2_bidders, \
                 count(distinct bidder) filter (where price >= 1000000) AS rank3_bidders, \
                 count(distinct auction) AS total_auctions, count(distinct auction) filter \
                 (where price < 10000) AS rank1_auctions, count(distinct auction) filter (where \
                 price >= 10000 and price < 1000000) AS rank2_auctions, count(distinct auction) \
                 filter (where price >= 1000000) AS rank3_auctions FROM bid GROUP BY channel, \
                 to_char(date_time, 'YYYY-MM-DD')",
        postgres: None,
        compared: "*",
    },
    Case {
        name: "q17",
        sluice: "SELECT auction, to_char(date_time, 'YYYY-MM-DD') AS day, count(*) AS \
                 total_bids, count(*) filter (where price < 10000) AS rank1_bids, count(*) \
                 filter (where price >= 10000 and price < 1000000) AS rank2_bids, count(*) \
                 filter (where price >= 1000000) AS rank3_bids, min(price) AS min_price, \
                 max(price) AS max_price, avg(price) AS avg_price, sum(price) AS sum_price \
                 FROM bid GROUP BY auction, to_char(date_time, 'YYYY-MM-DD')",
        postgres: None,
        compared: "*",
    },
    // Each bidder's last bid on each auction.
    Case {
        name: "q18",
        sluice: "SELECT auction, bidder, price, channel, url, date_time, extra FROM (SELECT *, \
                 ROW_NUMBER() OVER (PARTITION BY bidder, auction ORDER BY date_time DESC) AS \
                 rank_number FROM bid) WHERE rank_number <= 1",
        postgres: Some(
            "SELECT auction, bidder, price, channel, url, date_time, extra FROM (SELECT *, \
             ROW_NUMBER() OVER (PARTITION BY bidder, auction ORDER BY date_time DESC) AS \
             rank_number FROM bid) ranked WHERE rank_number <= 1",
        ),
        compared: "auction, bidder, date_time",
    },
    // The ten highest bids of each auction: which of equal prices is any.
    Case {
        name: "q19",
        sluice: "SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY \
                 price DESC) AS rank_number FROM bid) WHERE rank_number <= 10",
        postgres: Some(
            "SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY \
             price DESC) AS rank_number FROM bid) ranked WHERE rank_number <= 10",
        ),
        compared: "auction, price, rank_number",
    },
    Case {
        name: "q20",
        sluice: "SELECT auction, bidder, price, channel, url, B.date_time as date_timeB, \
                 item_name, description, initial_bid, reserve, A.date_time as date_timeA, \
                 expires, seller, category FROM bid B INNER JOIN auction A on B.auction = A.id \
                 WHERE A.category = 10",
        postgres: None,
        compared: "*",
    },
    Case {
        name: "q21",
        sluice: "SELECT auction, bidder, price, channel, CASE WHEN lower(channel) = 'apple' \
                 THEN '0' WHEN lower(channel) = 'google' THEN '1' WHEN lower(channel) = \
                 'facebook' THEN '2' WHEN lower(channel) = 'baidu' THEN '3' ELSE \
                 (regexp_match(url, '(&|^)channel_id=([^&]*)'))[2] END AS channel_id FROM bid \
                 WHERE (regexp_match(url, '(&|^)channel_id=([^&]*)'))[2] is not null or \
                 lower(channel) in ('apple', 'google', 'facebook', 'baidu')",
        postgres: None,
        compared: "*",
    },
    Case {
        name: "q22",
        sluice: "SELECT auction, bidder, price, channel, split_part(url, '/', 4) as dir1, \
                 split_part(url, '/', 5) as dir2, split_part(url, '/', 6) as dir3 FROM bid",
        postgres: None,
        compared: "*",
    },
];

/// Waits until every source reader has read all its events (`state = 'finished'`),
/// polling every `poll`; panics after `within`.
pub async fn wait_until_read(
    client: &tokio_postgres::Client,
    poll: std::time::Duration,
    within: std::time::Duration,
) {
    let deadline = std::time::Instant::now() + within;
    loop {
        let unfinished: i64 = client
            .query_one(
                "SELECT count(*) FROM sluice_catalog.source_status WHERE state <> 'finished'",
                &[],
            )
            .await
            .expect("source_status")
            .get(0);
        if unfinished == 0 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "sources still reading"
        );
        tokio::time::sleep(poll).await;
    }
}
