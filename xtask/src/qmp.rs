//! A small QMP (QEMU Machine Protocol) client: JSON lines over a unix socket.

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// A negotiated QMP connection.
pub struct Qmp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    /// Asynchronous events received while waiting for replies.
    pub events: Vec<Value>,
}

impl Qmp {
    /// Connect (retrying until `timeout` while QEMU creates the socket), read the greeting and
    /// enter command mode with `qmp_capabilities`.
    pub fn connect(sock: &Path, timeout: Duration) -> Result<Qmp> {
        let start = Instant::now();
        let stream = loop {
            match UnixStream::connect(sock) {
                Ok(s) => break s,
                Err(e) if start.elapsed() < timeout => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => {
                    return Err(e).with_context(|| format!("connect to QMP {}", sock.display()))
                }
            }
        };
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let writer = stream.try_clone()?;
        let mut q = Qmp {
            reader: BufReader::new(stream),
            writer,
            events: Vec::new(),
        };
        let greeting = q.read_msg(Duration::from_secs(30))?;
        if greeting.get("QMP").is_none() {
            bail!("unexpected QMP greeting: {greeting}");
        }
        q.execute("qmp_capabilities", None, Duration::from_secs(30))?;
        Ok(q)
    }

    fn read_msg(&mut self, timeout: Duration) -> Result<Value> {
        self.reader
            .get_ref()
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))))?;
        let mut line = String::new();
        let n = self
            .reader
            .read_line(&mut line)
            .context("read from QMP socket (timeout or QEMU gone)")?;
        if n == 0 {
            bail!("QMP socket closed");
        }
        serde_json::from_str(&line).with_context(|| format!("bad QMP message: {line}"))
    }

    /// Run `command` with optional `arguments`; return its `return` value or fail with its
    /// `error`. Events seen meanwhile are kept in [`Qmp::events`].
    pub fn execute(
        &mut self,
        command: &str,
        arguments: Option<Value>,
        timeout: Duration,
    ) -> Result<Value> {
        let mut msg = json!({ "execute": command });
        if let Some(a) = arguments {
            msg["arguments"] = a;
        }
        let mut bytes = serde_json::to_vec(&msg)?;
        bytes.push(b'\n');
        self.writer.write_all(&bytes)?;
        let start = Instant::now();
        loop {
            let left = timeout
                .checked_sub(start.elapsed())
                .with_context(|| format!("QMP {command}: no reply within {timeout:?}"))?;
            let m = self
                .read_msg(left)
                .with_context(|| format!("QMP {command}"))?;
            if let Some(r) = m.get("return") {
                return Ok(r.clone());
            }
            if let Some(e) = m.get("error") {
                bail!("QMP {command} failed: {e}");
            }
            self.events.push(m);
        }
    }

    /// `dump-guest-memory` in ELF format with paging=false to an absolute host path.
    pub fn dump_guest_memory_elf(&mut self, path: &Path, timeout: Duration) -> Result<()> {
        let abs = std::path::absolute(path)?;
        self.execute(
            "dump-guest-memory",
            Some(json!({
                "paging": false,
                "protocol": format!("file:{}", abs.display()),
                "format": "elf",
            })),
            timeout,
        )?;
        Ok(())
    }

    /// Ask QEMU to exit (the reply may be lost when it exits first).
    pub fn quit(&mut self) -> Result<()> {
        let _ = self.execute("quit", None, Duration::from_secs(10));
        Ok(())
    }
}
