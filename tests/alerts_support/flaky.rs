//! A plain-text SMTP server on loopback that a test controls while it runs: stopped
//! and restarted on the same port (open sessions cut), answering 4xx, hanging after
//! DATA, slow to accept. Speaks just enough ESMTP for lettre with `?tls=none` and no
//! AUTH. Test-only.

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::Received;

/// What the server does at the end of DATA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 250: accepted (and recorded).
    Accept,
    /// Waits this long, then 250.
    Slow(Duration),
    /// 451: try again later (not recorded).
    TempFail,
    /// Never answers (the message was received, not accepted: not recorded).
    Hang,
}

struct Inner {
    mode: Mutex<Mode>,
    received: Mutex<Vec<Received>>,
    /// Every message that reached the end of DATA, whatever the answer.
    seen: Mutex<Vec<Received>>,
    /// Bumped by stop(): accept loops and sessions of older generations end.
    generation: AtomicU64,
    sessions: Mutex<Vec<TcpStream>>,
}

pub struct FlakySmtp {
    pub port: u16,
    inner: Arc<Inner>,
}

impl FlakySmtp {
    pub fn start(port: u16) -> FlakySmtp {
        let s = FlakySmtp {
            port,
            inner: Arc::new(Inner {
                mode: Mutex::new(Mode::Accept),
                received: Mutex::new(Vec::new()),
                seen: Mutex::new(Vec::new()),
                generation: AtomicU64::new(0),
                sessions: Mutex::new(Vec::new()),
            }),
        };
        s.restart();
        s
    }

    /// The `[email] smtp_url` for this server.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}?tls=none", self.port)
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.inner.mode.lock().unwrap() = mode;
    }

    pub fn messages(&self) -> Vec<Received> {
        self.inner.received.lock().unwrap().clone()
    }

    /// Every message that reached the end of DATA, accepted or not.
    pub fn seen(&self) -> Vec<Received> {
        self.inner.seen.lock().unwrap().clone()
    }

    /// Stops listening and cuts every open session (mid-command included).
    pub fn stop(&self) {
        self.inner.generation.fetch_add(1, Ordering::SeqCst);
        for s in self.inner.sessions.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
        // wait for the accept loop to let go of the port
        for _ in 0..200 {
            if TcpListener::bind(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Listens again on the same port.
    pub fn restart(&self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let inner = self.inner.clone();
        let gen = inner.generation.load(Ordering::SeqCst);
        std::thread::spawn(move || {
            while inner.generation.load(Ordering::SeqCst) == gen {
                match listener.accept() {
                    Ok((sock, _)) => {
                        sock.set_nonblocking(false).unwrap();
                        inner
                            .sessions
                            .lock()
                            .unwrap()
                            .push(sock.try_clone().unwrap());
                        let inner = inner.clone();
                        std::thread::spawn(move || {
                            let _ = session(sock, &inner, gen);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
    }
}

impl Drop for FlakySmtp {
    fn drop(&mut self) {
        self.stop();
    }
}

fn session(sock: TcpStream, inner: &Inner, gen: u64) -> std::io::Result<()> {
    let mut out = sock.try_clone()?;
    let mut lines = BufReader::new(sock);
    out.write_all(b"220 localhost ESMTP flaky\r\n")?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_string();
        let upper = cmd.to_ascii_uppercase();
        let addr = || {
            cmd.split_once(':')
                .map(|(_, a)| a.trim().trim_matches(['<', '>']).to_string())
                .unwrap_or_default()
        };
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            out.write_all(b"250-localhost\r\n250 8BITMIME\r\n")?;
        } else if upper.starts_with("MAIL FROM") {
            from = addr();
            to.clear();
            out.write_all(b"250 ok\r\n")?;
        } else if upper.starts_with("RCPT TO") {
            to.push(addr());
            out.write_all(b"250 ok\r\n")?;
        } else if upper == "DATA" {
            out.write_all(b"354 go ahead\r\n")?;
            let mut raw = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line)? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" {
                    break;
                }
                raw.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            let mode = *inner.mode.lock().unwrap();
            inner.seen.lock().unwrap().push(Received {
                from: from.clone(),
                to: to.clone(),
                raw: raw.clone(),
            });
            let received = Received {
                from: from.clone(),
                to: to.clone(),
                raw,
            };
            match mode {
                Mode::Accept => {
                    inner.received.lock().unwrap().push(received);
                    out.write_all(b"250 2.0.0 queued\r\n")?;
                }
                Mode::Slow(d) => {
                    std::thread::sleep(d);
                    inner.received.lock().unwrap().push(received);
                    out.write_all(b"250 2.0.0 queued slowly\r\n")?;
                }
                Mode::TempFail => out.write_all(b"451 4.3.0 try again later\r\n")?,
                Mode::Hang => {
                    while inner.generation.load(Ordering::SeqCst) == gen {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    return Ok(());
                }
            }
        } else if upper == "QUIT" {
            out.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else if upper == "RSET" || upper == "NOOP" {
            out.write_all(b"250 ok\r\n")?;
        } else {
            out.write_all(b"502 not implemented\r\n")?;
        }
    }
}
