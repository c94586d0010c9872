//! The ssh target through the system's `ssh`, as kdump-utils' capture script uses it:
//! `-i KEY -o BatchMode=yes -o StrictHostKeyChecking=yes`, files written by a remote
//! `umask 0077 && dd` under a temporary name and renamed when complete; and
//! `kdump propagate` (ssh-keygen, then ssh-copy-id), as `kdumpctl propagate` does.
//!
//! A dump holds every secret of the crashed kernel, so:
//! - the private key must not be readable by group or other ([`check_key`]);
//! - the server's host key is pinned by `kdump propagate` in [`known_hosts_path`] (beside the
//!   key) and the capture kernel trusts that file only (`StrictHostKeyChecking=yes`, no
//!   global file): no trust on first use there;
//! - remote directories are made under `umask 077`, files written with `dd conv=fsync` and
//!   synced again with their directory after the rename, so a dump reported saved is on the
//!   server's disk.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// An ssh failure.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    /// A remote path that cannot be quoted safely.
    #[error("remote path {0:?} contains a quote or a control character")]
    BadPath(String),
    /// A command could not be started.
    #[error("cannot run {0}: {1}")]
    Spawn(String, std::io::Error),
    /// A command failed.
    #[error("{0} failed ({1}){2}")]
    Failed(String, String, String),
    /// The private key is readable by others, or cannot be checked.
    #[error("ssh key {0}: {1}")]
    Key(PathBuf, String),
}

/// The known_hosts file of `key`: `KEY.known_hosts`, beside the key. `kdump propagate`
/// writes the server's host key there; every ssh call of the dump trusts that file only.
pub fn known_hosts_path(key: &Path) -> PathBuf {
    let mut p = key.as_os_str().to_owned();
    p.push(".known_hosts");
    PathBuf::from(p)
}

/// Refuse a private key that group or other may read or write (ssh itself refuses it, with
/// a message the capture console may not show): the error names the fix.
pub fn check_key(key: &Path) -> Result<(), SshError> {
    use std::os::unix::fs::PermissionsExt;
    let m = std::fs::metadata(key).map_err(|e| SshError::Key(key.into(), e.to_string()))?;
    let mode = m.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(SshError::Key(
            key.into(),
            format!(
                "mode {mode:04o} lets group or other read it (run: chmod 600 {})",
                key.display()
            ),
        ));
    }
    Ok(())
}

/// How to reach the ssh target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    /// `user@host`.
    pub address: String,
    /// The private key.
    pub key: PathBuf,
    /// Extra `-o` options (`Port=2222`, `UserKnownHostsFile=...`), for tests and unusual setups.
    pub options: Vec<String>,
}

fn quote(path: &str) -> Result<String, SshError> {
    if path.chars().any(|c| c == '\'' || c.is_control()) {
        return Err(SshError::BadPath(path.into()));
    }
    Ok(format!("'{path}'"))
}

fn check(what: &str, out: std::io::Result<std::process::Output>) -> Result<(), SshError> {
    let o = out.map_err(|e| SshError::Spawn(what.into(), e))?;
    if o.status.success() {
        Ok(())
    } else {
        let err = String::from_utf8_lossy(&o.stderr).trim().to_string();
        Err(SshError::Failed(
            what.into(),
            o.status.to_string(),
            if err.is_empty() {
                String::new()
            } else {
                format!(": {err}")
            },
        ))
    }
}

/// The `-o` options that bound how long an ssh call can wait on a silent server.
pub const BOUNDED_OPTIONS: [&str; 3] = [
    "ConnectTimeout=30",
    "ServerAliveInterval=15",
    "ServerAliveCountMax=4",
];

impl SshTarget {
    /// The options every ssh call gets.
    /// The pinned host keys come first: ssh keeps the first value of an option, so extra
    /// options cannot replace them.
    pub fn args(&self) -> Vec<String> {
        let mut a = vec![
            "-i".to_string(),
            self.key.display().to_string(),
            "-o".into(),
            "BatchMode=yes".into(),
            "-o".into(),
            "StrictHostKeyChecking=yes".into(),
            "-o".into(),
            format!(
                "UserKnownHostsFile={}",
                known_hosts_path(&self.key).display()
            ),
            "-o".into(),
            "GlobalKnownHostsFile=/dev/null".into(),
        ];
        for o in &self.options {
            a.push("-o".into());
            a.push(o.clone());
        }
        // Bounded time (after the extra options, which may set them otherwise): a server
        // that does not answer fails the connection in 30 s, and one that stops answering
        // mid-dump (cable cut, server gone) fails the stream in about a minute, so the
        // capture kernel reports it and runs failure_action instead of hanging.
        for o in BOUNDED_OPTIONS {
            a.push("-o".into());
            a.push(o.to_string());
        }
        a
    }

    /// `ssh OPTIONS user@host -- remote`.
    pub fn command(&self, remote: &str) -> Command {
        let mut c = Command::new("ssh");
        c.args(self.args()).arg(&self.address).arg(remote);
        c
    }

    /// `umask 077; mkdir -p DIR` on the target.
    pub fn mkdir_p(&self, dir: &str) -> Result<(), SshError> {
        let cmd = format!("umask 077 && mkdir -p {}", quote(dir)?);
        check(
            "ssh mkdir",
            self.command(&cmd).stdin(Stdio::null()).output(),
        )
    }

    /// `mv FROM TO` on the target, with the file synced before and its directory after
    /// (`sync FILE`; a `sync` of everything where that form is missing).
    pub fn rename(&self, from: &str, to: &str) -> Result<(), SshError> {
        let dir = match to.rfind('/') {
            Some(0) => "/",
            Some(i) => &to[..i],
            None => ".",
        };
        let (from, to, dir) = (quote(from)?, quote(to)?, quote(dir)?);
        let cmd = format!(
            "{{ sync -- {from} 2>/dev/null || sync; }} && mv -- {from} {to} && {{ sync -- {dir} 2>/dev/null || sync; }}"
        );
        check("ssh mv", self.command(&cmd).stdin(Stdio::null()).output())
    }

    /// `scp -q OPTIONS FILE user@host:PATH` (an IPv6 host in brackets).
    pub fn scp(&self, file: &Path, path: &str) -> Result<(), SshError> {
        quote(path)?;
        let (user, host) = self.address.split_once('@').unwrap_or(("", &self.address));
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        let dest = if user.is_empty() {
            format!("{host}:{path}")
        } else {
            format!("{user}@{host}:{path}")
        };
        check(
            "scp",
            Command::new("scp")
                .arg("-q")
                .args(self.args())
                .arg(file)
                .arg(dest)
                .stdin(Stdio::null())
                .output(),
        )
    }

    /// Starts `umask 0077 && dd bs=512 of=PATH` on the target; write the data to the child's
    /// stdin, then [`SshTarget::finish`] it.
    pub fn start_write(&self, path: &str) -> Result<Child, SshError> {
        let cmd = format!(
            "umask 0077 && dd bs=512 conv=fsync of={} 2>/dev/null",
            quote(path)?
        );
        self.command(&cmd)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| SshError::Spawn("ssh".into(), e))
    }

    /// Waits for a writer started by [`SshTarget::start_write`].
    pub fn finish(child: Child) -> Result<(), SshError> {
        check("ssh dd", child.wait_with_output())
    }

    /// Writes `data` to PATH.incomplete-style temporary `tmp`, then renames it to `path`.
    pub fn put(&self, data: &[u8], tmp: &str, path: &str) -> Result<(), SshError> {
        let mut child = self.start_write(tmp)?;
        let written = match child.stdin.take() {
            Some(mut stdin) => stdin.write_all(data),
            None => Err(std::io::Error::other("ssh has no stdin")),
        };
        Self::finish(child)?;
        written.map_err(|e| SshError::Spawn("writing to ssh dd".into(), e))?;
        self.rename(tmp, path)
    }
}

/// What `propagate` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Propagated {
    /// A new key was generated.
    pub generated: bool,
    /// The key now works with BatchMode.
    pub verified: bool,
    /// How the key was installed.
    pub method: &'static str,
    /// Where the server's host key is pinned ([`known_hosts_path`]).
    pub known_hosts: PathBuf,
    /// Where the pinned host key came from: `"known_hosts"` (this machine already trusted
    /// it) or `"first connection"` (learned now, by this command).
    pub host_key_from: &'static str,
}

/// The `Port=` of extra ssh options (22 without one).
fn port_of(options: &[String]) -> u16 {
    options
        .iter()
        .filter_map(|o| {
            let (k, v) = o.split_once(['=', ' '])?;
            k.trim()
                .eq_ignore_ascii_case("port")
                .then(|| v.trim().parse().ok())?
        })
        .next()
        .unwrap_or(22)
}

/// The name known_hosts files use for `host` on `port`.
fn known_host_name(host: &str, port: u16) -> String {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    if port == 22 {
        h.to_string()
    } else {
        format!("[{h}]:{port}")
    }
}

/// The home directory of `uid` in passwd(5) text (its sixth field), None when the user has
/// no entry, or an empty or relative one.
pub fn home_in_passwd(passwd: &str, uid: u32) -> Option<PathBuf> {
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 7 && f[2].parse() == Ok(uid) && f[5].starts_with('/'))
            .then(|| PathBuf::from(f[5]))
    })
}

/// The home of the user running us: `$HOME`, or when it is unset or empty (a systemd unit,
/// cron, a bare `env -i`) the passwd entry of the effective uid, as ssh itself finds
/// `~/.ssh`. ssh-copy-id needs it: it makes its temporary directory in `~/.ssh`.
fn user_home() -> Option<PathBuf> {
    match std::env::var_os("HOME") {
        Some(h) if !h.is_empty() => Some(PathBuf::from(h)),
        _ => std::fs::read_to_string("/etc/passwd")
            .ok()
            .and_then(|t| home_in_passwd(&t, rustix::process::geteuid().as_raw())),
    }
}

/// The known_hosts files this machine trusts: those named by a `UserKnownHostsFile=` option,
/// else ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts.
fn trusted_files(options: &[String], home: Option<&Path>) -> Vec<PathBuf> {
    let named: Vec<PathBuf> = options
        .iter()
        .filter_map(|o| {
            let (k, v) = o.split_once(['=', ' '])?;
            k.trim()
                .eq_ignore_ascii_case("userknownhostsfile")
                .then(|| v.split_whitespace().map(PathBuf::from).collect::<Vec<_>>())
        })
        .flatten()
        .collect();
    if !named.is_empty() {
        return named;
    }
    let mut v = Vec::new();
    if let Some(home) = home {
        v.push(home.join(".ssh/known_hosts"));
    }
    v.push("/etc/ssh/ssh_known_hosts".into());
    v
}

/// The lines of `file` for `name` (`ssh-keygen -F`, which also finds hashed names).
fn known_lines(name: &str, file: &Path) -> Vec<String> {
    if !file.exists() {
        return Vec::new();
    }
    Command::new("ssh-keygen")
        .arg("-F")
        .arg(name)
        .arg("-f")
        .arg(file)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// Add `lines` to the pin file (created 0600).
fn append_pins(file: &Path, lines: &[String]) -> Result<(), SshError> {
    use std::os::unix::fs::OpenOptionsExt;
    let err = |e| SshError::Spawn(format!("write {}", file.display()), e);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(file)
        .map_err(err)?;
    for l in lines {
        writeln!(f, "{l}").map_err(err)?;
    }
    f.sync_all().map_err(err)
}

/// `kdump propagate`: create `key` (RSA, no passphrase, as kdumpctl) when missing, pin the
/// server's host key in [`known_hosts_path`], install the key's public half on `address`
/// with ssh-copy-id (or `cat >> ~/.ssh/authorized_keys` over ssh when ssh-copy-id is
/// missing), then check that a BatchMode login with the key and the pinned host key works.
///
/// The host key pinned is the one this machine already trusts for the server (its
/// known_hosts files, or those a `UserKnownHostsFile=` option names); when none does, the
/// key the server shows now is pinned (trust on first use happens here, with the
/// administrator present, never in the capture kernel). A server whose key differs from a
/// pinned one is refused. `options` are extra `-o` options for every ssh call (a port).
pub fn propagate(address: &str, key: &Path, options: &[String]) -> Result<Propagated, SshError> {
    let mut generated = false;
    if !key.exists() {
        if let Some(dir) = key.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| SshError::Spawn(format!("mkdir {}", dir.display()), e))?;
        }
        check(
            "ssh-keygen",
            Command::new("ssh-keygen")
                .args(["-q", "-t", "rsa", "-N", "", "-f"])
                .arg(key)
                .stdin(Stdio::null())
                .output(),
        )?;
        generated = true;
    }
    check_key(key)?;
    let home = user_home();
    let pins = known_hosts_path(key);
    let host = address.rsplit_once('@').map_or(address, |(_, h)| h);
    let name = known_host_name(host, port_of(options));
    let mut host_key_from = "known_hosts";
    if known_lines(&name, &pins).is_empty() {
        let lines: Vec<String> = trusted_files(options, home.as_deref())
            .iter()
            .flat_map(|f| known_lines(&name, f))
            .collect();
        if lines.is_empty() {
            host_key_from = "first connection";
        } else {
            append_pins(&pins, &lines)?;
        }
    }
    // Our known_hosts first: ssh keeps the first value of an option.
    let mut opts = vec![
        "-o".to_string(),
        format!("UserKnownHostsFile={}", pins.display()),
        "-o".into(),
        "GlobalKnownHostsFile=/dev/null".into(),
        "-o".into(),
        "StrictHostKeyChecking=accept-new".into(),
    ];
    for o in options {
        opts.push("-o".to_string());
        opts.push(o.clone());
    }
    let pubkey = PathBuf::from(format!("{}.pub", key.display()));
    let mut copy_id = Command::new("ssh-copy-id");
    if let Some(h) = &home {
        copy_id.env("HOME", h);
    }
    let copy_id = copy_id
        .arg("-i")
        .arg(&pubkey)
        .args(&opts)
        .arg(address)
        .stdin(Stdio::null())
        .output();
    let method = match copy_id {
        Ok(o) if o.status.success() => "ssh-copy-id",
        // ssh-copy-id missing or failed (it needs a writable ~/.ssh on this side): append the
        // key over ssh instead.
        other => {
            let copy_id_error = match other {
                Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_string(),
                Err(e) => e.to_string(),
            };
            let data = std::fs::read(&pubkey)
                .map_err(|e| SshError::Spawn(format!("read {}", pubkey.display()), e))?;
            let mut child = Command::new("ssh")
                .args(["-o", "BatchMode=yes"])
                .args(&opts)
                .arg(address)
                .arg("umask 077 && mkdir -p .ssh && cat >> .ssh/authorized_keys")
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| SshError::Spawn("ssh".into(), e))?;
            if let Some(mut s) = child.stdin.take() {
                let _ = s.write_all(&data);
            }
            check("ssh cat >> .ssh/authorized_keys", child.wait_with_output()).map_err(|e| {
                SshError::Failed(
                    "installing the key".into(),
                    e.to_string(),
                    format!(" (ssh-copy-id: {copy_id_error})"),
                )
            })?;
            "ssh cat >> .ssh/authorized_keys"
        }
    };
    // The check runs as the capture kernel will: the pinned file only, strictly.
    let t = SshTarget {
        address: address.into(),
        key: key.into(),
        options: options.to_vec(),
    };
    let verified = check("ssh true", t.command("true").stdin(Stdio::null()).output()).is_ok();
    Ok(Propagated {
        generated,
        verified,
        method,
        known_hosts: pins,
        host_key_from,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_refuses_quotes() {
        assert_eq!(quote("/var/crash/x").unwrap(), "'/var/crash/x'");
        assert!(quote("/a'b").is_err());
        assert!(quote("/a\nb").is_err());
    }

    #[test]
    fn kdump_utils_options() {
        let t = SshTarget {
            address: "u@h".into(),
            key: "/k".into(),
            options: vec!["Port=2222".into()],
        };
        assert_eq!(
            t.args().join(" "),
            "-i /k -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/k.known_hosts -o GlobalKnownHostsFile=/dev/null -o Port=2222 -o ConnectTimeout=30 -o ServerAliveInterval=15 -o ServerAliveCountMax=4"
        );
    }

    #[test]
    fn known_host_names_and_ports() {
        assert_eq!(port_of(&["Port=2222".into()]), 2222);
        assert_eq!(port_of(&["port 2200".into()]), 2200);
        assert_eq!(port_of(&["IdentitiesOnly=yes".into()]), 22);
        assert_eq!(known_host_name("10.0.0.1", 22), "10.0.0.1");
        assert_eq!(known_host_name("127.0.0.1", 2222), "[127.0.0.1]:2222");
        assert_eq!(known_host_name("[fd00::1]", 2222), "[fd00::1]:2222");
        assert_eq!(
            trusted_files(&["UserKnownHostsFile=/a /b".into()], Some(Path::new("/h"))),
            [PathBuf::from("/a"), PathBuf::from("/b")]
        );
        assert_eq!(
            trusted_files(&[], Some(Path::new("/h"))),
            [
                PathBuf::from("/h/.ssh/known_hosts"),
                PathBuf::from("/etc/ssh/ssh_known_hosts")
            ]
        );
    }

    #[test]
    fn the_home_comes_from_passwd_by_uid() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n\
                      daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
                      odd:x:7:7::relative:/bin/sh\n\
                      short:x:8\n\
                      u:x:1000:1000:A User,,,:/home/u:/bin/bash\n";
        assert_eq!(home_in_passwd(passwd, 0), Some(PathBuf::from("/root")));
        assert_eq!(home_in_passwd(passwd, 1000), Some(PathBuf::from("/home/u")));
        assert_eq!(home_in_passwd(passwd, 7), None);
        assert_eq!(home_in_passwd(passwd, 8), None);
        assert_eq!(home_in_passwd(passwd, 4242), None);
        assert_eq!(home_in_passwd("", 0), None);
    }
}
