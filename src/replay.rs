//! A read-only replay of the journal through a fresh engine and gateway, as start-up does ([`crate::runtime`]),
//! for the compliance queries (`fixvenue order`'s engine events, `fixvenue trades`) and any later check that must
//! hold the logs against each other. The journal is read with [`journal::journal::reader::JournalReader`]: never
//! written, never cut, so a replay runs while the venue appends (it stops at what is written now) and on an
//! archived data dir.
//!
//! The replay is only as true as the configuration it is given: the instruments, accounts and sessions must be
//! those the venue ran with (as at a restart, a different configuration gives different books).
//!
//! It must never: write anything, submit a command, or build a report for a socket.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use engine::{Event, Sequenced};
use gateway::Gateway;
use journal::journal::reader::JournalReader;
use journal::wal::reader::ReadError;
use store::trades::TradeRecord;

use crate::runtime::{self, RuntimeError};

/// Why a replay failed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("configuration for the replay")]
    Config(#[source] Box<RuntimeError>),
    #[error("journal")]
    Journal(#[from] ReadError),
}

/// The configuration the venue ran with: session files (none: the bundled ones) and venue.toml (none: the
/// bundled one).
#[derive(Debug, Clone, Default)]
pub struct ReplayConfig {
    pub sessions: Vec<PathBuf>,
    pub venue: Option<PathBuf>,
}

/// One journaled command as the replay saw it.
pub struct Replayed<'a> {
    pub record: &'a Sequenced,
    /// The submitter's opaque context (empty for a version 1 record).
    pub origin: &'a [u8],
    /// The engine's events for the command, in order.
    pub events: &'a [Event],
    /// The trades of the command as the trade log records them.
    pub trades: Vec<TradeRecord>,
}

/// Replays the journal in `journal_dir` through a fresh engine and gateway built from `config`, handing each
/// command with its events and trades to `each`, in order, until `each` breaks; returns the last sequence number
/// replayed.
pub fn replay(
    journal_dir: &Path,
    config: &ReplayConfig,
    mut each: impl FnMut(Replayed<'_>) -> ControlFlow<()>,
) -> Result<u64, ReplayError> {
    let (mut engine, mut core) = fresh(config).map_err(|e| ReplayError::Config(Box::new(e)))?;
    let mut reader = JournalReader::open(journal_dir)?;
    let mut events = Vec::with_capacity(1_024);
    let mut last_seq = 0;
    while let Some((record, origin)) = reader.next_record()? {
        events.clear();
        engine.apply(&record, &mut events);
        let trades = core.replay(&record, &origin, &events);
        last_seq = record.seq;
        let flow = each(Replayed {
            record: &record,
            origin: &origin,
            events: &events,
            trades,
        });
        if flow.is_break() {
            break;
        }
    }
    Ok(last_seq)
}

fn fresh(config: &ReplayConfig) -> Result<(engine::Engine, Gateway), RuntimeError> {
    let settings = runtime::load_sessions(&config.sessions)?;
    let resolved = runtime::load_venue(config.venue.as_deref())?.resolve()?;
    runtime::engine_and_gateway(&settings, &resolved)
}
