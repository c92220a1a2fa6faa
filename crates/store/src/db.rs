//! The sled database under the data dir (`<data dir>/sessions`): the one handle the session store and the trade
//! log take their trees from, its open (with the wait for a lock another handle still holds), its flush, and the
//! errors of both.
//!
//! This module never decodes or encodes a record and knows nothing of sessions or trades; it names no tree.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The directory of the sled database, under the data dir.
pub const DB_DIR: &str = "sessions";
/// How often, and how far apart, opening retries a store that is locked (2 s in all).
pub const OPEN_LOCK_ATTEMPTS_MAX: u32 = 100;
pub const OPEN_LOCK_RETRY_INTERVAL: Duration = Duration::from_millis(20);
/// Longest session id any record of the store holds (the session store's log records, the trade records).
pub const SESSION_ID_BYTES_MAX: usize = 1024;
/// sled's background flusher: flushing is explicit (the session store's commit), so it only adds a safety net.
const FLUSH_EVERY_MS: u64 = 500;

/// The open database. Cheap to clone (sled's handle is reference-counted); the lock is let go when the last
/// clone, and every tree taken from it, is dropped.
#[derive(Clone)]
pub struct Db {
    sled: sled::Db,
    path: PathBuf,
}

/// Why [`Db::open`] (or the opening of a tree with the store) failed.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Another handle holds sled's lock on the database, still after the wait: most likely a running venue.
    #[error("cannot open the session store at {}", .path.display())]
    Locked { path: PathBuf, source: sled::Error },
    #[error("cannot open the session store at {}", .path.display())]
    Sled { path: PathBuf, source: sled::Error },
}

/// sled refused a write or a flush.
#[derive(Debug, thiserror::Error)]
#[error("session store I/O")]
pub struct WriteError(#[from] pub(crate) sled::Error);

impl Db {
    /// Opens (or creates) the database in `data_dir/sessions`. A database held by a handle that is being let go
    /// (sled's flusher thread lets go within one flush interval) is waited for; one held still after
    /// [`OPEN_LOCK_ATTEMPTS_MAX`] tries is [`OpenError::Locked`].
    pub fn open(data_dir: &Path) -> Result<Db, OpenError> {
        let path = data_dir.join(DB_DIR);
        let config = sled::Config::new()
            .path(&path)
            .flush_every_ms(Some(FLUSH_EVERY_MS));
        let mut attempts = 0;
        loop {
            match config.open() {
                Ok(sled) => return Ok(Db { sled, path }),
                Err(e) if is_locked(&e) && attempts < OPEN_LOCK_ATTEMPTS_MAX => {
                    attempts += 1;
                    std::thread::sleep(OPEN_LOCK_RETRY_INTERVAL);
                }
                Err(source) if is_locked(&source) => {
                    return Err(OpenError::Locked { path, source });
                }
                Err(source) => return Err(OpenError::Sled { path, source }),
            }
        }
    }

    /// The database's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes sled's buffers and calls `sync_file_range` (sled 0.34): the writes before it survive the process
    /// being killed, not a power loss (see the session store's module doc).
    pub fn flush(&self) -> Result<(), WriteError> {
        self.sled.flush()?;
        Ok(())
    }

    /// Opens (or creates) a tree that is opened with the store: its failure is an open failure.
    pub(crate) fn open_tree(&self, name: &str) -> Result<sled::Tree, OpenError> {
        self.sled.open_tree(name).map_err(|source| OpenError::Sled {
            path: self.path.clone(),
            source,
        })
    }

    /// The names of the trees in the database.
    pub(crate) fn tree_names(&self) -> Vec<sled::IVec> {
        self.sled.tree_names()
    }

    /// Removes a tree and its records; false when there was none.
    pub(crate) fn drop_tree(&self, name: &str) -> Result<bool, WriteError> {
        Ok(self.sled.drop_tree(name)?)
    }

    /// Opens (or creates) a tree in the middle of an operation, whose error its failure becomes.
    pub(crate) fn tree(&self, name: &str) -> Result<sled::Tree, sled::Error> {
        self.sled.open_tree(name)
    }
}

/// Whether sled refused to open because another handle holds its lock on the database file.
///
/// sled 0.34 turns fs2's failed `try_lock_exclusive` into an `Error::Io` of kind `Other` (the OS error itself
/// survives only in the message). No other failure of its `Config::open` has that kind: the file system's
/// errors keep their own kinds (the standard library maps no OS error to `Other`), and the io errors sled makes
/// up itself while opening are `InvalidData` or `UnexpectedEof`, or are caught inside its recovery. The tests
/// below hold both sides of that.
fn is_locked(e: &sled::Error) -> bool {
    matches!(e, sled::Error::Io(io) if io.kind() == io::ErrorKind::Other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_held_open_elsewhere_is_refused_as_locked_after_the_wait() {
        let dir = tempfile::tempdir().unwrap();
        let _held = Db::open(dir.path()).unwrap();
        let started = std::time::Instant::now();
        let refused = Db::open(dir.path());
        assert!(matches!(refused, Err(OpenError::Locked { .. })));
        assert!(started.elapsed() >= OPEN_LOCK_RETRY_INTERVAL * OPEN_LOCK_ATTEMPTS_MAX);
    }

    #[test]
    fn a_database_let_go_opens_again() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        db.open_tree("t").unwrap().insert("k", "v").unwrap();
        db.flush().unwrap();
        drop(db);
        let db = Db::open(dir.path()).unwrap();
        assert_eq!(db.path(), dir.path().join(DB_DIR));
        assert_eq!(
            db.open_tree("t").unwrap().get("k").unwrap().as_deref(),
            Some(&b"v"[..])
        );
    }

    #[test]
    fn another_failure_to_open_is_not_taken_for_the_lock_and_is_not_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        // A data dir that is a file: the database directory cannot be created under it.
        let file = dir.path().join("file");
        std::fs::write(&file, b"").unwrap();
        let started = std::time::Instant::now();
        let refused = Db::open(&file);
        assert!(
            matches!(refused, Err(OpenError::Sled { .. })),
            "{:?}",
            refused.err()
        );
        assert!(started.elapsed() < OPEN_LOCK_RETRY_INTERVAL * OPEN_LOCK_ATTEMPTS_MAX);
    }
}
