//! The SOA serial of a merged fleet, as validation gives one (FNV-1a over the
//! canonical JSON with the serial at 0): a fleet merged from namespace parts must
//! carry the serial a whole composition would, so replicas agree whichever path
//! they took. Mirrors `fleetdns_config::validate`'s private `serial` module; the
//! incremental composer's tests pin that both agree.

use fleetdns_config::Fleet;

/// FNV-1a (32 bits) of `fleet` as JSON, written as it is hashed (never held whole);
/// 0 becomes 1.
pub(super) fn content_serial(fleet: &Fleet) -> u32 {
    let mut h = Fnv(0x811c_9dc5);
    serde_json::to_writer(&mut h, fleet).expect("Fleet serializes to JSON");
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
