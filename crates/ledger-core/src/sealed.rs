//! Values whose hash was computed once and travels with them.

use std::ops::Deref;

use crate::primitives::Hash;

/// Something with one canonical hash.
pub trait Sealable: Sized {
    /// Computes the hash from scratch (the slow, reference path).
    fn compute_hash(&self) -> Hash;

    /// Computes the hash once and keeps it with the value.
    fn seal(self) -> Sealed<Self> {
        let hash = self.compute_hash();
        Sealed { inner: self, hash }
    }
}

/// A value and its hash, computed once. The value cannot be changed while
/// sealed, so the hash can never go stale; [`Sealed::into_inner`] unseals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed<T> {
    inner: T,
    hash: Hash,
}

impl<T> Sealed<T> {
    /// Seals `inner` with a hash the caller already computed by another,
    /// equivalent path (tests check such paths against [`Sealable::compute_hash`]).
    pub(crate) fn new_unchecked(inner: T, hash: Hash) -> Sealed<T> {
        Sealed { inner, hash }
    }

    /// The cached hash.
    pub fn hash(&self) -> Hash {
        self.hash
    }

    /// The value.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// Unseals the value, dropping the hash.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T> Deref for Sealed<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.inner
    }
}
