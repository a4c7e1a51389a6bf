//! sled: every table in one tree under its prefix byte (format 1's layout).
//!
//! sled's own `flush` writes its log with `sync_file_range`, which neither
//! flushes the disk's write cache nor the file's metadata, and it writes
//! values over 128 KiB (a block of ~1,000 transfers) to files under
//! `blobs/` that it never syncs at all. So after sled's flush this engine
//! `fsync`s the log file, every blob file that appeared since the last
//! commit, and the blob directory (and the data directory once, on open):
//! when a commit returns, the block is on the disk, not only in the
//! kernel's or the disk's cache. (ADR 6.)

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use super::Abandonable;
use crate::kv::{Entry, Kv, Table, WriteSet};
use crate::{Engine, EngineError};

/// The file sled keeps its log in, and locks while open.
pub(crate) const LOG_FILE: &str = "db";
/// The file sled writes its configuration to on creation.
pub(crate) const CONF_FILE: &str = "conf";
const BLOB_DIR: &str = "blobs";
/// Far longer than the tick of the clock that stamps file times.
const QUIET: std::time::Duration = std::time::Duration::from_secs(1);

pub(crate) struct SledKv {
    /// sled flushes when its last handle drops; not once abandoned.
    /// (Its background thread may still write: after a failed write the
    /// files are untrusted until reopened, where the top block's state is
    /// checked, `Damage::TornBlock`.)
    db: Abandonable<sled::Db>,
    /// `None` for a temporary store, which sled never writes to disk.
    sync: Option<DiskSync>,
}

/// What the sync after sled's flush needs.
struct DiskSync {
    log: File,
    blob_dir: PathBuf,
    blobs: Mutex<SeenBlobs>,
}

/// The blob files already synced (sled never rewrites one in place), and
/// the blob directory's modification time when they were listed.
#[derive(Default)]
struct SeenBlobs {
    modified: Option<std::time::SystemTime>,
    /// The directory had not changed for [`QUIET`] when it was listed, so
    /// any later change shows as a new modification time.
    quiet_since_listing: bool,
    names: HashSet<std::ffi::OsString>,
}

impl SledKv {
    /// sled in `path` with a page cache of `cache_bytes`; a `temporary` one
    /// is deleted on drop, and sled never writes it to disk, so there is
    /// nothing to sync.
    pub(crate) fn open(
        path: &Path,
        temporary: bool,
        cache_bytes: u64,
    ) -> Result<SledKv, sled::Error> {
        if !temporary {
            remove_unfinished_snapshots(path)?;
        }
        let db = sled::Config::new()
            .path(path)
            .temporary(temporary)
            .cache_capacity(cache_bytes)
            .open()?;
        if temporary {
            return Ok(SledKv {
                db: Abandonable::new(db),
                sync: None,
            });
        }
        let log = File::open(path.join(LOG_FILE))?;
        // sled creates its files without syncing the directory that names
        // them; until that is on disk, a power loss could take the store.
        File::open(path)?.sync_all()?;
        Ok(SledKv {
            db: Abandonable::new(db),
            // The first commit lists and syncs the blobs found on open: a
            // crash may have left them in the page cache only.
            sync: Some(DiskSync {
                log,
                blob_dir: path.join(BLOB_DIR),
                blobs: Mutex::default(),
            }),
        })
    }

    fn key(table: Table, key: &[u8]) -> Vec<u8> {
        let mut full = Vec::with_capacity(1 + key.len());
        full.push(table.prefix());
        full.extend_from_slice(key);
        full
    }

    /// sled's flush, then the fsyncs it leaves out.
    fn flush_to_disk(&self) -> Result<(), EngineError> {
        self.db.flush()?;
        let Some(sync) = &self.sync else {
            return Ok(());
        };
        sync.log.sync_all().map_err(EngineError::Sync)?;
        sync.new_blobs()
    }
}

impl DiskSync {
    /// Syncs the blob files that appeared since the last call, and the
    /// directory naming them. The directory's modification time tells
    /// whether anything appeared, so a commit without a new blob costs one
    /// `stat`, however many blobs there are. File times come from a coarse
    /// clock (a few milliseconds), so a directory changed within a second
    /// of its listing is listed again until it has been quiet that long.
    fn new_blobs(&self) -> Result<(), EngineError> {
        let mut seen = self.blobs.lock().unwrap_or_else(PoisonError::into_inner);
        let modified = match std::fs::metadata(&self.blob_dir).and_then(|m| m.modified()) {
            Ok(modified) => modified,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(EngineError::Sync(e)),
        };
        if seen.modified == Some(modified) && seen.quiet_since_listing {
            return Ok(());
        }
        let listed_at = std::time::SystemTime::now();
        let mut names = HashSet::new();
        for entry in std::fs::read_dir(&self.blob_dir).map_err(EngineError::Sync)? {
            let entry = entry.map_err(EngineError::Sync)?;
            let name = entry.file_name();
            if !seen.names.contains(&name)
                && !sync_blob(&entry.path()).map_err(EngineError::Sync)?
            {
                continue; // collected by sled since the listing
            }
            names.insert(name);
        }
        File::open(&self.blob_dir)
            .and_then(|dir| dir.sync_all())
            .map_err(EngineError::Sync)?;
        // Collected blobs drop out of the set here.
        *seen = SeenBlobs {
            modified: Some(modified),
            quiet_since_listing: modified + QUIET < listed_at,
            names,
        };
        Ok(())
    }
}

/// Removes the snapshots sled began and never finished. sled writes a
/// snapshot to `snap.<lsn>.generating`, syncs it, then renames it; but on
/// open it reads the last file named `snap.*`, unfinished ones included,
/// so a process killed while writing one leaves a store sled refuses as
/// corrupt (sled 0.34.7; its issues #1509 and #1527; the crash test met
/// it once in CI). An unfinished snapshot is never the durable state: the
/// previous one stays until the rename, and the log holds what followed.
fn remove_unfinished_snapshots(path: &Path) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(path) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error),
    };
    let mut removed = false;
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            std::fs::remove_file(entry.path())?;
            removed = true;
        }
    }
    if removed {
        File::open(path)?.sync_all()?;
    }
    Ok(())
}

/// Syncs one blob file; `false` if it is gone. sled deletes a blob once no
/// page refers to it any more, so one listed a moment ago may have been
/// collected since: nothing of it needs to be durable, and the directory's
/// own sync records its removal. (The soak of issue 11 met this: a commit
/// failed with `ENOENT` and the node stopped producing blocks.)
fn sync_blob(path: &Path) -> std::io::Result<bool> {
    match File::open(path).and_then(|file| file.sync_all()) {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(error),
    }
}

impl Kv for SledKv {
    fn engine(&self) -> Engine {
        Engine::Sled
    }

    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, EngineError> {
        Ok(self.db.get(Self::key(table, key))?.map(|v| v.to_vec()))
    }

    fn scan(
        &self,
        table: Table,
        from: &[u8],
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<Entry>, EngineError> {
        let prefix = Self::key(table, prefix);
        let mut entries = Vec::new();
        for entry in self.db.range(Self::key(table, from)..).take(limit) {
            let (key, value) = entry?;
            if !key.starts_with(&prefix) {
                break;
            }
            entries.push((key[1..].to_vec(), value.to_vec()));
        }
        Ok(entries)
    }

    fn is_empty(&self) -> Result<bool, EngineError> {
        Ok(self.db.is_empty())
    }

    fn write(&self, writes: WriteSet) -> Result<(), EngineError> {
        let mut batch = sled::Batch::default();
        for write in writes.writes {
            let key = Self::key(write.table, &write.key);
            match write.value {
                Some(value) => batch.insert(key, value),
                None => batch.remove(key),
            }
        }
        self.db.apply_batch(batch)?;
        self.flush_to_disk()
    }

    fn flush(&self) -> Result<(), EngineError> {
        self.flush_to_disk()
    }

    fn abandon(&self) {
        self.db.abandon();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blob_collected_since_the_listing_needs_no_sync() {
        let dir = tempfile::tempdir().expect("temp dir");
        let blob = dir.path().join("42");
        std::fs::write(&blob, b"value").expect("writes");
        assert!(sync_blob(&blob).expect("synced"));
        std::fs::remove_file(&blob).expect("removed");
        assert!(!sync_blob(&blob).expect("gone is not an error"));
        // Any other failure still is one (here: a file where a directory
        // should be).
        let file = dir.path().join("file");
        std::fs::write(&file, b"").expect("writes");
        assert!(sync_blob(&file.join("42")).is_err());
    }
}
