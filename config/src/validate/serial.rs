//! The SOA serial when the settings give none.

use crate::model::Fleet;

/// A SOA serial that depends only on the content, so every replica fed the same
/// input reports the same serial (FNV-1a over the canonical JSON).
pub(super) fn content_serial(fleet: &Fleet) -> u32 {
    let json = serde_json::to_vec(fleet).expect("Fleet serializes to JSON");
    let mut h: u32 = 0x811c_9dc5;
    for b in json {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h.max(1)
}
