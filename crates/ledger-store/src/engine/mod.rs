//! The storage engines the store runs on, and how a directory tells which
//! one wrote it.

pub(crate) mod fjall;
pub(crate) mod sled;

use std::fmt;
use std::ops::Deref;
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};

/// A storage engine. Each keeps its own files in the data directory, and a
/// directory is opened with the engine that created it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Engine {
    /// sled 0.34: the default. A B-tree over a log; ~10k transfers/s on
    /// the node's write pattern (`docs/benchmarks.md`).
    #[default]
    Sled,
    /// fjall 3: an LSM tree with a journal; a few times faster to commit.
    Fjall,
}

impl Engine {
    /// Every engine, the default first.
    pub const ALL: [Engine; 2] = [Engine::Sled, Engine::Fjall];

    /// The engine's name, as `--store` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Sled => "sled",
            Engine::Fjall => "fjall",
        }
    }

    /// The engine whose files are in `path`, if any.
    pub fn detect(path: &Path) -> Option<Engine> {
        if path.join(sled::CONF_FILE).exists() || path.join(sled::LOG_FILE).exists() {
            Some(Engine::Sled)
        } else if path.join(fjall::VERSION_FILE).exists() {
            Some(Engine::Fjall)
        } else {
            None
        }
    }

    /// The file the engine locks while a store is open.
    pub(crate) fn lock_file(self) -> &'static str {
        match self {
            Engine::Sled => sled::LOG_FILE,
            Engine::Fjall => fjall::LOCK_FILE,
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is no engine's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown storage engine {name:?}; known: sled, fjall")]
pub struct UnknownEngine {
    /// The name given.
    pub name: String,
}

impl FromStr for Engine {
    type Err = UnknownEngine;

    fn from_str(name: &str) -> Result<Engine, UnknownEngine> {
        Engine::ALL
            .into_iter()
            .find(|engine| engine.name() == name)
            .ok_or_else(|| UnknownEngine {
                name: name.to_owned(),
            })
    }
}

/// An engine's database handle that can be abandoned after a failed
/// write: engines flush their memory to their files when the last handle
/// drops, and after a failed write that memory holds what must not be
/// written, so an abandoned handle keeps a clone of itself forever.
pub(crate) struct Abandonable<T: Clone> {
    handle: T,
    abandoned: AtomicBool,
}

impl<T: Clone> Abandonable<T> {
    pub(crate) fn new(handle: T) -> Abandonable<T> {
        Abandonable {
            handle,
            abandoned: AtomicBool::new(false),
        }
    }

    /// Never flush through this handle again, not even on drop.
    pub(crate) fn abandon(&self) {
        self.abandoned.store(true, Ordering::SeqCst);
    }
}

impl<T: Clone> Deref for Abandonable<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.handle
    }
}

impl<T: Clone> Drop for Abandonable<T> {
    fn drop(&mut self) {
        if self.abandoned.load(Ordering::SeqCst) {
            std::mem::forget(self.handle.clone());
        }
    }
}
