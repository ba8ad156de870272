//! What the content serial costs at scale: a cold seal digests every profile, a
//! seal with the last fleet's `SerialCache` only the profiles it has not seen.
//!
//! `cargo run --release -p fleetdns-config --example seal_time -- /tmp/c100k.yaml`

use std::path::Path;
use std::time::Instant;

use fleetdns_config::validate::{seal, seal_cached, SerialCache};

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: seal_time <config.yaml>");
    let text = std::fs::read_to_string(&path).expect("the config is readable");
    let (mut fleet, _) =
        fleetdns_config::file::load_str(Path::new(&path), &text).unwrap_or_else(|d| panic!("{d}"));
    let mut cache = SerialCache::default();
    for round in 0..3 {
        let t = Instant::now();
        seal_cached(&mut fleet, &mut cache);
        println!(
            "seal {round} with the cache: {:>8.1} ms, {} profile digests computed",
            t.elapsed().as_secs_f64() * 1e3,
            cache.computed()
        );
    }
    let t = Instant::now();
    seal(&mut fleet);
    println!(
        "cold seal:              {:>8.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
}
