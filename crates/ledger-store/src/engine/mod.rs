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
    /// fjall 3: the default for a new store. An LSM tree with a journal;
    /// maintained, and 1.6–1.9× sled's committed transfers with flat
    /// memory (`docs/benchmarks.md`, ADR 7).
    #[default]
    Fjall,
    /// sled 0.34: a B-tree over a log, unmaintained since 2021; opens
    /// faster after a crash.
    Sled,
}

impl Engine {
    /// Every engine, the default first.
    pub const ALL: [Engine; 2] = [Engine::Fjall, Engine::Sled];

    /// The engine to open `path` with: the one whose files are there, or
    /// for a directory without a store `asked`, else the default. Asking
    /// for another engine than the one whose files are there is refused
    /// ([`StoreError::OtherEngine`](crate::StoreError::OtherEngine)).
    pub fn for_directory(path: &Path, asked: Option<Engine>) -> Result<Engine, crate::StoreError> {
        match (Engine::detect(path), asked) {
            (Some(found), Some(requested)) if found != requested => {
                Err(crate::StoreError::OtherEngine {
                    path: path.to_path_buf(),
                    found,
                    requested,
                })
            }
            (Some(found), _) => Ok(found),
            (None, asked) => Ok(asked.unwrap_or_default()),
        }
    }

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
#[error("unknown storage engine {name:?}; known: fjall, sled")]
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
