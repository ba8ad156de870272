//! A fleet built whole again still shares what did not change.
//!
//! The zone holds the fleet's own profiles and counts a profile as changed
//! unless it is the same shared object, so a fleet whose every profile was
//! rebuilt (a cold validation of the file, a whole composition in hub mode or
//! with the Azure mirror) would be compiled whole, and the equal copies would
//! live on beside the served ones. Taking the previous fleet's object for each
//! equal profile before publishing keeps a change in proportion to what
//! changed.

use std::sync::Arc;

use super::{Fleet, Profile};

impl Fleet {
    /// Makes each profile equal to `previous`'s profile of the same owner name
    /// that very object, and returns how many it took.
    pub fn share_unchanged(&mut self, previous: &Fleet) -> usize {
        share_profiles(&mut self.profiles, previous.profiles.iter())
    }
}

/// Replaces each of `profiles` equal to the one of the same owner name in
/// `previous` by that object; returns how many. Both are in owner order, so
/// this is one walk, and a profile already shared costs a pointer comparison.
pub(crate) fn share_profiles<'a>(
    profiles: &mut [Arc<Profile>],
    previous: impl Iterator<Item = &'a Arc<Profile>>,
) -> usize {
    let mut old = previous.peekable();
    let mut taken = 0;
    for p in profiles {
        while old.peek().is_some_and(|o| o.owner < p.owner) {
            old.next();
        }
        if let Some(o) = old.peek() {
            if !Arc::ptr_eq(o, p) && ***o == **p {
                *p = Arc::clone(o);
                taken += 1;
            }
        }
    }
    taken
}
