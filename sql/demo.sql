-- Sluice demo: streaming views over the built-in Nexmark generator (no Kafka needed).
--   psql -h 127.0.0.1 -p 6875 -d sluice -f sql/demo.sql
DROP SOURCE IF EXISTS demo_bid CASCADE;
DROP MODEL IF EXISTS demo_bid_classifier;
CREATE SOURCE demo_bid (
    auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
    date_time TIMESTAMP, extra VARCHAR,
    WATERMARK FOR date_time AS date_time - INTERVAL '5' SECOND
) WITH (connector = 'nexmark', nexmark.table.type = 'bid', nexmark.events.per.second = 1000);

-- Bids per channel, kept up to date as bids stream in.
CREATE MATERIALIZED VIEW demo_bids_per_channel AS
    SELECT channel, count(*) AS bids, max(price) AS top_price, avg(price) AS avg_price
    FROM demo_bid GROUP BY channel;

-- The most active auctions so far (the filter is maintained too).
CREATE MATERIALIZED VIEW demo_hot_auctions AS
    SELECT auction, count(*) AS bids FROM demo_bid GROUP BY auction HAVING count(*) >= 20;

-- An ONNX model inside a view: a scikit-learn classifier exported to ONNX (written to
-- ./demo-models by ./scripts/start.sh; 4 features -> class 0, 1 or 2) scores every bid
-- as it arrives, batched with ONNX Runtime; the view keeps the bids and mean price per
-- predicted class up to date (docs/ml.md).
CREATE MODEL demo_bid_classifier FROM 'demo-models/logreg.onnx';
CREATE MATERIALIZED VIEW demo_bid_classes AS
    SELECT (PREDICT(demo_bid_classifier,
                    (ln(price) - 13.8) / 4, (bidder % 1000) / 500.0 - 1,
                    (auction % 100) / 50.0 - 1, 0)).label AS class,
           count(*) AS bids, round(avg(price)) AS avg_price
    FROM demo_bid GROUP BY 1;

-- The views fill as bids arrive (1000 per second); query them any time:
--   SELECT * FROM demo_bids_per_channel ORDER BY bids DESC LIMIT 5;
--   SELECT count(*) FROM demo_hot_auctions;
--   SELECT * FROM demo_bid_classes ORDER BY class;
--   SELECT source, reader, state, rows_read, watermark FROM sluice_catalog.source_status;
