//! The HTTP/1.1 exchange of one probe: send one GET, read the response head, keep the status.
//!
//! A probe needs one number from the server, the status code, so it does not
//! need a general HTTP client: it writes one pre-rendered request (with
//! `Connection: close`), reads until the end of the response head (never the
//! body) within [`MAX_HEAD`] bytes, and hangs up. The parser is pure
//! ([`parse_head`]: "not enough bytes yet" is [`Head::Incomplete`], not an
//! error) so it can be tested byte by byte; [`exchange`] is the thin async
//! shell over any byte stream (plain TCP or TLS).

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest response head (status line and headers) a probe reads before
/// giving up on the server.
pub(crate) const MAX_HEAD: usize = 16 * 1024;

/// First read buffer; grown up to [`MAX_HEAD`] only for servers with long heads.
const FIRST_READ: usize = 1024;

/// Why an exchange produced no status.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ExchangeError {
    #[error("sending the request: {0}")]
    Write(#[source] std::io::Error),
    #[error("reading the response: {0}")]
    Read(#[source] std::io::Error),
    #[error("connection closed before the end of the response head")]
    Closed,
    #[error("{0}")]
    Head(#[from] HeadError),
}

/// What is wrong with a response head.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HeadError {
    #[error("malformed status line")]
    StatusLine,
    #[error("malformed response header")]
    Header,
    #[error("response head larger than {MAX_HEAD} bytes")]
    TooLarge,
}

/// The state of a response head read so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Head {
    /// Valid so far; more bytes needed.
    Incomplete,
    /// A whole head: its status and its length in bytes (blank line included).
    Complete { status: u16, len: usize },
}

/// Sends `request` on `stream` and returns the status of the final response
/// (informational 1xx heads other than 101 are skipped, as HTTP/1.1 clients do).
/// The caller bounds the time; this bounds the bytes.
pub(crate) async fn exchange<S>(stream: &mut S, request: &[u8]) -> Result<u16, ExchangeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    stream
        .write_all(request)
        .await
        .map_err(ExchangeError::Write)?;
    // A no-op on TCP; pushes the encrypted record out on TLS.
    stream.flush().await.map_err(ExchangeError::Write)?;
    let mut buf = Vec::with_capacity(FIRST_READ);
    loop {
        if buf.len() == buf.capacity() {
            if buf.len() >= MAX_HEAD {
                return Err(HeadError::TooLarge.into());
            }
            buf.reserve_exact(MAX_HEAD.min(buf.capacity() * 4) - buf.len());
        }
        // `read_buf` never reads past the capacity, so the head stays bounded.
        let n = stream
            .read_buf(&mut buf)
            .await
            .map_err(ExchangeError::Read)?;
        if n == 0 {
            return Err(ExchangeError::Closed);
        }
        // A complete 1xx head is dropped and parsing resumes after it.
        while let Head::Complete { status, len } = parse_head(&buf)? {
            if (100..200).contains(&status) && status != 101 {
                buf.drain(..len);
            } else {
                return Ok(status);
            }
        }
    }
}

/// Parses the start of a response: `HTTP/1.x SSS reason`, then header lines,
/// then an empty line (CRLF or bare LF line ends). Fails as soon as the bytes
/// seen cannot start a valid head, so a server that sends garbage fails the
/// probe at once instead of at its timeout.
pub(crate) fn parse_head(buf: &[u8]) -> Result<Head, HeadError> {
    const PREFIX: &[u8] = b"HTTP/1.";
    let seen = buf.len().min(PREFIX.len());
    if buf[..seen] != PREFIX[..seen] {
        return Err(HeadError::StatusLine);
    }
    let mut lines = Lines { buf, at: 0 };
    let Some(status_line) = lines.next() else {
        return Ok(Head::Incomplete);
    };
    let status = status(status_line)?;
    while let Some(line) = lines.next() {
        if line.is_empty() {
            return Ok(Head::Complete {
                status,
                len: lines.at,
            });
        }
        header(line)?;
    }
    // A partial last line must at least not be invalid yet.
    if lines.rest().iter().any(|&b| !is_head_byte(b)) {
        return Err(HeadError::Header);
    }
    Ok(Head::Incomplete)
}

/// `HTTP/1.0` or `HTTP/1.1`, a space, three digits (100–999), then nothing or
/// a space and a reason phrase.
fn status(line: &[u8]) -> Result<u16, HeadError> {
    let (version, rest) = line.split_at_checked(8).ok_or(HeadError::StatusLine)?;
    if !matches!(version, b"HTTP/1.0" | b"HTTP/1.1") {
        return Err(HeadError::StatusLine);
    }
    let [b' ', d1 @ b'1'..=b'9', d2 @ b'0'..=b'9', d3 @ b'0'..=b'9', reason @ ..] = rest else {
        return Err(HeadError::StatusLine);
    };
    if !(reason.is_empty() || reason[0] == b' ') || !reason.iter().all(|&b| is_head_byte(b)) {
        return Err(HeadError::StatusLine);
    }
    Ok(u16::from(d1 - b'0') * 100 + u16::from(d2 - b'0') * 10 + u16::from(d3 - b'0'))
}

/// `name: value`, the name an HTTP token; no obsolete line folding.
fn header(line: &[u8]) -> Result<(), HeadError> {
    let colon = line
        .iter()
        .position(|&b| b == b':')
        .ok_or(HeadError::Header)?;
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    if name.is_empty() || !name.iter().all(|&b| is_token_byte(b)) {
        return Err(HeadError::Header);
    }
    if !value.iter().all(|&b| is_head_byte(b)) {
        return Err(HeadError::Header);
    }
    Ok(())
}

/// A byte allowed in a reason phrase or header value: visible, space, tab or
/// obs-text; no other control characters.
fn is_head_byte(b: u8) -> bool {
    b == b'\t' || (b >= 0x20 && b != 0x7f)
}

/// A `tchar` of RFC 9110.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Complete lines of `buf` without their `\n` / `\r\n` ends.
struct Lines<'a> {
    buf: &'a [u8],
    /// Start of the next line.
    at: usize,
}

impl<'a> Lines<'a> {
    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = &self.buf[self.at..];
        let end = rest.iter().position(|&b| b == b'\n')?;
        self.at += end + 1;
        let line = &rest[..end];
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    }

    fn rest(&self) -> &'a [u8] {
        let rest = &self.buf[self.at..];
        // A trailing CR is the first half of a line end.
        rest.strip_suffix(b"\r").unwrap_or(rest)
    }
}

/// The request a probe sends, rendered once per endpoint: `GET <path>
/// HTTP/1.1`, `Host`, the custom headers, and the defaults the custom headers
/// do not replace (`User-Agent`, `Accept`, `Connection: close`).
/// `headers` are already validated (see [`crate::spec`]), `Host` first.
pub(crate) fn render_request(
    path: &str,
    headers: &[(String, String)],
    user_agent: &str,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(b"GET ");
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let has = |name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    let defaults = [
        ("User-Agent", user_agent),
        ("Accept", "*/*"),
        ("Connection", "close"),
    ];
    let defaults = defaults.iter().filter(|(n, _)| !has(n));
    for (name, value) in headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .chain(defaults.copied())
    {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(head: &str) -> Result<Head, HeadError> {
        parse_head(head.as_bytes())
    }

    #[test]
    fn status_lines_that_parse() {
        for (head, status) in [
            ("HTTP/1.1 200 OK\r\n\r\n", 200),
            (
                "HTTP/1.0 503 Service Unavailable\r\nRetry-After: 5\r\n\r\n",
                503,
            ),
            ("HTTP/1.1 204\r\n\r\n", 204),
            ("HTTP/1.1 302 \r\nLocation: /x\r\n\r\n", 302),
            ("HTTP/1.1 200 OK\nContent-Length: 2\n\nok", 200),
            (
                "HTTP/1.1 999 Odd\r\nX-Empty:\r\nX-Tab:\ta\tb\r\n\r\nbody",
                999,
            ),
        ] {
            let len = head
                .find("\r\n\r\n")
                .map_or_else(|| head.find("\n\n").expect("blank line") + 2, |i| i + 4);
            assert_eq!(
                complete(head),
                Ok(Head::Complete { status, len }),
                "{head:?}"
            );
        }
    }

    #[test]
    fn every_prefix_of_a_valid_head_is_incomplete() {
        let head = b"HTTP/1.1 200 OK\r\nServer: test\r\nContent-Length: 0\r\n\r\n";
        for end in 0..head.len() {
            assert_eq!(parse_head(&head[..end]), Ok(Head::Incomplete), "{end}");
        }
        assert!(matches!(
            parse_head(head),
            Ok(Head::Complete { status: 200, .. })
        ));
    }

    #[test]
    fn garbage_fails_as_soon_as_it_shows() {
        for bad in [
            "SSH-2.0-OpenSSH\r\n",
            "<html>",
            "X",
            "HTTP/2 200\r\n\r\n",
            "HTTP/1.2 200 OK\r\n\r\n",
            "HTTP/1.1 20 OK\r\n\r\n",
            "HTTP/1.1 2000 OK\r\n\r\n",
            "HTTP/1.1 099 OK\r\n\r\n",
            "HTTP/1.1 abc OK\r\n\r\n",
            "HTTP/1.1 200OK\r\n\r\n",
            "HTTP/1.1\r\n\r\n",
            "HTTP/1.1 200 O\x00K\r\n",
        ] {
            assert_eq!(complete(bad), Err(HeadError::StatusLine), "{bad:?}");
        }
        for bad in [
            "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
            "HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
            "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX: a\x01b\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX: \x00",
        ] {
            assert_eq!(complete(bad), Err(HeadError::Header), "{bad:?}");
        }
    }

    #[test]
    fn request_has_defaults_unless_replaced() {
        let headers = vec![("Host".to_string(), "192.0.2.7".to_string())];
        let r = render_request("/healthz", &headers, "fleetdns-probe/1");
        assert_eq!(
            String::from_utf8(r).unwrap(),
            "GET /healthz HTTP/1.1\r\nHost: 192.0.2.7\r\nUser-Agent: fleetdns-probe/1\r\n\
             Accept: */*\r\nConnection: close\r\n\r\n"
        );
        let headers = vec![
            ("Host".to_string(), "www.contoso.com".to_string()),
            ("user-agent".to_string(), "custom".to_string()),
        ];
        let r = String::from_utf8(render_request("/", &headers, "fleetdns-probe/1")).unwrap();
        assert_eq!(
            r,
            "GET / HTTP/1.1\r\nHost: www.contoso.com\r\nuser-agent: custom\r\n\
             Accept: */*\r\nConnection: close\r\n\r\n"
        );
    }
}
