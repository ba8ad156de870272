//! Third-party DNS daemons on loopback: nsd (fake root and parent zones), unbound
//! (recursive resolver) and knotd (reference authoritative server).
//!
//! Each daemon gets its own scratch directory with its config, zone files, pid
//! and log files, runs in the foreground in its own process group, and is stopped
//! by that group's id when the [`Daemon`] is dropped (SIGTERM, then SIGKILL after a
//! bounded wait), so the worker processes nsd forks go too. `start` returns only
//! once the daemon answers a DNS query (bounded wait); a daemon that exits or
//! never answers fails the test with its log.
//!
//! The daemons listen on port 53 of one 127.x.y.z address each (a delegation's
//! glue has no port), which needs root or CAP_NET_BIND_SERVICE, as in CI.
//!
//! ```no_run
//! use fleetdns_testsupport::daemons::{self, Zone};
//! let root = Zone::new(".", "$TTL 3600\n. IN SOA ns.example.com. h.example.com. 1 3600 600 86400 60\n...");
//! let nsd = daemons::nsd("127.0.53.10".parse().unwrap(), &[root]);
//! ```

use std::fmt::Write as _;
use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use hickory_proto::serialize::binary::BinDecodable;

use crate::process::scratch_dir;
use crate::wait;

/// How long a daemon may take to answer its first query.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a daemon may take to exit after SIGTERM before it gets SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// A zone for nsd or knotd: its name (`"."` for the root) and the zone file text.
#[derive(Clone, Debug)]
pub struct Zone {
    pub name: String,
    pub text: String,
}

impl Zone {
    pub fn new(name: &str, text: &str) -> Self {
        Self {
            name: name.to_string(),
            text: text.to_string(),
        }
    }

    /// The zone file name in the scratch directory.
    fn file_name(&self) -> String {
        let n = self.name.trim_end_matches('.');
        if n.is_empty() {
            "root.zone".to_string()
        } else {
            format!("{n}.zone")
        }
    }
}

/// A running daemon; stopped by process group id on drop.
pub struct Daemon {
    name: &'static str,
    child: Option<Child>,
    /// Where it answers DNS (UDP and TCP), always port 53.
    pub addr: SocketAddr,
    /// Its scratch directory (config, zones, log).
    pub dir: PathBuf,
    log: PathBuf,
}

impl Daemon {
    /// Starts `program args…` in `dir` in a new process group with stdout and
    /// stderr going to `dir/<name>.out`, then waits (bounded) until `ready`
    /// accepts a reply to `probe` sent to `addr`.
    fn spawn(
        name: &'static str,
        program: &str,
        args: &[&str],
        dir: PathBuf,
        addr: SocketAddr,
        probe: (&str, RecordType, DNSClass),
        ready: impl Fn(&Message) -> bool,
    ) -> Self {
        let log = dir.join(format!("{name}.out"));
        let out = File::create(&log).expect("create daemon log");
        let err = out.try_clone().expect("clone daemon log");
        let child = Command::new(program)
            .args(args)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {program}: {e} (apt-get install nsd unbound knot; .ci/run does this)")
            });
        let mut d = Self {
            name,
            child: Some(child),
            addr,
            dir,
            log,
        };
        d.wait_ready(probe, ready);
        d
    }

    fn wait_ready(
        &mut self,
        (qname, qtype, qclass): (&str, RecordType, DNSClass),
        ready: impl Fn(&Message) -> bool,
    ) {
        let addr = self.addr;
        let outcome = wait::poll(
            &format!("{} on {addr} to answer {qname} {qtype}", self.name),
            START_TIMEOUT,
            Duration::from_millis(50),
            || {
                if let Some(child) = self.child.as_mut() {
                    if let Ok(Some(status)) = child.try_wait() {
                        self.child = None;
                        panic!(
                            "{} exited during start-up ({status}); log:\n{}",
                            self.name,
                            self.log()
                        );
                    }
                }
                match probe(addr, qname, qtype, qclass) {
                    Ok(m) if ready(&m) => Ok(()),
                    Ok(m) => Err(format!("rcode {}", m.metadata.response_code)),
                    Err(e) => Err(e),
                }
            },
        );
        if let Err(t) = outcome {
            panic!("{t}; log:\n{}", self.log());
        }
    }

    /// What the daemon wrote to stdout/stderr (and its log file, if any).
    pub fn log(&self) -> String {
        let mut s = std::fs::read_to_string(&self.log).unwrap_or_default();
        for extra in ["nsd.log"] {
            if let Ok(t) = std::fs::read_to_string(self.dir.join(extra)) {
                s += &t;
            }
        }
        s
    }

    /// The PID of the daemon's main process (also its process group id).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Stops the daemon's process group: SIGTERM, a bounded wait, then SIGKILL.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let group = format!("-{}", child.id());
        let _ = Command::new("kill")
            .args(["-TERM", "--", &group])
            .stderr(Stdio::null())
            .status();
        // Bounded: whatever still runs after STOP_TIMEOUT is killed below.
        let _ = wait::poll(
            "the daemon to exit after SIGTERM",
            STOP_TIMEOUT,
            Duration::from_millis(20),
            || matches!(child.try_wait(), Ok(Some(_))),
        );
        // Whatever is left of the group (a leader that ignored SIGTERM, workers).
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!(
                "{} scratch directory kept for inspection: {}",
                self.name,
                self.dir.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// One UDP query with hickory-proto; the reply or an error (timeout, parse).
fn probe(
    server: SocketAddr,
    name: &str,
    qtype: RecordType,
    qclass: DNSClass,
) -> Result<Message, String> {
    let id = (std::process::id() as u16) ^ 0x5a5a;
    let mut msg = Message::new(id, MessageType::Query, OpCode::Query);
    let mut q = Query::query(Name::from_ascii(name).map_err(|e| e.to_string())?, qtype);
    q.set_query_class(qclass);
    msg.add_query(q);
    let packet = msg.to_vec().map_err(|e| e.to_string())?;
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .map_err(|e| e.to_string())?;
    sock.send_to(&packet, server).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 65535];
    let (n, _) = sock.recv_from(&mut buf).map_err(|e| e.to_string())?;
    let reply = Message::from_bytes(&buf[..n]).map_err(|e| e.to_string())?;
    if reply.metadata.id != id {
        return Err("reply with another ID".to_string());
    }
    Ok(reply)
}

/// Ready when the SOA of the zone comes back authoritatively.
fn soa_loaded(m: &Message) -> bool {
    m.metadata.response_code == ResponseCode::NoError
        && m.metadata.authoritative
        && !m.answers.is_empty()
}

fn write(dir: &Path, file: &str, text: &str) {
    std::fs::write(dir.join(file), text).unwrap_or_else(|e| panic!("write {file}: {e}"));
}

/// Runs a config checker (`nsd-checkconf`, `unbound-checkconf`, `knotc conf-check`)
/// so a broken config fails with the checker's message rather than a start-up timeout.
fn check(program: &str, args: &[&str], config: &str) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} rejected the config:\n{}{}\nconfig:\n{config}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// nsd on `ip`:53 serving `zones` (e.g. a fake root and a parent zone), with
/// response rate limiting off (it is on by default and drops test traffic).
pub fn nsd(ip: Ipv4Addr, zones: &[Zone]) -> Daemon {
    let dir = scratch_dir("nsd");
    let d = dir.display();
    let mut conf = format!(
        "server:
    ip-address: {ip}@53
    do-ip6: no
    username: \"\"
    chroot: \"\"
    zonesdir: \"{d}\"
    database: \"\"
    pidfile: \"{d}/nsd.pid\"
    xfrdfile: \"{d}/xfrd.state\"
    zonelistfile: \"{d}/zone.list\"
    logfile: \"{d}/nsd.log\"
    verbosity: 1
    server-count: 1
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
"
    );
    for z in zones {
        write(&dir, &z.file_name(), &z.text);
        let _ = write!(
            conf,
            "zone:\n    name: \"{}\"\n    zonefile: \"{}\"\n",
            z.name,
            z.file_name()
        );
    }
    write(&dir, "nsd.conf", &conf);
    let path = dir.join("nsd.conf");
    let path = path.to_str().expect("utf-8 path");
    check("nsd-checkconf", &[path], &conf);
    let first = zones.first().expect("nsd needs a zone").name.clone();
    Daemon::spawn(
        "nsd",
        "nsd",
        &["-d", "-c", path],
        dir,
        SocketAddr::new(ip.into(), 53),
        (&first, RecordType::SOA, DNSClass::IN),
        soa_loaded,
    )
}

/// knotd on `ip`:53 serving `zones` from zone files (no journal, no zone file
/// write-back), one background worker.
pub fn knot(ip: Ipv4Addr, zones: &[Zone]) -> Daemon {
    let dir = scratch_dir("knot");
    let d = dir.display();
    let mut conf = format!(
        "server:
    listen: {ip}@53
    rundir: \"{d}/run\"
    background-workers: 1
log:
  - target: stderr
    any: info
database:
    storage: \"{d}/db\"
template:
  - id: default
    storage: \"{d}\"
    file: \"%s.zone\"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
zone:
"
    );
    std::fs::create_dir_all(dir.join("run")).expect("knot rundir");
    std::fs::create_dir_all(dir.join("db")).expect("knot db dir");
    for z in zones {
        write(&dir, &z.file_name(), &z.text);
        let _ = writeln!(conf, "  - domain: {}", z.name);
    }
    write(&dir, "knot.conf", &conf);
    let path = dir.join("knot.conf");
    let path = path.to_str().expect("utf-8 path");
    check("knotc", &["-c", path, "conf-check"], &conf);
    let first = zones.first().expect("knot needs a zone").name.clone();
    Daemon::spawn(
        "knotd",
        "knotd",
        &["-c", path],
        dir,
        SocketAddr::new(ip.into(), 53),
        (&first, RecordType::SOA, DNSClass::IN),
        soa_loaded,
    )
}

/// unbound on `ip`:53 as a recursive resolver that iterates from `root_hints`
/// (text of a hints file naming loopback root servers). It may query loopback
/// addresses (`do-not-query-localhost: no`), never validates (iterator module
/// only, so no trust anchor is needed), and does not stretch TTLs: no prefetch,
/// no serve-expired, `cache-min-ttl: 0`. `extra` lines are appended to `server:`.
pub fn unbound(ip: Ipv4Addr, root_hints: &str, extra: &str) -> Daemon {
    let dir = scratch_dir("unbound");
    let d = dir.display();
    write(&dir, "root.hints", root_hints);
    let conf = format!(
        "server:
    interface: {ip}@53
    port: 53
    do-ip6: no
    do-not-query-localhost: no
    access-control: 127.0.0.0/8 allow
    root-hints: \"{d}/root.hints\"
    module-config: \"iterator\"
    username: \"\"
    chroot: \"\"
    directory: \"{d}\"
    pidfile: \"{d}/unbound.pid\"
    use-syslog: no
    logfile: \"\"
    verbosity: 1
    num-threads: 1
    qname-minimisation: yes
    prefetch: no
    serve-expired: no
    cache-min-ttl: 0
{extra}
remote-control:
    control-enable: no
"
    );
    write(&dir, "unbound.conf", &conf);
    let path = dir.join("unbound.conf");
    let path = path.to_str().expect("utf-8 path");
    check("unbound-checkconf", &[path], &conf);
    // unbound answers `version.server CH TXT` itself, without recursion.
    Daemon::spawn(
        "unbound",
        "unbound",
        &["-d", "-c", path],
        dir,
        SocketAddr::new(ip.into(), 53),
        ("version.server.", RecordType::TXT, DNSClass::CH),
        |m| m.metadata.response_code == ResponseCode::NoError,
    )
}
