//! The SOA serial when the settings give none.

use crate::model::Fleet;

/// A SOA serial that depends only on the content, so every replica fed the same
/// input reports the same serial (FNV-1a over the canonical JSON).
/// The JSON is hashed as it is written, never held whole (at 100k profiles it
/// would be over 100 MB).
pub(super) fn content_serial(fleet: &Fleet) -> u32 {
    let mut h = Fnv(0x811c_9dc5);
    // Buffered: the serializer writes a few bytes at a time.
    let mut w = std::io::BufWriter::with_capacity(64 * 1024, &mut h);
    serde_json::to_writer(&mut w, fleet).expect("Fleet serializes to JSON");
    let h = w
        .into_inner()
        .map_err(|e| e.into_error())
        .expect("hashing never fails");
    h.0.max(1)
}

/// FNV-1a over everything written to it.
struct Fnv(u32);

impl std::io::Write for Fnv {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        for &b in buf {
            self.0 ^= u32::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0193);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
