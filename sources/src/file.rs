//! The file source: reads the config file from disk, and watches it.
//!
//! [`load`] reads and judges the file once ([`fleetdns_config::file::load_str`]
//! does the judging); [`watch()`] re-reads it when it changes or on demand (SIGHUP)
//! and publishes each valid `Fleet`; a broken file is reported and the last good
//! one stays. `serve` loads with [`load_kept`] and hands the [`Loader`] to the
//! watcher: each document's parse is kept, so a reload parses only the documents
//! that changed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use fleetdns_config::file::Loader;
use fleetdns_config::file::{load_shared, Progress};
use fleetdns_config::{Diagnostic, Diagnostics, Fleet, Location};
use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;

/// Largest config file accepted (bytes).
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// Files with at least this many documents log their loading progress.
pub const LOG_PROGRESS_FROM: usize = 10_000;

/// Reads and validates `path`. Warnings and notes come with the `Fleet`; any error
/// rejects the file. A large file logs its progress (documents split, parsed,
/// objects validated): a few lines, not one per object. Nothing is kept.
pub fn load(path: &Path) -> Result<(Fleet, Diagnostics), Diagnostics> {
    let text: Arc<str> = Arc::from(read(path)?);
    let mut log = progress_log(path);
    load_shared(path, text, &mut log)
}

/// [`load`], keeping each document's parse in `loader` for the next load.
pub fn load_kept(loader: &mut Loader, path: &Path) -> Result<(Fleet, Diagnostics), Diagnostics> {
    let text: Arc<str> = Arc::from(read(path)?);
    let mut log = progress_log(path);
    loader.load(path, text, &mut log)
}

/// Logs a large file's [`Progress`].
fn progress_log(path: &Path) -> impl FnMut(Progress) + '_ {
    let started = tokio::time::Instant::now();
    let mut large = false;
    move |p: Progress| {
        let ms = started.elapsed().as_millis() as u64;
        match p {
            Progress::Split { documents } => {
                large = documents >= LOG_PROGRESS_FROM;
                if large {
                    tracing::info!(file = %path.display(), documents, ms, "config split into documents");
                }
            }
            Progress::Parsed { parsed, documents } if large => {
                tracing::info!(parsed, documents, ms, "config documents parsed");
            }
            Progress::Validated {
                profiles,
                endpoints,
                incremental,
            } if large => {
                tracing::info!(
                    profiles,
                    endpoints,
                    incremental,
                    ms,
                    "config objects validated"
                );
            }
            _ => {}
        }
    }
}

fn read(path: &Path) -> Result<String, Diagnostics> {
    let fail = |message: String| {
        Diagnostics(vec![Diagnostic::error(
            Location {
                file: path.to_path_buf(),
                ..Location::default()
            },
            message,
        )])
    };
    let meta = std::fs::metadata(path).map_err(|e| fail(format!("cannot read the file: {e}")))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(fail(format!(
            "the file is {} bytes; allowed: at most {MAX_FILE_BYTES} bytes",
            meta.len()
        )));
    }
    std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read the file: {e}")))
}

/// How often the file's modification time and size are checked.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Watches `path` (loaded when it had the stamp `loaded`): reloads when its
/// modification time or size changes and when
/// `reload` is notified (SIGHUP). Each valid result is published on `tx`; an
/// invalid file is logged with every diagnostic and the last good `Fleet` stays.
/// `loader` is the one `path` was loaded with ([`load_kept`]; a new one makes
/// the first reload parse every document). Returns when `shutdown` is cancelled.
pub async fn watch(
    path: PathBuf,
    loaded: Option<Stamp>,
    mut loader: Loader,
    tx: watch::Sender<Arc<Fleet>>,
    reload: Arc<Notify>,
    on_result: impl Fn(Result<&Diagnostics, &Diagnostics>) + Send,
    shutdown: CancellationToken,
) {
    let mut seen = loaded;
    loop {
        let forced = tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = reload.notified() => true,
            _ = tokio::time::sleep(POLL_INTERVAL) => false,
        };
        let now = stamp(&path);
        if !forced && now == seen {
            continue;
        }
        seen = now;
        match load_kept(&mut loader, &path) {
            Ok((mut fleet, diags)) => {
                on_result(Ok(&diags));
                // The loader's serial cache already shares unchanged profiles;
                // a configured serial skips that cache, so take the served
                // fleet's objects here (a pointer walk when already shared).
                let changed = {
                    let served = tx.borrow();
                    fleet.share_unchanged(&served);
                    **served != fleet
                };
                if changed {
                    tx.send_replace(Arc::new(fleet));
                }
            }
            Err(diags) => on_result(Err(&diags)),
        }
    }
}

/// What identifies a version of the file for change detection: modification time and size.
pub type Stamp = (std::time::SystemTime, u64);

/// The file's current [`Stamp`]. Take it *before* the first [`load`] and pass it to
/// [`watch()`], so a change made between the load and the watcher's start is seen.
pub fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}
