//! Binding the DNS listeners and running them until shutdown.
//!
//! Binding is separate from serving so the binary can validate the config, bind
//! (and fail with a clear error on a taken port) before anything else starts.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use hickory_server::Server;
use tokio::net::{TcpListener, UdpSocket};

use crate::handler::Handler;

/// How long an idle TCP connection is kept open (RFC 7766 §6.2.3 suggests seconds).
pub const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Responses queued per TCP connection.
const TCP_RESPONSE_QUEUE: usize = 32;

/// Errors from binding listeners.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot bind DNS {protocol} on {addr}: {source}")]
    Bind {
        protocol: &'static str,
        addr: SocketAddr,
        source: io::Error,
    },
    #[error("DNS server failed: {0}")]
    Serve(String),
}

/// UDP sockets and TCP listeners, bound and not yet serving.
pub struct Listeners {
    udp: Vec<UdpSocket>,
    tcp: Vec<TcpListener>,
}

impl Listeners {
    /// The addresses actually bound (useful with port 0); UDP and TCP share them.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.udp
            .iter()
            .filter_map(|s| s.local_addr().ok())
            .collect()
    }
}

/// Attempts at finding a port free for both UDP and TCP when port 0 is asked for.
const PORT_ZERO_ATTEMPTS: usize = 20;

/// Binds UDP and TCP on every address. Port 0 picks a free port, the same for UDP
/// and TCP of one address (retrying when the UDP port is taken for TCP).
pub async fn bind(addrs: &[SocketAddr]) -> Result<Listeners, Error> {
    let mut udp = Vec::new();
    let mut tcp = Vec::new();
    for &addr in addrs {
        let attempts = if addr.port() == 0 {
            PORT_ZERO_ATTEMPTS
        } else {
            1
        };
        let mut last = None;
        for _ in 0..attempts {
            match bind_pair(addr).await {
                Ok((u, t)) => {
                    udp.push(u);
                    tcp.push(t);
                    last = None;
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        if let Some(e) = last {
            return Err(e);
        }
    }
    Ok(Listeners { udp, tcp })
}

async fn bind_pair(addr: SocketAddr) -> Result<(UdpSocket, TcpListener), Error> {
    let udp_err = |source| Error::Bind {
        protocol: "UDP",
        addr,
        source,
    };
    let socket = UdpSocket::bind(addr).await.map_err(udp_err)?;
    let bound = socket.local_addr().map_err(udp_err)?;
    let listener = TcpListener::bind(bound)
        .await
        .map_err(|source| Error::Bind {
            protocol: "TCP",
            addr: bound,
            source,
        })?;
    Ok((socket, listener))
}

/// Serves until `shutdown` resolves, then stops accepting and drains.
pub async fn serve(
    listeners: Listeners,
    handler: Handler,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), Error> {
    let mut server = Server::new(handler);
    for s in listeners.udp {
        server.register_socket(s);
    }
    for l in listeners.tcp {
        server.register_listener(l, TCP_IDLE_TIMEOUT, TCP_RESPONSE_QUEUE);
    }
    let token = server.shutdown_token().clone();
    tokio::select! {
        res = server.block_until_done() => return res.map_err(|e| Error::Serve(e.to_string())),
        _ = shutdown => {}
    }
    token.cancel();
    server
        .block_until_done()
        .await
        .map_err(|e| Error::Serve(e.to_string()))
}
