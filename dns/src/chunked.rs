//! A vector in shared fixed-size chunks: a copy costs one reference count per
//! chunk, and a change copies only the chunk it touches.
//!
//! The zone's endpoint keys and the answer counters' slots are indexed by an
//! endpoint's position and live as long as the snapshot that reads them. A
//! change to one profile (a health transition, a watch event) must not copy
//! 300,000 of them to change three: [`Chunked`] shares every chunk it did not
//! touch with the copy it came from.

use std::sync::Arc;

const BITS: u32 = 10;
const CHUNK: usize = 1 << BITS;

/// A persistent vector of `T` in chunks of 1,024.
#[derive(Debug)]
pub(crate) struct Chunked<T> {
    chunks: Vec<Arc<Vec<T>>>,
    len: usize,
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Self {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Clone for Chunked<T> {
    fn clone(&self) -> Self {
        Self {
            chunks: self.chunks.clone(),
            len: self.len,
        }
    }
}

impl<T: Clone> Chunked<T> {
    /// The number of elements.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The element at `index`.
    pub(crate) fn get(&self, index: usize) -> Option<&T> {
        self.chunks
            .get(index >> BITS)
            .and_then(|c| c.get(index & (CHUNK - 1)))
    }

    /// The element at `index`, for writing: its chunk is copied first when it
    /// is shared.
    pub(crate) fn get_mut(&mut self, index: usize) -> Option<&mut T> {
        let chunk = self.chunks.get_mut(index >> BITS)?;
        Arc::make_mut(chunk).get_mut(index & (CHUNK - 1))
    }

    /// Appends `value`; returns its index.
    pub(crate) fn push(&mut self, value: T) -> usize {
        let index = self.len;
        match self.chunks.last_mut() {
            Some(last) if last.len() < CHUNK => Arc::make_mut(last).push(value),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(value);
                self.chunks.push(Arc::new(chunk));
            }
        }
        self.len += 1;
        index
    }

    /// The elements in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flat_map(|c| c.iter())
    }
}

impl<T: Clone> FromIterator<T> for Chunked<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        let mut out = Self::default();
        for item in items {
            out.push(item);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_shares_untouched_chunks_and_changes_apart() {
        let a: Chunked<u32> = (0..3000).collect();
        assert_eq!(a.len(), 3000);
        assert_eq!(a.get(2999), Some(&2999));
        assert_eq!(a.get(3000), None);
        let mut b = a.clone();
        *b.get_mut(1500).unwrap() = 7;
        b.push(3000);
        assert_eq!((a.get(1500), b.get(1500)), (Some(&1500), Some(&7)));
        assert_eq!((a.len(), b.len()), (3000, 3001));
        assert!(
            Arc::ptr_eq(&a.chunks[0], &b.chunks[0]),
            "untouched chunk shared"
        );
        assert!(
            !Arc::ptr_eq(&a.chunks[1], &b.chunks[1]),
            "touched chunk copied"
        );
        assert!(b
            .iter()
            .copied()
            .eq((0..3001).map(|i| if i == 1500 { 7 } else { i })));
    }
}
