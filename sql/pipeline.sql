-- Kafka -> a windowed, aggregated view scored by an int8-quantized model -> Kafka,
-- the pipeline people build with Kafka, Flink and a model server, in one Sluice.
--
-- Needs a Kafka broker at 127.0.0.1:9092 with topics `payments` (JSON messages such
-- as {"account": 7, "amount": 120.5, "merchant": 42, "ts": "2024-05-01 12:00:03"})
-- and `account_risk`, and the demo models (./scripts/start.sh writes ./demo-models).
--   psql -h 127.0.0.1 -p 6875 -d sluice -f sql/pipeline.sql
DROP SINK IF EXISTS account_risk_out;
DROP SOURCE IF EXISTS payments CASCADE;
DROP MODEL IF EXISTS risk;

CREATE SOURCE payments (
    account BIGINT, amount DOUBLE PRECISION, merchant INT, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH (
    connector = 'kafka', topic = 'payments',
    properties.bootstrap.server = '127.0.0.1:9092', scan.startup.mode = 'earliest'
) FORMAT PLAIN ENCODE JSON;

-- A small regression network quantized to int8 (4 features -> 1 score).
CREATE MODEL risk FROM 'demo-models/mlp_int8.onnx';

-- Per account and minute: payments, total, largest, and the model's score of them.
-- Each window is written once, when the watermark closes it.
CREATE MATERIALIZED VIEW account_risk AS
    SELECT account, window_start, count(*) AS payments, sum(amount) AS total,
           max(amount) AS largest,
           PREDICT(risk, count(*) / 10.0, sum(amount) / 1000, max(amount) / 1000,
                   count(DISTINCT merchant) / 10.0) AS score
    FROM TUMBLE(payments, ts, INTERVAL '1' MINUTE)
    GROUP BY account, window_start
    EMIT ON WINDOW CLOSE;

-- The decisions, keyed by account and window, to the next service.
CREATE SINK account_risk_out FROM account_risk WITH (
    connector = 'kafka', topic = 'account_risk',
    properties.bootstrap.server = '127.0.0.1:9092',
    primary_key = 'account, window_start'
) FORMAT UPSERT ENCODE JSON;

-- Watch the decisions as they are made (Ctrl-C ends it):
--   COPY (SUBSCRIBE account_risk) TO STDOUT;
