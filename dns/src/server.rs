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

/// Binds UDP and TCP on every address. Port 0 picks a free port, the same for UDP
/// and TCP of one address.
pub async fn bind(addrs: &[SocketAddr]) -> Result<Listeners, Error> {
    let mut udp = Vec::new();
    let mut tcp = Vec::new();
    for &addr in addrs {
        let socket = UdpSocket::bind(addr).await.map_err(|source| Error::Bind {
            protocol: "UDP",
            addr,
            source,
        })?;
        let bound = socket.local_addr().map_err(|source| Error::Bind {
            protocol: "UDP",
            addr,
            source,
        })?;
        let listener = TcpListener::bind(bound)
            .await
            .map_err(|source| Error::Bind {
                protocol: "TCP",
                addr: bound,
                source,
            })?;
        udp.push(socket);
        tcp.push(listener);
    }
    Ok(Listeners { udp, tcp })
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
