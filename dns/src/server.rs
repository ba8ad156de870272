//! Binding the DNS listeners and running them until shutdown.
//!
//! UDP is served by our own workers ([`crate::udp`]: SO_REUSEPORT sockets, a fast
//! path, hickory for the rest); TCP by our own accept loop ([`crate::tcp`]:
//! connection caps and timeouts) on tokio tasks. Binding is separate from
//! serving so the binary can validate the config, bind (and fail with a clear
//! error on a taken port) before anything else starts.

use std::io;
use std::net::{SocketAddr, UdpSocket};

use tokio::net::TcpListener;

use crate::tcp;
use crate::udp::{self, UdpService};
/// Attempts at finding a port free for both UDP and TCP when port 0 is asked for.
const PORT_ZERO_ATTEMPTS: usize = 20;

/// Errors from binding listeners.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot bind DNS {protocol} on {addr}: {source}")]
    /// A listener could not be bound.
    Bind {
        /// `udp` or `tcp`.
        protocol: &'static str,
        /// The address asked for.
        addr: SocketAddr,
        /// What the kernel said.
        source: io::Error,
    },
    /// A worker or the TCP loop failed while serving.
    #[error("DNS server failed: {0}")]
    Serve(String),
}

/// UDP sockets (several per address) and TCP listeners, bound and not yet serving.
pub struct Listeners {
    udp: Vec<UdpSocket>,
    tcp: Vec<TcpListener>,
    addrs: Vec<SocketAddr>,
}

impl Listeners {
    /// The addresses actually bound (useful with port 0); UDP and TCP share them.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.addrs.clone()
    }
}

/// Binds `udp_workers` UDP sockets and one TCP listener on every address. Port 0
/// picks a free port, the same for UDP and TCP of one address (retrying when the
/// UDP port is taken for TCP).
pub async fn bind(addrs: &[SocketAddr], udp_workers: usize) -> Result<Listeners, Error> {
    let mut out = Listeners {
        udp: Vec::new(),
        tcp: Vec::new(),
        addrs: Vec::new(),
    };
    for &addr in addrs {
        let attempts = if addr.port() == 0 {
            PORT_ZERO_ATTEMPTS
        } else {
            1
        };
        let mut last = None;
        for _ in 0..attempts {
            match bind_one(addr, udp_workers.max(1)).await {
                Ok((bound, udp, tcp)) => {
                    out.udp.extend(udp);
                    out.tcp.push(tcp);
                    out.addrs.push(bound);
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
    Ok(out)
}

async fn bind_one(
    addr: SocketAddr,
    workers: usize,
) -> Result<(SocketAddr, Vec<UdpSocket>, TcpListener), Error> {
    let udp_err = |source| Error::Bind {
        protocol: "UDP",
        addr,
        source,
    };
    let first = udp::reuseport_socket(addr).map_err(udp_err)?;
    let bound = first.local_addr().map_err(udp_err)?;
    let mut sockets = vec![first];
    for _ in 1..workers {
        sockets.push(udp::reuseport_socket(bound).map_err(udp_err)?);
    }
    let tcp = TcpListener::bind(bound)
        .await
        .map_err(|source| Error::Bind {
            protocol: "TCP",
            addr: bound,
            source,
        })?;
    Ok((bound, sockets, tcp))
}

/// Serves until `shutdown` resolves, then stops accepting and drains.
pub async fn serve(
    listeners: Listeners,
    service: UdpService,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), Error> {
    let workers = udp::spawn(listeners.udp, service.clone())
        .map_err(|e| Error::Serve(format!("starting UDP workers: {e}")))?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut tcp_tasks = tokio::task::JoinSet::new();
    for l in listeners.tcp {
        tcp_tasks.spawn(tcp::serve(l, service.clone(), stopped.clone()));
    }
    shutdown.await;
    let _ = stop.send(true);
    while tcp_tasks.join_next().await.is_some() {}
    let _ = tokio::task::spawn_blocking(move || workers.stop()).await;
    Ok(())
}
