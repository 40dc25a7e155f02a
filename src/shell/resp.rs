//! A small RESP2 client for the few commands `concurrency_scope: global` sends: one connection over
//! TCP, TLS (rustls, ring, server name verified) or a unix socket; every exchange bounded by one
//! deadline for the whole exchange (not per read), and every reply bounded in bytes, elements and
//! nesting.
//!
//! The replies cronix expects are tiny (a status, an integer, a lease or claim record of a few
//! hundred bytes), so a reply over `MAX_REPLY_BYTES`, an aggregate over `MAX_ELEMENTS` or a bulk
//! length beyond the byte budget is refused before anything is allocated for it. A peer that
//! trickles bytes is cut off when the exchange's deadline passes: the socket's read and write
//! timeouts are set to the time left before every read and write.
//!
//! Owns the wire and the transport only; which commands run and what the answers mean is
//! `shell::global_lock`'s. Never logs or returns what it writes (the `AUTH` password goes through
//! here).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use zeroize::Zeroize;

/// The most bytes one reply may take on the wire.
pub const MAX_REPLY_BYTES: usize = 64 * 1024;

/// The most elements of one array reply (cronix's scripts answer with two or three).
pub const MAX_ELEMENTS: usize = 64;

/// The deepest nesting of arrays in one reply.
const MAX_DEPTH: usize = 4;

/// One RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Nil,
    Int(i64),
    Simple(String),
    Bulk(Vec<u8>),
    Array(Vec<Value>),
    /// An `-ERR …` reply, as the server wrote it.
    Error(String),
}

impl Value {
    /// A bulk or simple string as UTF-8 text.
    pub fn text(&self) -> Option<String> {
        match self {
            Value::Bulk(bytes) => String::from_utf8(bytes.clone()).ok(),
            Value::Simple(s) => Some(s.clone()),
            _ => None,
        }
    }

    pub fn int(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }
}

/// Where a connection goes.
pub enum Target<'a> {
    /// Already resolved addresses, tried in order.
    Tcp(&'a [SocketAddr]),
    Unix(&'a Path),
}

/// TLS settings for a TCP target.
pub struct Tls {
    pub config: Arc<rustls::ClientConfig>,
    pub server_name: rustls::pki_types::ServerName<'static>,
}

enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
    Tls(Box<rustls::ClientConnection>, TcpStream),
}

/// An open connection.
pub struct Conn {
    stream: Stream,
    /// Bytes read but not yet parsed.
    buf: Vec<u8>,
}

fn left(deadline: Instant, what: &str) -> io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("deadline passed while {what}"),
        ));
    }
    Ok(left)
}

fn timed_out(e: io::Error, what: &str) -> io::Error {
    if matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    ) {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!("deadline passed while {what}"),
        )
    } else {
        e
    }
}

/// Connect (and for TLS, complete the handshake) before `deadline`.
pub fn connect(target: &Target<'_>, tls: Option<&Tls>, deadline: Instant) -> io::Result<Conn> {
    let stream = match target {
        Target::Unix(path) => Stream::Unix(connect_unix(path, deadline)?),
        Target::Tcp(addrs) => {
            let mut last = io::Error::new(io::ErrorKind::NotFound, "no address to connect to");
            let mut found = None;
            for addr in *addrs {
                match TcpStream::connect_timeout(addr, left(deadline, "connecting")?) {
                    Ok(s) => {
                        found = Some(s);
                        break;
                    }
                    Err(e) => last = timed_out(e, "connecting"),
                }
            }
            let sock = found.ok_or(last)?;
            let _ = sock.set_nodelay(true);
            match tls {
                None => Stream::Tcp(sock),
                Some(tls) => {
                    let conn = rustls::ClientConnection::new(
                        Arc::clone(&tls.config),
                        tls.server_name.clone(),
                    )
                    .map_err(io::Error::other)?;
                    let mut stream = Stream::Tls(Box::new(conn), sock);
                    handshake(&mut stream, deadline)?;
                    stream
                }
            }
        }
    };
    Ok(Conn {
        stream,
        buf: Vec::new(),
    })
}

/// How long to wait before trying a unix socket again whose listener's backlog is full.
const UNIX_RETRY: Duration = Duration::from_millis(10);

/// Connect to a unix socket before `deadline`. A blocking `connect` on a unix stream socket waits
/// for as long as the listener's backlog stays full (a listener that never accepts holds it
/// forever), so the socket is made non-blocking: a full backlog answers `EAGAIN` at once, and
/// since `poll` cannot wait for room in someone else's backlog, the connect is tried again every
/// `UNIX_RETRY` until the deadline. The connected socket is put back into blocking mode: every
/// read and write sets its own timeout from the deadline.
fn connect_unix(path: &Path, deadline: Instant) -> io::Result<UnixStream> {
    use rustix::io::Errno;
    use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};

    let addr = SocketAddrUnix::new(path)?;
    let fd = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
        None,
    )?;
    loop {
        match rustix::net::connect(&fd, &addr) {
            // EISCONN: an earlier try that answered EINPROGRESS has completed since.
            Ok(()) | Err(Errno::ISCONN) => break,
            Err(Errno::INTR) => continue,
            Err(Errno::AGAIN | Errno::INPROGRESS | Errno::ALREADY) => {
                let left = left(deadline, "connecting")?;
                std::thread::sleep(left.min(UNIX_RETRY));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let stream = UnixStream::from(fd);
    stream.set_nonblocking(false)?;
    Ok(stream)
}

fn handshake(stream: &mut Stream, deadline: Instant) -> io::Result<()> {
    let Stream::Tls(conn, sock) = stream else {
        return Ok(());
    };
    while conn.is_handshaking() {
        flush_tls(conn, sock, deadline)?;
        if !conn.is_handshaking() {
            break;
        }
        if conn.wants_read() {
            read_tls(conn, sock, deadline, "in the TLS handshake")?;
        }
    }
    flush_tls(conn, sock, deadline)
}

fn flush_tls(
    conn: &mut rustls::ClientConnection,
    sock: &mut TcpStream,
    deadline: Instant,
) -> io::Result<()> {
    while conn.wants_write() {
        sock.set_write_timeout(Some(left(deadline, "writing")?))?;
        conn.write_tls(sock).map_err(|e| timed_out(e, "writing"))?;
    }
    Ok(())
}

fn read_tls(
    conn: &mut rustls::ClientConnection,
    sock: &mut TcpStream,
    deadline: Instant,
    what: &str,
) -> io::Result<()> {
    sock.set_read_timeout(Some(left(deadline, what)?))?;
    let n = conn.read_tls(sock).map_err(|e| timed_out(e, what))?;
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the server closed the connection",
        ));
    }
    conn.process_new_packets()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok(())
}

impl Conn {
    /// Send `commands` (pipelined) and read one reply each, all before `deadline`.
    pub fn exchange(
        &mut self,
        commands: &[Vec<Vec<u8>>],
        deadline: Instant,
    ) -> io::Result<Vec<Value>> {
        let mut out = Vec::new();
        for command in commands {
            encode(command, &mut out);
        }
        let written = self.write_all(&out, deadline);
        // The login's exchange carries the password.
        out.zeroize();
        written?;
        let mut replies = Vec::with_capacity(commands.len());
        for _ in commands {
            let mut budget = MAX_REPLY_BYTES;
            replies.push(self.read_value(deadline, &mut budget, 0)?);
        }
        Ok(replies)
    }

    fn write_all(&mut self, data: &[u8], deadline: Instant) -> io::Result<()> {
        match &mut self.stream {
            Stream::Tcp(s) => write_plain(s, data, deadline, |s, d| s.set_write_timeout(Some(d))),
            Stream::Unix(s) => write_plain(s, data, deadline, |s, d| s.set_write_timeout(Some(d))),
            Stream::Tls(conn, sock) => {
                conn.writer().write_all(data)?;
                flush_tls(conn, sock, deadline)
            }
        }
    }

    /// Read more bytes into the buffer (at least one) before `deadline`.
    fn fill(&mut self, deadline: Instant) -> io::Result<()> {
        let mut chunk = [0u8; 4096];
        let n = match &mut self.stream {
            Stream::Tcp(s) => {
                s.set_read_timeout(Some(left(deadline, "reading the reply")?))?;
                s.read(&mut chunk)
                    .map_err(|e| timed_out(e, "reading the reply"))?
            }
            Stream::Unix(s) => {
                s.set_read_timeout(Some(left(deadline, "reading the reply")?))?;
                s.read(&mut chunk)
                    .map_err(|e| timed_out(e, "reading the reply"))?
            }
            Stream::Tls(conn, sock) => loop {
                match conn.reader().read(&mut chunk) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        read_tls(conn, sock, deadline, "reading the reply")?;
                    }
                    Err(e) => return Err(e),
                }
            },
        };
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// Take `n` bytes from the buffer (reading as needed), charging them to `budget`.
    fn take(&mut self, n: usize, deadline: Instant, budget: &mut usize) -> io::Result<Vec<u8>> {
        charge(budget, n)?;
        while self.buf.len() < n {
            self.fill(deadline)?;
        }
        let rest = self.buf.split_off(n);
        Ok(std::mem::replace(&mut self.buf, rest))
    }

    /// One CRLF-terminated line without its CRLF, charged to `budget`.
    fn line(&mut self, deadline: Instant, budget: &mut usize) -> io::Result<Vec<u8>> {
        let mut scanned = 0;
        loop {
            if let Some(at) = self.buf[scanned..].windows(2).position(|w| w == b"\r\n") {
                let end = scanned + at;
                let mut line = self.take(end + 2, deadline, budget)?;
                line.truncate(end);
                return Ok(line);
            }
            scanned = self.buf.len().saturating_sub(1);
            if self.buf.len() >= *budget {
                return Err(too_big());
            }
            self.fill(deadline)?;
        }
    }

    fn read_value(
        &mut self,
        deadline: Instant,
        budget: &mut usize,
        depth: usize,
    ) -> io::Result<Value> {
        let line = self.line(deadline, budget)?;
        let (kind, rest) = line.split_first().ok_or_else(|| bad("an empty line"))?;
        let text = std::str::from_utf8(rest).map_err(|_| bad("a line that is not UTF-8"))?;
        match kind {
            b'+' => Ok(Value::Simple(text.to_string())),
            b'-' => Ok(Value::Error(text.to_string())),
            b':' => text
                .parse()
                .map(Value::Int)
                .map_err(|_| bad("an integer that does not parse")),
            b'$' => {
                let len: i64 = text
                    .parse()
                    .map_err(|_| bad("a bulk length that does not parse"))?;
                if len < 0 {
                    return Ok(Value::Nil);
                }
                let len = usize::try_from(len).map_err(|_| too_big())?;
                if len.saturating_add(2) > *budget {
                    return Err(too_big());
                }
                let mut bytes = self.take(len + 2, deadline, budget)?;
                if !bytes.ends_with(b"\r\n") {
                    return Err(bad("a bulk string without its CRLF"));
                }
                bytes.truncate(len);
                Ok(Value::Bulk(bytes))
            }
            b'*' => {
                let count: i64 = text
                    .parse()
                    .map_err(|_| bad("an array length that does not parse"))?;
                if count < 0 {
                    return Ok(Value::Nil);
                }
                let count = usize::try_from(count).unwrap_or(usize::MAX);
                if count > MAX_ELEMENTS {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "an array reply of {count} elements (at most {MAX_ELEMENTS} expected)"
                        ),
                    ));
                }
                if depth >= MAX_DEPTH {
                    return Err(bad("arrays nested too deep"));
                }
                let mut items = Vec::with_capacity(count);
                for _ in 0..count {
                    items.push(self.read_value(deadline, budget, depth + 1)?);
                }
                Ok(Value::Array(items))
            }
            _ => Err(bad("a reply that is not RESP2")),
        }
    }
}

fn write_plain<S: Write>(
    s: &mut S,
    mut data: &[u8],
    deadline: Instant,
    set: impl Fn(&S, Duration) -> io::Result<()>,
) -> io::Result<()> {
    while !data.is_empty() {
        set(s, left(deadline, "writing")?)?;
        let n = s.write(data).map_err(|e| timed_out(e, "writing"))?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "the server closed the connection",
            ));
        }
        data = &data[n..];
    }
    Ok(())
}

fn charge(budget: &mut usize, n: usize) -> io::Result<()> {
    *budget = budget.checked_sub(n).ok_or_else(too_big)?;
    Ok(())
}

fn too_big() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("a reply over {MAX_REPLY_BYTES} bytes (cronix expects a few hundred)"),
    )
}

fn bad(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("the server sent {what}"),
    )
}

/// A command as a RESP array of bulk strings.
fn encode(command: &[Vec<u8>], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("*{}\r\n", command.len()).as_bytes());
    for arg in command {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// A command from its parts: `cmd(&[&"SET", &key, &value])`.
pub fn cmd(parts: &[&dyn Arg]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.bytes()).collect()
}

/// What can be a command argument.
pub trait Arg {
    fn bytes(&self) -> Vec<u8>;
}

impl Arg for &str {
    fn bytes(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
}

impl Arg for String {
    fn bytes(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
}

impl Arg for &String {
    fn bytes(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
}

impl Arg for i64 {
    fn bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl Arg for u64 {
    fn bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl Arg for usize {
    fn bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn serve(reply: &'static [u8]) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut b = [0u8; 256];
            let _ = s.read(&mut b);
            let _ = s.write_all(reply);
            std::thread::sleep(Duration::from_millis(300));
        });
        addr
    }

    fn ask(reply: &'static [u8]) -> io::Result<Value> {
        let addr = [serve(reply)];
        let deadline = Instant::now() + Duration::from_millis(200);
        let mut conn = connect(&Target::Tcp(&addr), None, deadline)?;
        conn.exchange(&[cmd(&[&"PING"])], deadline)
            .map(|mut v| v.remove(0))
    }

    #[test]
    fn small_replies_parse() {
        assert_eq!(ask(b"+PONG\r\n").unwrap(), Value::Simple("PONG".into()));
        assert_eq!(ask(b"$-1\r\n").unwrap(), Value::Nil);
        assert_eq!(
            ask(b"*2\r\n:1\r\n$3\r\nabc\r\n").unwrap(),
            Value::Array(vec![Value::Int(1), Value::Bulk(b"abc".to_vec())])
        );
        assert_eq!(ask(b"-ERR no\r\n").unwrap(), Value::Error("ERR no".into()));
    }

    #[test]
    fn oversized_replies_are_refused_before_allocation() {
        assert!(
            ask(b"$1000000000\r\n")
                .unwrap_err()
                .to_string()
                .contains("over 65536")
        );
        assert!(
            ask(b"*100000000\r\n")
                .unwrap_err()
                .to_string()
                .contains("100000000 elements")
        );
        assert!(ask(b"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n").is_err());
    }

    #[test]
    fn a_silent_peer_ends_at_the_deadline() {
        let started = Instant::now();
        let err = ask(b"+PO").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
        assert!(started.elapsed() < Duration::from_millis(400));
    }

    /// A unix listener with backlog 0 that never accepts, its backlog filled by connecting
    /// sockets held open: the listener and the fillers, kept alive together.
    fn full_unix_listener(path: &Path) -> (rustix::fd::OwnedFd, Vec<rustix::fd::OwnedFd>) {
        use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
        let addr = SocketAddrUnix::new(path).unwrap();
        let socket = || {
            rustix::net::socket_with(
                AddressFamily::UNIX,
                SocketType::STREAM,
                SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
                None,
            )
            .unwrap()
        };
        let listener = socket();
        rustix::net::bind(&listener, &addr).unwrap();
        rustix::net::listen(&listener, 0).unwrap();
        let mut fillers = Vec::new();
        let mut refused = false;
        for _ in 0..4 {
            let filler = socket();
            match rustix::net::connect(&filler, &addr) {
                Ok(()) => fillers.push(filler),
                Err(rustix::io::Errno::AGAIN) => refused = true,
                Err(e) => panic!("filling the backlog: {e}"),
            }
        }
        assert!(refused, "the backlog of {} is full", path.display());
        (listener, fillers)
    }

    #[test]
    fn a_unix_socket_whose_backlog_is_full_ends_at_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.sock");
        let _held = full_unix_listener(&path);
        let started = Instant::now();
        let deadline = started + Duration::from_millis(200);
        // On a thread, so that a connect that waits past the deadline fails this test, not hangs it.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(connect(&Target::Unix(&path), None, deadline).map(|_| ()));
        });
        let err = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("the connect is still waiting 5 s later")
            .expect_err("no connection to a full backlog");
        let elapsed = started.elapsed();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
        assert!(err.to_string().contains("connecting"), "{err}");
        assert!(
            elapsed >= Duration::from_millis(190) && elapsed < Duration::from_millis(400),
            "{elapsed:?}"
        );
    }

    #[test]
    fn a_unix_socket_connects_and_waits_for_a_slow_reply() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut b = [0u8; 256];
            let _ = s.read(&mut b);
            std::thread::sleep(Duration::from_millis(100));
            let _ = s.write_all(b"+PONG\r\n");
        });
        let deadline = Instant::now() + Duration::from_millis(1000);
        let mut conn = connect(&Target::Unix(&path), None, deadline).unwrap();
        // A socket left non-blocking would fail this read at once instead of waiting.
        let reply = conn.exchange(&[cmd(&[&"PING"])], deadline).unwrap();
        assert_eq!(reply, vec![Value::Simple("PONG".into())]);
    }

    #[test]
    fn a_missing_unix_socket_is_an_error_naming_the_cause() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent.sock");
        let deadline = Instant::now() + Duration::from_millis(200);
        let err = connect(&Target::Unix(&path), None, deadline)
            .err()
            .expect("no socket there");
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
    }
}
