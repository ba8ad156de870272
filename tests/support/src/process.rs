//! Starting and stopping `fleetdns serve` on loopback.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::wait;

/// A running `fleetdns serve`; killed (by PID) when dropped.
pub struct Fleetdns {
    child: Child,
    /// The DNS address it listens on (UDP and TCP).
    pub addr: SocketAddr,
    /// The admin HTTP address (/metrics, /healthz, /readyz, /status).
    pub admin: SocketAddr,
    /// The config file it serves; rewrite it to trigger a reload.
    pub config: PathBuf,
    dir: PathBuf,
    log: Arc<Mutex<Vec<String>>>,
}

/// A fresh scratch directory under the system temp dir.
pub fn scratch_dir(tag: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "fleetdns-test-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

impl Fleetdns {
    /// Writes `config` to a temp file and starts `bin serve` on `listen`
    /// (use port 0 for a free port). Waits (bounded) until it reports listening.
    pub fn start(bin: &Path, config: &str, listen: &str) -> Self {
        Self::start_with(bin, config, listen, &[])
    }

    /// As [`Fleetdns::start`], with extra `serve` arguments.
    pub fn start_with(bin: &Path, config: &str, listen: &str, extra: &[&str]) -> Self {
        let dir = scratch_dir("serve");
        let path = dir.join("fleet.yaml");
        std::fs::write(&path, config).expect("write config");
        let mut child = Command::new(bin)
            .args(["serve", "--config"])
            .arg(&path)
            .args(["--listen", listen, "--admin", "127.0.0.1:0"])
            .args(extra)
            .env("FLEETDNS_LOG", "info,hickory_server=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn fleetdns");
        let stderr = child.stderr.take().expect("stderr piped");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if line.contains("dns listening") || line.contains("admin listening") {
                        if let Some(addr) = line
                            .split("addr=")
                            .nth(1)
                            .and_then(|s| s.split_whitespace().next())
                        {
                            let _ = tx.send((line.contains("admin"), addr.to_string()));
                        }
                    }
                    log.lock().expect("log lock").push(line);
                }
            });
        }
        let (mut addr, mut admin) = (None, None);
        while addr.is_none() || admin.is_none() {
            match rx.recv_timeout(Duration::from_secs(20)) {
                Ok((is_admin, a)) => {
                    let a: SocketAddr = a.parse().expect("listening address parses");
                    if is_admin {
                        admin = Some(a);
                    } else {
                        addr = Some(a);
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "fleetdns did not start; log:\n{}",
                        log.lock().expect("log lock").join("\n")
                    );
                }
            }
        }
        Self {
            child,
            addr: addr.expect("dns address"),
            admin: admin.expect("admin address"),
            config: path,
            dir,
            log,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything it logged so far.
    pub fn log(&self) -> String {
        self.log.lock().expect("log lock").join("\n")
    }

    /// Waits (bounded by `timeout`) until a log line contains `needle`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        wait::poll(
            &format!("a log line containing {needle:?}"),
            timeout,
            Duration::from_millis(20),
            || {
                self.log
                    .lock()
                    .expect("log lock")
                    .iter()
                    .any(|l| l.contains(needle))
            },
        )
        .is_ok()
    }

    /// Counts log lines containing `needle`.
    pub fn count_log(&self, needle: &str) -> usize {
        self.log
            .lock()
            .expect("log lock")
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }

    /// Sends a signal by PID with the system `kill` command.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Sends SIGTERM and waits (bounded) for the exit; returns the exit code.
    pub fn terminate(mut self) -> Option<i32> {
        self.signal("TERM");
        let child = &mut self.child;
        wait::poll(
            "fleetdns to exit after SIGTERM",
            Duration::from_secs(10),
            Duration::from_millis(20),
            || match child.try_wait() {
                Ok(Some(status)) => Ok(status.code()),
                Ok(None) => Err("still running".to_string()),
                Err(e) => Err(e.to_string()),
            },
        )
        .ok()
        .flatten()
    }
}

impl Drop for Fleetdns {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `fleetdns demo-backend` on one address: an HTTP server answering 200, killed by
/// PID on [`DemoBackend::kill`] or drop.
pub struct DemoBackend {
    child: Option<Child>,
    bin: PathBuf,
    pub addr: SocketAddr,
}

impl DemoBackend {
    /// Starts it and waits (bounded) until it accepts connections.
    pub fn start(bin: &Path, addr: SocketAddr) -> Self {
        let mut b = Self {
            child: None,
            bin: bin.to_path_buf(),
            addr,
        };
        b.restart();
        b
    }

    /// Starts it again on the same address.
    pub fn restart(&mut self) {
        let child = Command::new(&self.bin)
            .args(["demo-backend", "--listen", &self.addr.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn demo backend");
        self.child = Some(child);
        let addr = self.addr;
        wait::eventually(
            &format!("the demo backend on {addr} to accept connections"),
            Duration::from_secs(10),
            Duration::from_millis(20),
            || std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)),
        );
    }

    /// Kills the process (SIGKILL by PID) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for DemoBackend {
    fn drop(&mut self) {
        self.kill();
    }
}
