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
//! ~30 % lower (docs/BENCHMARKS.md, "Scale work"). On Linux mimalloc also commits
//! its arenas eagerly, which kept ~15 MiB resident at an empty fleet and ~45 MiB
//! more at 100k profiles; `MIMALLOC_ARENA_EAGER_COMMIT=0` commits on demand.
//!
//! mimalloc reads its options from the environment when the process starts, and
//! this crate forbids the `unsafe` its option API needs, so the binary starts
//! itself again with the variables set (same process id: `exec`), unless each is
//! already set (an operator's choice wins).

/// The global allocator (the system's without the `mimalloc` feature, for heap
/// profilers).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The mimalloc options this module sets, and their values.
const OPTIONS: [(&str, &str); 2] = [
    ("MIMALLOC_PURGE_DELAY", "0"),
    ("MIMALLOC_ARENA_EAGER_COMMIT", "0"),
];

/// Replaces this process with itself, with freed memory purged at once and
/// arenas committed on demand — unless the operator set each option already,
/// or the executable cannot be found again; then it carries on as it is.
pub(crate) fn purge_freed_memory_at_once() {
    if !cfg!(feature = "mimalloc") {
        return;
    }
    use std::os::unix::process::CommandExt as _;
    let unset: Vec<(&str, &str)> = OPTIONS
        .into_iter()
        .filter(|(name, _)| std::env::var_os(name).is_none())
        .collect();
    if unset.is_empty() {
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
    // After the exec every option is set, so this does not repeat. Returns only
    // when the exec failed.
    let _error = command.args(args).envs(unset).exec();
}
