//! Streams a `SUBSCRIBE` to its client (see [`crate::sql::subscribe`]).
//!
//! pgwire writes a query's rows into the connection's buffer and flushes once, at the
//! end; a subscription never ends, so its rows would wait there. The connection loop
//! therefore hands a simple-protocol query that is a lone `SUBSCRIBE` to [`serve`],
//! which writes the messages itself and flushes after each change:
//!
//! ```text
//!   RowDescription (or CopyOutResponse for COPY (SUBSCRIBE ...) TO STDOUT)
//!   DataRow / CopyData ... flush ... DataRow / CopyData ... flush ...
//!   until cancelled (57014), statement_timeout, the view dropped, or the client too slow (53400):
//!   ErrorResponse (or CommandComplete when the view is gone), ReadyForQuery
//! ```

use std::fmt::Debug;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use futures::{Sink, SinkExt};
use pgwire::api::ClientInfo;
use pgwire::api::portal::Format;
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::copy::{CopyData, CopyDone, CopyOutResponse};
use pgwire::messages::data::{DataRow, RowDescription};
use pgwire::messages::response::{CommandComplete, ReadyForQuery, TransactionStatus};
use pgwire::types::format::FormatOptions;

use super::encoding::{data_rows, error_info, fields};
use super::handler::SluiceHandler;
use crate::error::{Result, SluiceError};

/// Runs the subscription `text` for `client` until it ends, then readies the
/// connection for the next query. Fails only when the client is gone.
pub async fn serve<C>(client: &mut C, handler: &SluiceHandler, text: &str) -> PgWireResult<()>
where
    C: ClientInfo + Sink<PgWireBackendMessage> + Unpin,
    C::Error: Debug,
    PgWireError: From<C::Error>,
{
    let (pid, _) = client.pid_and_secret_key();
    let running = handler.start_statement(pid, client.metadata());
    let outcome = match handler
        .start_subscription(text, pid, client.metadata(), &running)
        .await
    {
        Ok((subscribe, mut subscription)) => {
            let options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
            let fields = Arc::new(fields(
                subscription.schema().as_ref(),
                &Format::UnifiedText,
                options,
            )?);
            if subscribe.copy {
                let columns = fields.len();
                client
                    .feed(PgWireBackendMessage::CopyOutResponse(CopyOutResponse::new(
                        0,
                        columns as i16,
                        vec![0; columns],
                    )))
                    .await?;
            } else {
                let description = fields.iter().map(Into::into).collect();
                client
                    .feed(PgWireBackendMessage::RowDescription(RowDescription::new(
                        description,
                    )))
                    .await?;
            }
            client.flush().await?;
            let interrupt = running.interrupt().clone();
            let mut rows = 0usize;
            let ended: Result<()> = loop {
                let next = tokio::select! {
                    biased;
                    _ = interrupt.interrupted() => break Err(interrupt.error()),
                    next = subscription.next() => next,
                };
                let batch = match next {
                    None => break Ok(()),
                    Some(Err(e)) => break Err(e),
                    Some(Ok(batch)) => batch,
                };
                for row in data_rows(batch, fields.clone()) {
                    let row = row?;
                    let message = if subscribe.copy {
                        PgWireBackendMessage::CopyData(CopyData::new(copy_line(&row)))
                    } else {
                        PgWireBackendMessage::DataRow(row)
                    };
                    client.feed(message).await?;
                    rows += 1;
                }
                client.flush().await?;
            };
            match ended {
                Ok(()) if subscribe.copy => {
                    client
                        .feed(PgWireBackendMessage::CopyDone(CopyDone::new()))
                        .await?;
                    Ok(format!("COPY {rows}"))
                }
                Ok(()) => Ok(format!("SUBSCRIBE {rows}")),
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    };
    drop(running);
    match outcome {
        Ok(tag) => {
            client
                .feed(PgWireBackendMessage::CommandComplete(CommandComplete::new(
                    tag,
                )))
                .await?
        }
        Err(e) => client.feed(error_response(&e)).await?,
    }
    client
        .send(PgWireBackendMessage::ReadyForQuery(ReadyForQuery::new(
            TransactionStatus::Idle,
        )))
        .await?;
    Ok(())
}

fn error_response(error: &SluiceError) -> PgWireBackendMessage {
    PgWireBackendMessage::ErrorResponse(error_info(error).into())
}

/// A text `DataRow` as a line of `COPY ... TO STDOUT` text format: tab-separated,
/// `\N` for NULL, backslash escapes for backslash, tab, newline and carriage return.
fn copy_line(row: &DataRow) -> Bytes {
    let mut line = BytesMut::with_capacity(row.data.len() + 8);
    let mut data = &row.data[..];
    for field in 0..row.field_count {
        if field > 0 {
            line.put_u8(b'\t');
        }
        let Some((length, rest)) = data.split_first_chunk::<4>() else {
            break;
        };
        let length = i32::from_be_bytes(*length);
        data = rest;
        if length < 0 {
            line.put_slice(b"\\N");
            continue;
        }
        let (value, rest) = data.split_at((length as usize).min(data.len()));
        data = rest;
        for &byte in value {
            match byte {
                b'\\' => line.put_slice(b"\\\\"),
                b'\t' => line.put_slice(b"\\t"),
                b'\n' => line.put_slice(b"\\n"),
                b'\r' => line.put_slice(b"\\r"),
                other => line.put_u8(other),
            }
        }
    }
    line.put_u8(b'\n');
    line.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_lines_escape_like_postgres() {
        let mut data = BytesMut::new();
        for field in [Some(&b"a\tb\\c\nd"[..]), None, Some(&b""[..])] {
            match field {
                Some(bytes) => {
                    data.put_i32(bytes.len() as i32);
                    data.put_slice(bytes);
                }
                None => data.put_i32(-1),
            }
        }
        let row = DataRow::new(data, 3);
        assert_eq!(&copy_line(&row)[..], b"a\\tb\\\\c\\nd\t\\N\t\n");
    }
}
