//! A client speaking the Postgres protocol byte by byte, to send what drivers never
//! would (malformed, truncated and absurd messages).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A client speaking the protocol byte by byte, to send what drivers never would.
pub struct Wire {
    pub stream: TcpStream,
}

/// A backend message: its type byte and body.
pub type Message = (u8, Vec<u8>);

impl Wire {
    /// Connects without starting up.
    pub async fn open(addr: SocketAddr) -> Wire {
        let stream = TcpStream::connect(addr).await.expect("connect");
        Wire { stream }
    }

    /// Connects and completes start-up (until the first ReadyForQuery).
    pub async fn connect(addr: SocketAddr) -> Wire {
        Wire::connect_as(addr, "sluice", "sluice").await
    }

    /// Connects as `user` to `database` (a PostgreSQL server's too) and completes
    /// start-up.
    pub async fn connect_as(addr: SocketAddr, user: &str, database: &str) -> Wire {
        let mut wire = Wire::open(addr).await;
        let mut body = 196_608i32.to_be_bytes().to_vec();
        body.extend_from_slice(format!("user\0{user}\0database\0{database}\0\0").as_bytes());
        let mut packet = ((body.len() + 4) as i32).to_be_bytes().to_vec();
        packet.extend_from_slice(&body);
        wire.stream.write_all(&packet).await.expect("start-up");
        let replies = wire.until_ready().await;
        assert_eq!(replies.last().map(|m| m.0), Some(b'Z'), "{replies:?}");
        wire
    }

    pub async fn send(&mut self, kind: u8, body: &[u8]) {
        let mut message = vec![kind];
        message.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
        message.extend_from_slice(body);
        self.stream.write_all(&message).await.expect("send");
    }

    /// The next message, or `None` when the server closed the connection.
    pub async fn read(&mut self) -> Option<Message> {
        let mut header = [0u8; 5];
        self.stream.read_exact(&mut header).await.ok()?;
        let length = i32::from_be_bytes([header[1], header[2], header[3], header[4]]);
        let mut body = vec![0u8; usize::try_from(length).ok()?.checked_sub(4)?];
        self.stream.read_exact(&mut body).await.ok()?;
        Some((header[0], body))
    }

    /// Messages up to and including ReadyForQuery, or up to the connection's end.
    pub async fn until_ready(&mut self) -> Vec<Message> {
        let mut messages = Vec::new();
        let read = async {
            while let Some(message) = self.read().await {
                let ready = message.0 == b'Z';
                messages.push(message);
                if ready {
                    break;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(60), read)
            .await
            .expect("the server answers within a minute");
        messages
    }

    /// Parse (unnamed), Bind with text parameters, Execute with `limit`, Sync.
    pub async fn run(&mut self, sql: &str, limit: i32) -> Vec<Message> {
        self.send(b'P', &[b"\0", sql.as_bytes(), b"\0\0\0"].concat())
            .await;
        self.send(b'B', b"\0\0\0\0\0\0\0\0").await;
        self.execute(limit).await;
        self.send(b'S', b"").await;
        self.until_ready().await
    }

    pub async fn execute(&mut self, limit: i32) {
        self.send(b'E', &[b"\0".as_slice(), &limit.to_be_bytes()].concat())
            .await;
    }
}

/// The SQLSTATE of an ErrorResponse body.
pub fn error_code(messages: &[Message]) -> Option<String> {
    let (_, body) = messages.iter().find(|m| m.0 == b'E')?;
    body.split(|b| *b == 0)
        .find(|field| field.first() == Some(&b'C'))
        .map(|field| String::from_utf8_lossy(&field[1..]).into_owned())
}

pub fn count(messages: &[Message], kind: u8) -> usize {
    messages.iter().filter(|m| m.0 == kind).count()
}

pub fn command_tag(messages: &[Message]) -> Option<String> {
    let (_, body) = messages.iter().find(|m| m.0 == b'C')?;
    Some(String::from_utf8_lossy(body.strip_suffix(b"\0")?).into_owned())
}

/// One column of a RowDescription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDescription {
    pub name: String,
    pub table_oid: i32,
    pub column_number: i16,
    pub type_oid: i32,
    pub type_length: i16,
    pub type_modifier: i32,
    pub format: i16,
}

/// The columns of the first RowDescription in `messages`.
pub fn row_description(messages: &[Message]) -> Vec<ColumnDescription> {
    let (_, body) = messages
        .iter()
        .find(|m| m.0 == b'T')
        .expect("a RowDescription");
    let count = i16::from_be_bytes([body[0], body[1]]);
    let mut at = 2;
    let mut take = |n: usize| {
        let bytes = &body[at..at + n];
        at += n;
        bytes.to_vec()
    };
    (0..count)
        .map(|_| {
            let mut name = Vec::new();
            loop {
                let byte = take(1)[0];
                if byte == 0 {
                    break;
                }
                name.push(byte);
            }
            let int = |b: Vec<u8>| i32::from_be_bytes([b[0], b[1], b[2], b[3]]);
            let short = |b: Vec<u8>| i16::from_be_bytes([b[0], b[1]]);
            ColumnDescription {
                name: String::from_utf8_lossy(&name).into_owned(),
                table_oid: int(take(4)),
                column_number: short(take(2)),
                type_oid: int(take(4)),
                type_length: short(take(2)),
                type_modifier: int(take(4)),
                format: short(take(2)),
            }
        })
        .collect()
}
