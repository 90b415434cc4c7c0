//! What one client may hold of the API, enforced under the HTTP server:
//!
//! - a bound on open connections: the listener accepts a connection only
//!   while fewer than the limit are open, so a flood of connections queues in
//!   the kernel's backlog instead of exhausting memory and file descriptors;
//! - a deadline on each HTTP/1 request head: a head (request line and
//!   headers) must be complete within the header timeout, or the connection
//!   is closed. The idle timeout alone lets a client keep a connection by
//!   sending a byte now and then (slowloris), or by sending nothing at all
//!   for as long as the idle timeout; poem does not expose hyper's own header
//!   timeout, so it is kept here, on the bytes.
//!
//! The head deadline watches the bytes: a head ends at the first blank line
//! (`\r\n\r\n`); after it the request (body, handling) belongs to the request
//! deadline; once the server writes a final response, the next byte read
//! begins the next head. A new connection's first head is timed from the
//! accept, so a connection that never sends a byte is closed at the header
//! timeout: it has proven nothing, and a few hundred of them would otherwise
//! hold every connection slot for the idle timeout. A keep-alive connection
//! waiting between requests is the idle timeout's business: it completed a
//! request, clients keep such connections pooled to reuse them, and closing
//! them at the (shorter) header timeout would break that reuse and race a
//! client sending on a connection being closed. HTTP/2 connections must send
//! their preface within the header timeout of the accept; after it they are
//! left to hyper's HTTP/2 limits and the idle timeout.

use std::future::Future;
use std::io::Result as IoResult;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use poem::http::uri::Scheme;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A server on `acceptor` with every limit of `limits` (`max_connections`
/// in place of `limits.max_connections`, for listeners that need fewer).
pub(crate) fn limited_server<A: Acceptor + 'static>(
    acceptor: A,
    max_connections: usize,
    limits: &crate::config::ServerLimits,
) -> poem::Server<std::convert::Infallible, LimitedAcceptor<A>> {
    poem::Server::new_with_acceptor(LimitedAcceptor::new(acceptor, max_connections, limits.header_timeout))
        .idle_timeout(limits.idle_timeout)
        .http2_max_concurrent_streams(limits.http2_max_streams)
}

/// An [`Acceptor`] that holds at most `limit` connections open at once and
/// gives each HTTP/1 request head (a new connection's first from the accept)
/// `header_timeout` to arrive.
pub(crate) struct LimitedAcceptor<A> {
    inner: A,
    permits: Arc<Semaphore>,
    header_timeout: Duration,
}

impl<A> LimitedAcceptor<A> {
    pub(crate) fn new(inner: A, limit: usize, header_timeout: Duration) -> Self {
        Self { inner, permits: Arc::new(Semaphore::new(limit.clamp(1, Semaphore::MAX_PERMITS))), header_timeout }
    }
}

impl<A: Acceptor> Acceptor for LimitedAcceptor<A> {
    type Io = Limited<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(&mut self) -> IoResult<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        // Never closed, so acquiring only waits.
        let permit = self.permits.clone().acquire_owned().await.map_err(std::io::Error::other)?;
        let (io, local, remote, scheme) = self.inner.accept().await?;
        Ok((Limited { io, _permit: permit, head: HeadDeadline::new(self.header_timeout) }, local, remote, scheme))
    }
}

/// A connection, counted until it is dropped.
pub(crate) struct Limited<Io> {
    io: Io,
    _permit: OwnedSemaphorePermit,
    head: HeadDeadline,
}

/// The HTTP/2 connection preface's start (RFC 9113 §3.4).
const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0";

/// Where a connection stands, as far as request heads go.
enum HeadState {
    /// Before the first request, or between requests: a head is due.
    /// `tail` holds the last bytes of the head so far (a blank line may be
    /// split over two reads); `deadline` runs from the accept for the first
    /// head, from its first byte for a later one.
    Awaiting { tail: [u8; 3], tail_len: usize, deadline: Option<Pin<Box<tokio::time::Sleep>>> },
    /// A head is complete; its request is being read or handled.
    InRequest,
    /// An HTTP/2 connection: not watched.
    Http2,
}

/// The deadline of the request head being read, if one is.
struct HeadDeadline {
    timeout: Duration,
    state: HeadState,
    /// The connection's first bytes, until it is known whether it is HTTP/2.
    start: Vec<u8>,
}

impl HeadDeadline {
    /// A new connection's: its first head (or HTTP/2 preface) is due within
    /// `timeout` from now, whether or not a byte arrives.
    fn new(timeout: Duration) -> Self {
        let first =
            HeadState::Awaiting { tail: [0; 3], tail_len: 0, deadline: Some(Box::pin(tokio::time::sleep(timeout))) };
        Self { timeout, state: first, start: Vec::with_capacity(HTTP2_PREFACE.len()) }
    }

    /// Between requests: the next head's clock starts at its first byte.
    fn awaiting() -> HeadState {
        HeadState::Awaiting { tail: [0; 3], tail_len: 0, deadline: None }
    }

    /// Whether the head being read has run out of time (registering the
    /// timer's waker, so a stalled read is woken when it does).
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        match &mut self.state {
            HeadState::Awaiting { deadline: Some(deadline), .. } => deadline.as_mut().poll(cx).is_ready(),
            _ => false,
        }
    }

    /// Takes note of bytes read from the client.
    fn read(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if self.start.len() < HTTP2_PREFACE.len() {
            let wanted = (HTTP2_PREFACE.len() - self.start.len()).min(bytes.len());
            self.start.extend_from_slice(&bytes[..wanted]);
            if self.start.len() == HTTP2_PREFACE.len() && self.start == HTTP2_PREFACE {
                self.state = HeadState::Http2;
            }
        }
        let timeout = self.timeout;
        let HeadState::Awaiting { tail, tail_len, deadline } = &mut self.state else { return };
        if deadline.is_none() {
            *deadline = Some(Box::pin(tokio::time::sleep(timeout)));
        }
        // The blank line may begin in the tail kept from the previous read:
        // look at the seam (that tail and these bytes' first three), then at
        // these bytes.
        let mut seam = [0u8; 6];
        let kept = *tail_len;
        let taken = bytes.len().min(3);
        seam[..kept].copy_from_slice(&tail[..kept]);
        seam[kept..kept + taken].copy_from_slice(&bytes[..taken]);
        let seam = &seam[..kept + taken];
        let blank = |w: &[u8]| w == b"\r\n\r\n";
        if seam.windows(4).any(blank) || bytes.windows(4).any(blank) {
            self.state = HeadState::InRequest;
            return;
        }
        // Fewer than three new bytes: the seam holds all of them.
        let last = if bytes.len() >= 3 { &bytes[bytes.len() - 3..] } else { &seam[seam.len().saturating_sub(3)..] };
        tail[..last.len()].copy_from_slice(last);
        *tail_len = last.len();
    }

    /// Takes note of bytes the server wrote: a final response (not a `1xx`
    /// such as `100 Continue`, after which the body follows) ends the request.
    fn wrote(&mut self, bytes: &[u8]) {
        if matches!(self.state, HeadState::InRequest) && !bytes.is_empty() && !bytes.starts_with(b"HTTP/1.1 1") {
            self.state = Self::awaiting();
        }
    }
}

impl<Io: AsyncRead + Unpin> AsyncRead for Limited<Io> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<IoResult<()>> {
        let this = &mut *self;
        if this.head.expired(cx) {
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the request head did not arrive within the header timeout",
            )));
        }
        let before = buf.filled().len();
        let read = Pin::new(&mut this.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = read {
            this.head.read(&buf.filled()[before..]);
        }
        read
    }
}

impl<Io: AsyncWrite + Unpin> AsyncWrite for Limited<Io> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<IoResult<usize>> {
        let this = &mut *self;
        let written = Pin::new(&mut this.io).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = written {
            this.head.wrote(&buf[..n]);
        }
        written
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<IoResult<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<IoResult<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<IoResult<usize>> {
        let this = &mut *self;
        let written = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = written
            && n > 0
        {
            let first = bufs.iter().find(|b| !b.is_empty()).map_or(&[][..], |b| &b[..]);
            this.head.wrote(first);
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_request(head: &HeadDeadline) -> bool {
        matches!(head.state, HeadState::InRequest)
    }

    #[tokio::test(start_paused = true)]
    async fn a_head_ends_at_its_blank_line_even_split_over_reads() {
        for split in 1..b"GET / HTTP/1.1\r\nHost: a\r\n\r\n".len() {
            let request = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
            let mut head = HeadDeadline::new(Duration::from_secs(5));
            head.read(&request[..split]);
            assert!(!in_request(&head), "split at {split}: not yet");
            head.read(&request[split..]);
            assert!(in_request(&head), "split at {split}: complete");
        }
        // One byte at a time.
        let mut head = HeadDeadline::new(Duration::from_secs(5));
        for byte in b"GET / HTTP/1.1\r\nA: b\r\n\r\n" {
            head.read(std::slice::from_ref(byte));
        }
        assert!(in_request(&head));
        // A lone CRLF pair split as \r | \n\r | \n, and a large read.
        let mut head = HeadDeadline::new(Duration::from_secs(5));
        for part in [&b"GET / HTTP/1.1\r\nA: b\r"[..], b"\n\r", b"\n"] {
            head.read(part);
        }
        assert!(in_request(&head));
        let mut big = b"GET / HTTP/1.1\r\n".to_vec();
        big.extend(std::iter::repeat_n(b'x', 10_000));
        big.extend_from_slice(b"\r\n\r\n");
        let mut head = HeadDeadline::new(Duration::from_secs(5));
        head.read(&big);
        assert!(in_request(&head));
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_connection_has_the_header_timeout_from_its_accept_to_its_first_head() {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        // Silence: late at the header timeout, long before the idle timeout.
        let mut head = HeadDeadline::new(Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(4_900)).await;
        assert!(!head.expired(&mut cx));
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(head.expired(&mut cx), "a connection that sends nothing is closed at the header timeout");

        // A first byte late in the window does not restart the clock.
        let mut head = HeadDeadline::new(Duration::from_secs(5));
        tokio::time::sleep(Duration::from_secs(4)).await;
        head.read(b"GET / HTTP/1.1\r\n");
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        assert!(head.expired(&mut cx), "the first head is timed from the accept");

        // A first head complete in time belongs to its request.
        let mut head = HeadDeadline::new(Duration::from_secs(5));
        tokio::time::sleep(Duration::from_secs(4)).await;
        head.read(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert!(in_request(&head) && !head.expired(&mut cx));

        // An HTTP/2 preface begun and never finished is late too.
        let mut head = HeadDeadline::new(Duration::from_secs(5));
        head.read(b"PRI * HT");
        tokio::time::sleep(Duration::from_millis(5_100)).await;
        assert!(head.expired(&mut cx));
    }

    #[tokio::test(start_paused = true)]
    async fn a_later_head_is_timed_from_its_first_byte_and_a_response_starts_the_next() {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut head = HeadDeadline::new(Duration::from_secs(5));
        head.read(b"GET / HTTP/1.1\r\n\r\n");
        head.wrote(b"HTTP/1.1 200 OK\r\n");
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert!(!head.expired(&mut cx), "keep-alive silence between requests is the idle timeout's business");
        head.read(b"GET / HT");
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert!(!head.expired(&mut cx));
        head.read(b"TP/1.1\r\n");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(head.expired(&mut cx), "bytes keep arriving but the head is late");

        let mut head = HeadDeadline::new(Duration::from_secs(5));
        head.read(b"GET / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n");
        head.wrote(b"HTTP/1.1 100 Continue\r\n\r\n");
        assert!(in_request(&head), "the body follows a 100 Continue");
        head.read(b"body bytes, slowly");
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert!(!head.expired(&mut cx), "a body is the request deadline's business");
        head.wrote(b"HTTP/1.1 200 OK\r\n");
        assert!(!in_request(&head));
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert!(!head.expired(&mut cx), "keep-alive silence between requests");
        head.read(b"G");
        tokio::time::sleep(Duration::from_secs(6)).await;
        assert!(head.expired(&mut cx), "the next head has its own deadline");
    }

    #[tokio::test(start_paused = true)]
    async fn http2_connections_are_not_watched() {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut head = HeadDeadline::new(Duration::from_secs(5));
        head.read(b"PRI * HTTP");
        head.read(b"/2.0\r\n\r\nSM\r\n\r\n");
        head.wrote(b"\x00\x00\x00\x04\x00\x00\x00\x00\x00");
        head.read(b"\x00\x00\x10\x01\x04\x00\x00\x00\x01 binary frames");
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert!(!head.expired(&mut cx));
        assert!(matches!(head.state, HeadState::Http2));
    }
}
