//! Batched UDP I/O: many datagrams per system call (`recvmmsg`/`sendmmsg`).
//!
//! Why: under load a UDP worker spends most of its time in the kernel, and a
//! good part of that is the fixed cost of one `recvfrom` and one `sendto` per
//! query. A worker that wakes up to a queue of queries takes them all with one
//! `recvmmsg` and answers them all with one `sendmmsg`. With one query queued
//! this is the same two calls as before. The buffers and message headers are
//! allocated once per worker; nothing is allocated per call. The calls go
//! through nix's safe wrappers (the workspace forbids `unsafe`).

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::AsRawFd;

use nix::sys::socket::{
    recvmmsg, sendmmsg, ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage,
};

/// Most datagrams taken or sent per call.
pub const BATCH: usize = 32;
/// Receive buffer per datagram. Larger queries are truncated, and then fail to
/// parse and get FORMERR, as with a plain `recv_from` into a buffer this size.
pub const MAX_QUERY: usize = 4096;

/// Receive side: the buffers of one batch and where each datagram came from.
pub struct Receiver {
    headers: MultiHeaders<SockaddrStorage>,
    bufs: Box<[[u8; MAX_QUERY]; BATCH]>,
    lens: [usize; BATCH],
    srcs: [Option<SocketAddr>; BATCH],
}

impl Default for Receiver {
    fn default() -> Self {
        Receiver {
            headers: MultiHeaders::preallocate(BATCH, None),
            bufs: Box::new([[0; MAX_QUERY]; BATCH]),
            lens: [0; BATCH],
            srcs: [None; BATCH],
        }
    }
}

impl Receiver {
    /// Waits for a datagram (at most the socket's read timeout), then takes
    /// whatever else is already queued, up to [`BATCH`]. Returns how many were
    /// taken; read them with [`Receiver::get`].
    pub fn recv(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        let Receiver {
            headers,
            bufs,
            lens,
            srcs,
        } = self;
        let mut iovs = bufs.each_mut().map(|b| [IoSliceMut::new(b)]);
        let results = recvmmsg(
            socket.as_raw_fd(),
            headers,
            iovs.iter_mut(),
            MsgFlags::MSG_WAITFORONE,
            None,
        )
        .map_err(io::Error::from)?;
        let mut n = 0;
        for (msg, (len, src)) in results.zip(lens.iter_mut().zip(srcs.iter_mut())) {
            *len = msg.bytes.min(MAX_QUERY);
            *src = msg.address.as_ref().and_then(socket_addr);
            n += 1;
        }
        Ok(n)
    }

    /// Datagram `i` of the last [`Receiver::recv`] and its source, or `None`
    /// if the kernel gave no usable source address (never for UDP over IP).
    pub fn get(&self, i: usize) -> Option<(&[u8], SocketAddr)> {
        let src = (*self.srcs.get(i)?)?;
        Some((&self.bufs[i][..self.lens[i]], src))
    }
}

/// Send side: message headers and destination addresses of one batch.
pub struct Sender {
    headers: MultiHeaders<SockaddrStorage>,
    dests: [Option<SockaddrStorage>; BATCH],
}

impl Default for Sender {
    fn default() -> Self {
        Sender {
            headers: MultiHeaders::preallocate(BATCH, None),
            dests: [None; BATCH],
        }
    }
}

impl Sender {
    /// Sends `replies[i]` to `dests[i]` for every `i` (at most [`BATCH`]).
    /// A datagram the kernel refuses (client gone, ICMP error pending) is
    /// skipped and the rest still go out: a lost UDP answer, as with `send_to`.
    /// Returns how many were sent.
    pub fn send(&mut self, socket: &UdpSocket, replies: &[Vec<u8>], dests: &[SocketAddr]) -> usize {
        let count = replies.len().min(dests.len()).min(BATCH);
        for (slot, dest) in self.dests.iter_mut().zip(&dests[..count]) {
            *slot = Some(SockaddrStorage::from(*dest));
        }
        let iovs: [[IoSlice<'_>; 1]; BATCH] =
            std::array::from_fn(|i| [IoSlice::new(replies.get(i).map_or(&[][..], Vec::as_slice))]);
        let mut sent = 0;
        let mut start = 0;
        // Each round sends at least one datagram or skips one, so at most `count` rounds.
        while start < count {
            let no_cmsgs: [ControlMessage<'_>; 0] = [];
            match sendmmsg(
                socket.as_raw_fd(),
                &mut self.headers,
                &iovs[start..count],
                &self.dests[start..count],
                no_cmsgs,
                MsgFlags::empty(),
            ) {
                Ok(results) => {
                    let n = results.count();
                    sent += n;
                    // The kernel stops at the first datagram it refuses; skip that one.
                    start += n + 1;
                }
                Err(_) => start += 1,
            }
        }
        sent
    }
}

fn socket_addr(s: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = s.as_sockaddr_in() {
        return Some(SocketAddr::V4(SocketAddrV4::from(*v4)));
    }
    if let Some(v6) = s.as_sockaddr_in6() {
        return Some(SocketAddr::V6(SocketAddrV6::from(*v6)));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn pair() -> (UdpSocket, UdpSocket) {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        server
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        (server, client)
    }

    #[test]
    fn takes_what_is_queued_and_answers_each_source() {
        let (server, client) = pair();
        let other = UdpSocket::bind("127.0.0.2:0").unwrap();
        let server_addr = server.local_addr().unwrap();
        for i in 0..5u8 {
            client.send_to(&[i; 3], server_addr).unwrap();
        }
        other.send_to(b"from other", server_addr).unwrap();
        // Loopback delivers at once; all six are queued before the call.
        let mut rx = Receiver::default();
        let n = rx.recv(&server).unwrap();
        assert_eq!(n, 6);
        let got: Vec<(Vec<u8>, SocketAddr)> = (0..n)
            .map(|i| rx.get(i).map(|(p, s)| (p.to_vec(), s)).unwrap())
            .collect();
        for (i, (payload, src)) in got.iter().take(5).enumerate() {
            assert_eq!(payload, &vec![i as u8; 3]);
            assert_eq!(*src, client.local_addr().unwrap());
        }
        assert_eq!(
            got[5],
            (b"from other".to_vec(), other.local_addr().unwrap())
        );

        let replies: Vec<Vec<u8>> = got.iter().map(|(p, _)| [b"re:", &p[..]].concat()).collect();
        let dests: Vec<SocketAddr> = got.iter().map(|(_, s)| *s).collect();
        assert_eq!(Sender::default().send(&server, &replies, &dests), 6);
        let mut buf = [0u8; 64];
        for i in 0..5u8 {
            let (len, from) = client.recv_from(&mut buf).unwrap();
            assert_eq!(
                (&buf[..len], from),
                (&[b'r', b'e', b':', i, i, i][..], server_addr)
            );
        }
        let (len, _) = other.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"re:from other");
    }

    #[test]
    fn a_batch_is_capped_and_the_rest_waits_for_the_next_call() {
        let (server, client) = pair();
        let server_addr = server.local_addr().unwrap();
        for i in 0..(BATCH as u16 + 3) {
            client.send_to(&i.to_be_bytes(), server_addr).unwrap();
        }
        let mut rx = Receiver::default();
        assert_eq!(rx.recv(&server).unwrap(), BATCH);
        assert_eq!(
            rx.get(BATCH - 1).unwrap().0,
            &(BATCH as u16 - 1).to_be_bytes()
        );
        assert_eq!(rx.recv(&server).unwrap(), 3);
        assert_eq!(rx.get(0).unwrap().0, &(BATCH as u16).to_be_bytes());
    }

    #[test]
    fn an_idle_socket_times_out_instead_of_blocking() {
        let (server, _client) = pair();
        server
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let err = Receiver::default().recv(&server).unwrap_err();
        assert!(
            matches!(
                err.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ),
            "{err:?}"
        );
    }

    #[test]
    fn oversized_datagrams_are_cut_to_the_buffer() {
        let (server, client) = pair();
        client
            .send_to(&vec![7u8; MAX_QUERY + 100], server.local_addr().unwrap())
            .unwrap();
        let mut rx = Receiver::default();
        assert_eq!(rx.recv(&server).unwrap(), 1);
        assert_eq!(rx.get(0).unwrap().0.len(), MAX_QUERY);
    }

    #[test]
    fn ipv6_sources_round_trip() {
        let Ok(server) = UdpSocket::bind("[::1]:0") else {
            return; // no IPv6 loopback on this machine
        };
        let client = UdpSocket::bind("[::1]:0").unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        client.send_to(b"q", server.local_addr().unwrap()).unwrap();
        let mut rx = Receiver::default();
        assert_eq!(rx.recv(&server).unwrap(), 1);
        let (_, src) = rx.get(0).unwrap();
        assert_eq!(src, client.local_addr().unwrap());
        assert_eq!(Sender::default().send(&server, &[b"a".to_vec()], &[src]), 1);
        let mut buf = [0u8; 4];
        assert_eq!(client.recv_from(&mut buf).unwrap().0, 1);
    }
}
