//! A guard between the socket and pgwire's message decoder: every frontend message
//! is checked against the protocol's layout before pgwire sees a byte of it.
//!
//! ```text
//!  TcpStream ──bytes──▶ FrameGuard ──whole, well-formed messages──▶ pgwire codec
//!                          │
//!                          └─ malformed ──▶ io error carrying a ProtocolError
//!                                           (the connection loop sends it as FATAL)
//! ```
//!
//! pgwire decodes message bodies from its whole read buffer and panics or misreads
//! when a body is shorter than its counts say (a Parse declaring more parameter types
//! than it carries, a Bind parameter 0x7fffffff bytes long), reads lengths below 4 as
//! huge sizes, and decodes invalid UTF-8 lossily. Here a message is released only
//! when it is complete and its fields add up to exactly its length, so pgwire never
//! sees a malformed one; the first malformed message ends the connection with
//! `08P01` (or `22021` for statement text that is not UTF-8), as in PostgreSQL.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::sqlstate;

/// The largest start-up packet accepted (PostgreSQL's `MAX_STARTUP_PACKET_LENGTH`).
pub const MAX_STARTUP_LENGTH: usize = 10_000;

/// The largest message accepted (PostgreSQL's limit for a statement's text).
pub const MAX_MESSAGE_LENGTH: usize = 1 << 30;

/// Why a connection's input was refused: a SQLSTATE and PostgreSQL's wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError {
    pub code: &'static str,
    pub message: String,
}

impl ProtocolError {
    fn violation(message: impl Into<String>) -> Self {
        ProtocolError {
            code: sqlstate::PROTOCOL_VIOLATION,
            message: message.into(),
        }
    }

    /// The guard's error inside an I/O error, if `error` is one.
    pub fn from_io(error: &io::Error) -> Option<&ProtocolError> {
        error.get_ref()?.downcast_ref::<ProtocolError>()
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ProtocolError {}

/// Start-up packets (untagged) come first; then every message has a type byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    StartUp,
    Typed,
}

const SSL_REQUEST: u32 = 80_877_103;
const GSSENC_REQUEST: u32 = 80_877_104;

/// Reads from `inner`, releasing only complete, well-formed frontend messages.
#[derive(Debug)]
pub struct FrameGuard<T> {
    inner: T,
    phase: Phase,
    /// Bytes read but not yet checked (an incomplete message).
    pending: BytesMut,
    /// Checked bytes not yet handed to the reader.
    checked: BytesMut,
    failed: Option<ProtocolError>,
    eof: bool,
}

impl<T> FrameGuard<T> {
    /// Guards `inner`; `already_read` holds bytes taken from it before (still unchecked),
    /// starting at a start-up packet.
    pub fn new(inner: T, already_read: BytesMut) -> Self {
        let mut guard = FrameGuard {
            inner,
            phase: Phase::StartUp,
            pending: already_read,
            checked: BytesMut::new(),
            failed: None,
            eof: false,
        };
        guard.check_pending();
        guard
    }

    /// Moves every complete message from `pending` to `checked`, stopping at the first
    /// malformed one.
    fn check_pending(&mut self) {
        while self.failed.is_none() {
            match next_message(self.phase, &self.pending) {
                Ok(None) => return,
                Ok(Some(length)) => {
                    let message = self.pending.split_to(length);
                    match check_message(self.phase, &message) {
                        Ok(next) => {
                            self.phase = next;
                            self.checked.extend_from_slice(&message);
                        }
                        Err(e) => self.failed = Some(e),
                    }
                }
                Err(e) => self.failed = Some(e),
            }
        }
    }
}

/// The length of the complete message at the start of `buf`, `None` if it has not
/// all arrived, or why its header is invalid (known as soon as the header arrives).
fn next_message(phase: Phase, buf: &[u8]) -> Result<Option<usize>, ProtocolError> {
    let (offset, min, max) = match phase {
        Phase::StartUp => (0, 8, MAX_STARTUP_LENGTH),
        Phase::Typed => (1, 4, MAX_MESSAGE_LENGTH),
    };
    let Some(header) = buf.get(offset..offset + 4) else {
        return Ok(None);
    };
    let declared = i32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    let length = usize::try_from(declared).unwrap_or(0);
    if length < min || length > max {
        return Err(ProtocolError::violation(match phase {
            Phase::StartUp => format!("invalid length of startup packet: {declared}"),
            Phase::Typed => format!("invalid message length: {declared}"),
        }));
    }
    Ok((buf.len() >= offset + length).then_some(offset + length))
}

/// Checks one whole message; returns the phase after it.
fn check_message(phase: Phase, message: &[u8]) -> Result<Phase, ProtocolError> {
    if phase == Phase::StartUp {
        let code = u32::from_be_bytes([message[4], message[5], message[6], message[7]]);
        // An SSL or GSS request is answered with 'N' and followed by the real start-up.
        return Ok(if matches!(code, SSL_REQUEST | GSSENC_REQUEST) {
            Phase::StartUp
        } else {
            Phase::Typed
        });
    }
    let kind = message[0];
    let mut body = Body(&message[5..]);
    let malformed = || ProtocolError::violation(format!("invalid {} message format", kind as char));
    match kind {
        b'Q' => {
            body.text().ok_or_else(malformed)??;
        }
        b'P' => {
            body.cstring().ok_or_else(malformed)?;
            body.text().ok_or_else(malformed)??;
            let types = body.u16().ok_or_else(malformed)?;
            body.skip(4 * types).ok_or_else(malformed)?;
        }
        b'B' => {
            body.cstring().ok_or_else(malformed)?;
            body.cstring().ok_or_else(malformed)?;
            let formats = body.u16().ok_or_else(malformed)?;
            body.skip(2 * formats).ok_or_else(malformed)?;
            for _ in 0..body.u16().ok_or_else(malformed)? {
                let length = body.i32().ok_or_else(malformed)?;
                if length < -1 {
                    return Err(malformed());
                }
                body.skip(usize::try_from(length).unwrap_or(0))
                    .ok_or_else(malformed)?;
            }
            let results = body.u16().ok_or_else(malformed)?;
            body.skip(2 * results).ok_or_else(malformed)?;
        }
        b'E' => {
            body.cstring().ok_or_else(malformed)?;
            body.i32().ok_or_else(malformed)?;
        }
        b'D' | b'C' => {
            if !matches!(body.u8(), Some(b'S' | b'P')) {
                return Err(malformed());
            }
            body.cstring().ok_or_else(malformed)?;
        }
        b'f' => {
            body.cstring().ok_or_else(malformed)?;
        }
        b'S' | b'H' | b'X' | b'c' => {}
        // Raw payloads: copy data, password/SASL responses.
        b'd' | b'p' => body.0 = &[],
        other => {
            return Err(ProtocolError::violation(format!(
                "invalid frontend message type {other}"
            )));
        }
    }
    if !body.0.is_empty() {
        return Err(malformed());
    }
    Ok(Phase::Typed)
}

/// A cursor over a message body; each read is `None` when the body is too short.
struct Body<'a>(&'a [u8]);

impl<'a> Body<'a> {
    fn skip(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(taken)
    }

    fn u8(&mut self) -> Option<u8> {
        self.skip(1).map(|b| b[0])
    }

    fn u16(&mut self) -> Option<usize> {
        self.skip(2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
    }

    fn i32(&mut self) -> Option<i32> {
        self.skip(4)
            .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn cstring(&mut self) -> Option<&'a [u8]> {
        let end = self.0.iter().position(|b| *b == 0)?;
        let text = self.skip(end + 1)?;
        Some(&text[..end])
    }

    /// A NUL-terminated statement text, which must be UTF-8 (the only client
    /// encoding the server reports).
    fn text(&mut self) -> Option<Result<&'a str, ProtocolError>> {
        let bytes = self.cstring()?;
        Some(std::str::from_utf8(bytes).map_err(|e| ProtocolError {
            code: sqlstate::CHARACTER_NOT_IN_REPERTOIRE,
            message: format!(
                "invalid byte sequence for encoding \"UTF8\": 0x{:02x}",
                bytes[e.valid_up_to()]
            ),
        }))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for FrameGuard<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.checked.is_empty() {
                let n = buf.remaining().min(this.checked.len());
                buf.put_slice(&this.checked[..n]);
                this.checked.advance(n);
                return Poll::Ready(Ok(()));
            }
            if let Some(e) = &this.failed {
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, e.clone())));
            }
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            let mut chunk = [0u8; 8192];
            let mut read = ReadBuf::new(&mut chunk);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
            if read.filled().is_empty() {
                this.eof = true;
            } else {
                this.pending.extend_from_slice(read.filled());
                this.check_pending();
            }
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for FrameGuard<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![kind];
        m.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
        m.extend_from_slice(body);
        m
    }

    fn check(bytes: &[u8]) -> Result<Option<usize>, ProtocolError> {
        match next_message(Phase::Typed, bytes)? {
            Some(n) => check_message(Phase::Typed, &bytes[..n]).map(|_| Some(n)),
            None => Ok(None),
        }
    }

    #[test]
    fn well_formed_messages_pass() {
        let parse = typed(b'P', b"s\0SELECT $1\0\0\x01\0\0\0\x17");
        assert_eq!(check(&parse).unwrap(), Some(parse.len()));
        let bind = typed(b'B', b"\0s\0\0\0\0\x02\0\0\0\x011\xff\xff\xff\xff\0\0");
        assert_eq!(check(&bind).unwrap(), Some(bind.len()));
        let execute = typed(b'E', b"\0\x7f\xff\xff\xff");
        assert_eq!(check(&execute).unwrap(), Some(execute.len()));
        assert_eq!(check(&typed(b'S', b"")).unwrap(), Some(5));
        assert_eq!(check(&parse[..8]).unwrap(), None, "incomplete waits");
    }

    #[test]
    fn malformed_messages_are_protocol_violations() {
        let cases: Vec<Vec<u8>> = vec![
            // Parse declaring two parameter types, carrying one.
            typed(b'P', b"\0SELECT 1\0\0\x02\0\0\0\x17"),
            // Bind with a parameter 0x7fffffff bytes long.
            typed(b'B', b"\0\0\0\0\0\x01\x7f\xff\xff\xff\0\0"),
            // Bind with a length below -1.
            typed(b'B', b"\0\0\0\0\0\x01\xff\xff\xff\xfe\0\0"),
            // Trailing bytes, a missing terminator, an unknown message type.
            typed(b'E', b"\0\0\0\0\0\0"),
            typed(b'Q', b"SELECT 1"),
            typed(b'D', b"XS\0"),
            typed(b'z', b""),
            // Declared lengths below 4 and negative.
            vec![b'Q', 0, 0, 0, 3],
            vec![b'Q', 0xff, 0xff, 0xff, 0xff],
        ];
        for bytes in cases {
            let err = check(&bytes).unwrap_err();
            assert_eq!(err.code, sqlstate::PROTOCOL_VIOLATION, "{bytes:?}: {err}");
        }
    }

    #[test]
    fn statement_text_must_be_utf8() {
        let err = check(&typed(b'Q', b"SELECT '\xc3\x28'\0")).unwrap_err();
        assert_eq!(err.code, sqlstate::CHARACTER_NOT_IN_REPERTOIRE);
        let err = check(&typed(b'P', b"\0SELECT '\xff'\0\0\0")).unwrap_err();
        assert_eq!(err.code, sqlstate::CHARACTER_NOT_IN_REPERTOIRE);
    }

    #[test]
    fn start_up_lengths_are_bounded() {
        for declared in [0i32, -1, 3, 7, 10_001] {
            let mut bytes = declared.to_be_bytes().to_vec();
            bytes.extend_from_slice(&[0; 8]);
            assert!(next_message(Phase::StartUp, &bytes).is_err(), "{declared}");
        }
        let ssl = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
        assert_eq!(check_message(Phase::StartUp, &ssl).unwrap(), Phase::StartUp);
    }
}
