//! The fake against the real kube-rs client and kube-runtime watcher: what fleetdns's
//! Kubernetes source and status write-back will see. One test binary, one module per topic.
//!
//! - `watch`: list/watch, 410 Gone and relists, bookmarks, streaming lists, metadata watches.
//! - `faults`: restarts, unreachable clusters, injected errors and latency.
//! - `status`: status subresource writes, server-side apply field ownership, the write log.
//! - `admission`: what the fake rejects (422 with field causes, strict fields, stale
//!   resourceVersions) and finalizers.
//! - `api`: discovery, kubeconfig files, pagination and selectors, seed manifests, JSON patch,
//!   delete-collection.
//!
//! Each test uses its own loopback address in 127.0.120.0/24 (port chosen by the kernel).

mod admission;
mod api;
mod common;
mod faults;
mod hub_auth;
mod status;
mod watch;
