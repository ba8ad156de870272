//! The probe's own HTTP/1.1 client against scripted servers that misbehave
//! byte by byte: what it sends, and how it judges odd, broken or slow answers.
//! Addresses `127.0.140.x`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fleetdns_config::{MonitorConfig, Protocol};
use fleetdns_prober::{Outcome, ProbeResult, Probes, Settings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::fixtures::{fast_monitor, install_crypto, monitor, target};

/// One step of a scripted answer.
#[derive(Clone)]
enum Step {
    Send(&'static [u8]),
    Pause(Duration),
    /// Sends this chunk again and again until the client hangs up.
    Forever(&'static [u8]),
}

/// A one-connection server: reads the request head, plays `script`, closes.
struct Scripted {
    addr: SocketAddr,
    request: Arc<Mutex<Vec<u8>>>,
    task: JoinHandle<()>,
}

impl Scripted {
    async fn start(host: u8, script: Vec<Step>) -> Scripted {
        let addr = SocketAddr::from(([127, 0, 140, host], 18080));
        let listener = TcpListener::bind(addr)
            .await
            .unwrap_or_else(|e| panic!("bind {addr}: {e}"));
        let request = Arc::new(Mutex::new(Vec::new()));
        let seen = request.clone();
        let task = tokio::spawn(async move {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let mut buf = vec![0u8; 4096];
            let mut n = 0;
            while !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") && n < buf.len() {
                match s.read(&mut buf[n..]).await {
                    Ok(0) | Err(_) => return,
                    Ok(k) => n += k,
                }
            }
            *seen.lock().unwrap() = buf[..n].to_vec();
            for step in script {
                let sent = match step {
                    Step::Send(bytes) => s.write_all(bytes).await,
                    Step::Pause(d) => {
                        tokio::time::sleep(d).await;
                        Ok(())
                    }
                    Step::Forever(chunk) => loop {
                        if let Err(e) = s.write_all(chunk).await {
                            break Err(e);
                        }
                    },
                };
                if sent.is_err() {
                    return;
                }
            }
        });
        Scripted {
            addr,
            request,
            task,
        }
    }

    fn request(&self) -> String {
        String::from_utf8_lossy(&self.request.lock().unwrap()).into_owned()
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn probe(server: &Scripted, m: &MonitorConfig) -> ProbeResult {
    install_crypto();
    let probes = Probes::new(&Settings::default()).expect("probe clients");
    probes.check(m, &target(server.addr)).await
}

fn http() -> MonitorConfig {
    monitor(Protocol::Http, 0)
}

#[tokio::test]
async fn request_is_one_get_with_host_defaults_and_connection_close() {
    let s = Scripted::start(1, vec![Step::Send(b"HTTP/1.1 200 OK\r\n\r\n")]).await;
    let r = probe(&s, &http()).await;
    assert_eq!(
        (r.outcome, r.detail.as_str()),
        (Outcome::Success, "HTTP 200")
    );
    let req = s.request();
    let ua = concat!("fleetdns-probe/", env!("CARGO_PKG_VERSION"));
    assert_eq!(
        req,
        format!(
            "GET /healthz HTTP/1.1\r\nHost: 127.0.140.1\r\nUser-Agent: {ua}\r\n\
             Accept: */*\r\nConnection: close\r\n\r\n"
        )
    );
}

#[tokio::test]
async fn custom_host_replaces_the_default_and_custom_headers_follow() {
    let s = Scripted::start(2, vec![Step::Send(b"HTTP/1.1 200 OK\r\n\r\n")]).await;
    let m = fast_monitor(Protocol::Http, 0)
        .header("host", "www.contoso.com")
        .header("X-Token", "t0k3n")
        .build();
    assert!(probe(&s, &m).await.outcome.is_healthy());
    let req = s.request();
    assert!(
        req.starts_with("GET /healthz HTTP/1.1\r\nhost: www.contoso.com\r\nX-Token: t0k3n\r\n"),
        "{req:?}"
    );
    assert_eq!(
        req.to_ascii_lowercase().matches("host:").count(),
        1,
        "{req:?}"
    );
}

#[tokio::test]
async fn garbage_instead_of_http_is_an_error_not_a_timeout() {
    let s = Scripted::start(
        3,
        vec![
            Step::Send(b"SSH-2.0-OpenSSH_9.6\r\n"),
            Step::Pause(Duration::from_secs(5)),
        ],
    )
    .await;
    let r = probe(&s, &http()).await;
    assert_eq!(
        (r.outcome, r.detail.as_str()),
        (Outcome::Error, "http: malformed status line")
    );
}

#[tokio::test]
async fn endless_header_is_cut_off_at_the_head_limit() {
    let s = Scripted::start(
        4,
        vec![
            Step::Send(b"HTTP/1.1 200 OK\r\nX-Filler: "),
            Step::Forever(b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
        ],
    )
    .await;
    let r = probe(&s, &http()).await;
    assert_eq!(
        (r.outcome, r.detail.as_str()),
        (
            Outcome::Error,
            "http: response head larger than 16384 bytes"
        )
    );
}

#[tokio::test]
async fn redirect_fails_and_unlisted_204_is_unexpected() {
    let s = Scripted::start(
        5,
        vec![Step::Send(
            b"HTTP/1.1 302 Found\r\nLocation: http://elsewhere/\r\n\r\n",
        )],
    )
    .await;
    let r = probe(&s, &http()).await;
    assert_eq!(
        (r.outcome, r.detail.as_str()),
        (Outcome::Redirect, "HTTP 302 (redirect)")
    );

    let s = Scripted::start(6, vec![Step::Send(b"HTTP/1.1 204 No Content\r\n\r\n")]).await;
    let r = probe(&s, &http()).await;
    assert_eq!(
        (r.outcome, r.detail.as_str()),
        (Outcome::UnexpectedStatus, "HTTP 204")
    );
    let s = Scripted::start(7, vec![Step::Send(b"HTTP/1.1 204 No Content\r\n\r\n")]).await;
    let listed = fast_monitor(Protocol::Http, 0)
        .expected_status(&[(200, 299)])
        .build();
    assert!(probe(&s, &listed).await.outcome.is_healthy());
}

#[tokio::test]
async fn slow_trickle_of_a_head_times_out() {
    let mut script = vec![Step::Send(b"HTTP/1.1 200 OK\r\n")];
    for _ in 0..50 {
        script.push(Step::Pause(Duration::from_millis(100)));
        script.push(Step::Send(b"X"));
    }
    let s = Scripted::start(8, script).await;
    let r = probe(&s, &http()).await;
    assert_eq!(
        (r.outcome, r.detail.as_str()),
        (Outcome::Timeout, "timeout after 1s")
    );
}

#[tokio::test]
async fn head_split_into_tiny_writes_and_an_interim_100_still_parse() {
    let s = Scripted::start(
        9,
        vec![
            Step::Send(b"HTTP/1.1 100 Continue\r\n\r\nHT"),
            Step::Pause(Duration::from_millis(20)),
            Step::Send(b"TP/1.0 5"),
            Step::Pause(Duration::from_millis(20)),
            Step::Send(b"03 Service Unavailable\r"),
            Step::Pause(Duration::from_millis(20)),
            Step::Send(b"\nRetry-After: 1\r\n\r\nbody that is never read"),
        ],
    )
    .await;
    let r = probe(&s, &http()).await;
    assert_eq!(
        (r.outcome, r.detail.as_str()),
        (Outcome::UnexpectedStatus, "HTTP 503")
    );
}

#[tokio::test]
async fn connection_closed_before_the_head_is_an_error() {
    let s = Scripted::start(10, vec![Step::Send(b"HTTP/1.1 200 OK\r\nContent-")]).await;
    let r = probe(&s, &http()).await;
    assert_eq!(
        (r.outcome, r.detail.as_str()),
        (
            Outcome::Error,
            "http: connection closed before the end of the response head"
        )
    );
}
