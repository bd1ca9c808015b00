//! Shared readers: four views over the `bid` topic, created together, read through
//! one source — its one reader decodes each message once for all four — next to the
//! same four views over four sources of the same topic (a reader each, each decoding
//! every message: how views read a source before readers were shared), in the same
//! run.

use std::time::{Duration, Instant};

use tokio_postgres::Client;

/// The four views, over source `{source}`.
const VIEWS: [&str; 4] = [
    "SELECT count(*) AS n FROM {source}",
    "SELECT auction, price FROM {source} WHERE auction % 123 = 0",
    "SELECT channel, count(*) AS n, max(price) AS top_price FROM {source} GROUP BY channel",
    "SELECT window_start, max(price) AS maxprice
     FROM TUMBLE({source}, date_time, INTERVAL '10' SECOND) GROUP BY window_start",
];

/// One way of reading the topic.
pub struct Setup {
    /// The most readers the sources had at once, and at the end.
    pub readers: (i64, i64),
    pub time: Duration,
    pub cpu: f64,
}

/// Both setups over the `bid` topic (`bids` messages); `None` for a setup that made
/// no progress for `stall`.
pub async fn run(
    client: &Client,
    broker: &str,
    bids: u64,
    stall: Duration,
) -> Vec<(&'static str, Option<Setup>)> {
    let mut out = Vec::new();
    for (label, sources) in [
        ("4 views, 1 source (shared reader)", 1),
        ("4 views, 4 sources (a reader each)", 4),
    ] {
        let prefix = format!("shared{sources}_");
        for s in 0..sources {
            client
                .batch_execute(&crate::events::create_source(
                    &format!("{prefix}{s}"),
                    crate::events::BID_COLUMNS,
                    "bid",
                    broker,
                    None,
                ))
                .await
                .expect("create source");
        }
        let create: String = VIEWS
            .iter()
            .enumerate()
            .map(|(v, sql)| {
                let source = format!("{prefix}{}", v % sources);
                format!(
                    "CREATE MATERIALIZED VIEW {prefix}v{v} AS {};",
                    sql.replace("{source}", &source)
                )
            })
            .collect();
        let cpu = crate::cpu::seconds();
        let started = Instant::now();
        client.batch_execute(&create).await.expect("create views");
        let status = format!(
            "SELECT coalesce(min(rows_read), 0), count(*),
                    (SELECT count(*) FROM sluice_catalog.source_readers WHERE source LIKE '{prefix}%')
             FROM sluice_catalog.source_status WHERE source LIKE '{prefix}%'"
        );
        let mut most = 0;
        let mut last = (0, Instant::now());
        let outcome = loop {
            let row = client.query_one(&status, &[]).await.expect("status");
            let (read, views, readers): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
            most = most.max(readers);
            if views == VIEWS.len() as i64 && read as u64 >= bids {
                client.batch_execute("FLUSH").await.expect("FLUSH");
                break Some(Setup {
                    readers: (most, readers),
                    time: started.elapsed(),
                    cpu: crate::cpu::seconds() - cpu,
                });
            }
            if read > last.0 {
                last = (read, Instant::now());
            } else if last.1.elapsed() > stall {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        for s in 0..sources {
            client
                .batch_execute(&format!("DROP SOURCE {prefix}{s} CASCADE"))
                .await
                .expect("drop");
        }
        out.push((label, outcome));
    }
    out
}
