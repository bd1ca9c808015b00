//! Execute's row limit without trusting it for memory.
//!
//! pgwire reserves a row buffer the size of the client's limit before fetching
//! (`Execute` with a limit of 2^31 − 1 would reserve ~85 GB and abort the server), so
//! a limit above [`CHUNK_ROWS`] is served here: the portal is fetched in chunks and
//! the rows are sent as they come, ending in `PortalSuspended` after exactly `limit`
//! rows or `CommandComplete` when the rows run out, as PostgreSQL does.

use std::fmt::Debug;

use futures::{Sink, SinkExt, StreamExt};
use pgwire::api::ClientInfo;
use pgwire::api::portal::Portal;
use pgwire::api::results::Tag;
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::extendedquery::PortalSuspended;

/// The largest row limit pgwire is given as is (its buffer for it is small).
pub const CHUNK_ROWS: usize = 8192;

/// The limit PostgreSQL applies for a client's `max_rows`: zero or less means all rows.
pub fn effective_limit(max_rows: i32) -> i32 {
    max_rows.max(0)
}

/// Sends up to `limit` rows of the started `portal` to `client`, fetching
/// [`CHUNK_ROWS`] at a time.
pub async fn send_rows<C, S>(client: &mut C, portal: &Portal<S>, limit: usize) -> PgWireResult<()>
where
    C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    S: Clone,
{
    let mut sent = 0;
    let mut tag: Option<String> = None;
    loop {
        let fetched = portal.fetch((limit - sent).min(CHUNK_ROWS)).await?;
        let mut response = fetched.response;
        let tag = tag.get_or_insert_with(|| response.command_tag().to_owned());
        while let Some(row) = response.data_rows().next().await {
            client.feed(PgWireBackendMessage::DataRow(row?)).await?;
            sent += 1;
        }
        if !fetched.suspended {
            let done = Tag::new(tag).with_rows(sent);
            client
                .send(PgWireBackendMessage::CommandComplete(done.into()))
                .await?;
            return Ok(());
        }
        if sent >= limit {
            client
                .send(PgWireBackendMessage::PortalSuspended(PortalSuspended::new()))
                .await?;
            return Ok(());
        }
    }
}
