//! The process's allocator, and how soon it gives freed memory back.
//!
//! mimalloc rather than glibc's malloc: loading a large config frees hundreds of
//! MB of parsed documents, which glibc keeps (fragmented, not returned to the
//! system), so a 100k-profile fleet served at the peak it reached while loading.
//!
//! mimalloc itself returns freed pages to the system 10 ms after they are freed,
//! and only as it next allocates; a large load frees most of its memory in bursts,
//! and at 100k profiles the process kept ~600 MiB resident of ~320 MiB live. With
//! purging at once (`MIMALLOC_PURGE_DELAY=0`) it keeps ~160 MiB less and peaks
//! ~30 % lower (docs/BENCHMARKS.md, "Scale work"). mimalloc reads its
//! options from the environment when the process starts, and this crate forbids
//! the `unsafe` its option API needs, so the binary starts itself again with the
//! variable set (same process id: `exec`), unless the variable is already set.

/// The global allocator (the system's without the `mimalloc` feature, for heap
/// profilers).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The mimalloc option this module sets.
const PURGE_DELAY: &str = "MIMALLOC_PURGE_DELAY";

/// Replaces this process with itself, with freed memory purged at once — unless
/// the operator chose a purge delay (the variable is set), or the executable
/// cannot be found again; then it carries on as it is.
pub(crate) fn purge_freed_memory_at_once() {
    if !cfg!(feature = "mimalloc") {
        return;
    }
    use std::os::unix::process::CommandExt as _;
    if std::env::var_os(PURGE_DELAY).is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut args = std::env::args_os();
    let mut command = std::process::Command::new(exe);
    if let Some(arg0) = args.next() {
        command.arg0(arg0);
    }
    // Returns only when the exec failed.
    let _error = command.args(args).env(PURGE_DELAY, "0").exec();
}
