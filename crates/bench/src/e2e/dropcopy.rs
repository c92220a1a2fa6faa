//! The drop-copy reader (`--drop-copy`): one venue-wide drop-copy session `<prefix>DC` (an in-process venue
//! configures it with `SessionRole=dropcopy` and `DropCopyAccounts=*`; a remote venue must have it) logs on with
//! the measured sessions and reads everything the venue sends it until they are done, so that a run with and one
//! without it show what copying every ExecutionReport costs the acknowledgement path. It answers TestRequests (it
//! sends no application message, so a ResendRequest from the venue is an error); it is not measured, and counts
//! the copies (797=Y) it read.

use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::{mpsc, watch};

use testkit::client::Client;
use testkit::stamp::Stamp;
use testkit::stream::Stream;

use super::session::log_on_and_wait;

/// How long the reader keeps reading after the measured sessions are done, and the silence that ends it.
const DRAIN_MAX: Duration = Duration::from_secs(10);
const DRAIN_SILENCE: Duration = Duration::from_millis(500);
/// How long one read waits before the reader looks at the stop signal again.
const READ_WAIT: Duration = Duration::from_millis(200);

/// What the drop-copy reader saw.
#[derive(Debug, Default)]
pub(super) struct DropCopyOutcome {
    pub(super) copies: u64,
    pub(super) other: u64,
    /// The venue's Logout text, if it logged the drop copy out.
    pub(super) logout: Option<String>,
}

/// Logs `<prefix>DC` on, waits for the start, reads until `stop` and then until the venue falls silent.
pub(super) async fn run(
    stream: Stream,
    sender: String,
    target: String,
    ready: mpsc::Sender<()>,
    mut start: watch::Receiver<Option<Instant>>,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<DropCopyOutcome> {
    let mut client = Client::with_stamp(Stamp::new(&sender, &target));
    client.attach(stream);
    log_on_and_wait(&mut client, &ready, &mut start).await?;
    let mut outcome = DropCopyOutcome::default();
    let mut drain_until: Option<Instant> = None;
    loop {
        if drain_until.is_none() && *stop.borrow() {
            drain_until = Some(Instant::now() + DRAIN_MAX);
        }
        let wait = if drain_until.is_some() {
            DRAIN_SILENCE
        } else {
            READ_WAIT
        };
        match client.recv_raw(wait).await {
            Ok(Some(m)) => match m.msg_type() {
                "8" if m.get(797) == Some("Y") => outcome.copies += 1,
                "1" => {
                    let id = m.get(112).unwrap_or("").to_string();
                    client.send(&format!("35=0|112={id}|")).await?;
                }
                "2" => anyhow::bail!(
                    "the venue asked the drop copy for a resend: it sends nothing but session messages"
                ),
                "5" => {
                    outcome.logout = Some(m.get(58).unwrap_or("(no text)").to_string());
                    break;
                }
                _ => outcome.other += 1,
            },
            Ok(None) if drain_until.is_some() => break,
            Ok(None) => {}
            Err(e) => return Err(e).context("the drop copy's connection failed"),
        }
        if drain_until.is_some_and(|d| Instant::now() >= d) {
            break;
        }
    }
    let _ = client.send("35=5|").await;
    Ok(outcome)
}
