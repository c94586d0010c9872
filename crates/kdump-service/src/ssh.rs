//! The ssh target through the system's `ssh`, as kdump-utils' capture script uses it:
//! `-i KEY -o BatchMode=yes -o StrictHostKeyChecking=yes`, files written by a remote
//! `umask 0077 && dd` under a temporary name and renamed when complete; and
//! `kdump propagate` (ssh-keygen, then ssh-copy-id), as `kdumpctl propagate` does.

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

impl SshTarget {
    /// The options every ssh call gets.
    pub fn args(&self) -> Vec<String> {
        let mut a = vec![
            "-i".to_string(),
            self.key.display().to_string(),
            "-o".into(),
            "BatchMode=yes".into(),
            "-o".into(),
            "StrictHostKeyChecking=yes".into(),
        ];
        for o in &self.options {
            a.push("-o".into());
            a.push(o.clone());
        }
        a
    }

    /// `ssh OPTIONS user@host -- remote`.
    pub fn command(&self, remote: &str) -> Command {
        let mut c = Command::new("ssh");
        c.args(self.args()).arg(&self.address).arg(remote);
        c
    }

    /// `mkdir -p DIR` on the target.
    pub fn mkdir_p(&self, dir: &str) -> Result<(), SshError> {
        let cmd = format!("mkdir -p {}", quote(dir)?);
        check(
            "ssh mkdir",
            self.command(&cmd).stdin(Stdio::null()).output(),
        )
    }

    /// `mv FROM TO` on the target.
    pub fn rename(&self, from: &str, to: &str) -> Result<(), SshError> {
        let cmd = format!("mv {} {}", quote(from)?, quote(to)?);
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
        let cmd = format!("umask 0077 && dd bs=512 of={} 2>/dev/null", quote(path)?);
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
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(data);
        }
        Self::finish(child)?;
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
}

/// `kdump propagate`: create `key` (RSA, no passphrase, as kdumpctl) when missing, install its
/// public half on `address` with ssh-copy-id (or `cat >> ~/.ssh/authorized_keys` over ssh when
/// ssh-copy-id is missing), then check that a BatchMode login with the key works.
/// `options` are extra `-o` options for every ssh call (a port, a known_hosts file).
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
    let mut opts = Vec::new();
    for o in options {
        opts.push("-o".to_string());
        opts.push(o.clone());
    }
    let pubkey = PathBuf::from(format!("{}.pub", key.display()));
    let copy_id = Command::new("ssh-copy-id")
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
            "-i /k -o BatchMode=yes -o StrictHostKeyChecking=yes -o Port=2222"
        );
    }
}
