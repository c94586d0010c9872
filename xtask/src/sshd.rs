//! A real OpenSSH sshd (Debian's openssh-server, see `cargo xtask setup`) for VM tests of the
//! ssh dump target: started by the test as a child process on 127.0.0.1 on a free high port,
//! with its own sshd_config, host key and authorized_keys in the test's lab directory,
//! key-only authentication, killed when dropped. The host's /etc/ssh and port 22 are not
//! touched.
//!
//! Guests reach it through QEMU's user network with [`Sshd::guestfwd_nic`]: a connection to
//! `GUEST_ADDR:22` inside the guest is relayed (one `socat` per connection) to the sshd, so
//! the guest's kdump.conf says `ssh root@<a name for 10.0.2.100>`, as a kdumpctl user writes it (kdump.conf
//! has no port syntax).
//!
//! The logins run as the host's root (the only account a test may use without changing the
//! host's users): `HOME` is set to [`Sshd::home`] (so `cd` in a remote command, as
//! ssh-copy-id does, lands in the lab), and the dump path the guest configures is
//! [`Sshd::dump_root`], inside the lab as well.
//!
//! ```ignore
//! let s = Sshd::start(&dir)?;               // dir/sshd_config, dir/ssh_host_ed25519_key, ...
//! let nic = s.guestfwd_nic();               // -nic user,model=e1000,guestfwd=...
//! // the guest uses s.client_key (private half) as its sshkey
//! ```

use crate::util::output;
use anyhow::{bail, Context, Result};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The address the guest uses for the server (inside QEMU's user network 10.0.2.0/24; slirp
/// answers for it because of the guestfwd rule).
pub const GUEST_ADDR: &str = "10.0.2.100";
/// The privilege-separation directory sshd 9.2 insists on (the packaged unit creates it as
/// its RuntimeDirectory; it is an empty directory on a tmpfs).
const PRIVSEP_DIR: &str = "/run/sshd";
/// Longest wait for the sshd to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running sshd (killed on drop).
pub struct Sshd {
    /// Its directory (config, keys, log, home, dumps).
    pub dir: PathBuf,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// The client's private key (RSA, no passphrase, as `kdumpctl propagate` makes it); its
    /// public half is in the sshd's authorized_keys.
    pub client_key: PathBuf,
    /// The sshd's log (`-E`).
    pub log: PathBuf,
    child: Option<Child>,
}

fn keygen(kind: &str, file: &Path, comment: &str) -> Result<()> {
    let _ = std::fs::remove_file(file);
    let _ = std::fs::remove_file(file.with_extension("pub"));
    output(
        Command::new("ssh-keygen")
            .args(["-q", "-t", kind, "-N", "", "-C", comment, "-f"])
            .arg(file),
    )
    .map(drop)
}

/// A port that was free on 127.0.0.1 a moment ago.
fn free_port() -> Result<u16> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("bind 127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

impl Sshd {
    /// Writes the config, keys and authorized_keys under `dir` (emptied first) and starts
    /// `/usr/sbin/sshd -D -e -f dir/sshd_config`; returns once it accepts connections.
    pub fn start(dir: &Path) -> Result<Sshd> {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).with_context(|| format!("mkdir {}", dir.display()))?;
        let dir = dir
            .canonicalize()
            .with_context(|| format!("{}", dir.display()))?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        let host_key = dir.join("ssh_host_ed25519_key");
        keygen("ed25519", &host_key, "kdump-rs lab sshd")?;
        let client_key = dir.join("kdump_id_rsa");
        keygen("rsa", &client_key, "kdump-rs lab guest")?;
        let authorized = dir.join("authorized_keys");
        std::fs::copy(client_key.with_extension("pub"), &authorized)
            .context("write authorized_keys")?;
        std::fs::set_permissions(&authorized, std::fs::Permissions::from_mode(0o600))?;
        for d in ["home", "crash"] {
            std::fs::create_dir_all(dir.join(d))?;
        }
        if !Path::new(PRIVSEP_DIR).is_dir() {
            std::fs::create_dir_all(PRIVSEP_DIR).with_context(|| format!("mkdir {PRIVSEP_DIR}"))?;
            std::fs::set_permissions(PRIVSEP_DIR, std::fs::Permissions::from_mode(0o755))?;
        }
        let port = free_port()?;
        let config = format!(
            "# sshd for a kdump-rs VM test (xtask/src/sshd.rs); nothing from /etc/ssh is read\n\
             ListenAddress 127.0.0.1:{port}\n\
             HostKey {host_key}\n\
             PidFile {pid}\n\
             AuthorizedKeysFile {authorized}\n\
             AllowUsers root\n\
             PermitRootLogin prohibit-password\n\
             PubkeyAuthentication yes\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             UsePAM no\n\
             StrictModes no\n\
             X11Forwarding no\n\
             AllowTcpForwarding no\n\
             PrintMotd no\n\
             SetEnv HOME={home}\n\
             LogLevel VERBOSE\n",
            host_key = host_key.display(),
            pid = dir.join("sshd.pid").display(),
            authorized = authorized.display(),
            home = dir.join("home").display(),
        );
        let conf = dir.join("sshd_config");
        std::fs::write(&conf, config)?;
        let log = dir.join("sshd.log");
        output(
            Command::new("/usr/sbin/sshd")
                .arg("-t")
                .arg("-f")
                .arg(&conf),
        )
        .context("sshd -t (configuration test)")?;
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-f"])
            .arg(&conf)
            .arg("-E")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("start /usr/sbin/sshd")?;
        let mut s = Sshd {
            dir,
            port,
            client_key,
            log,
            child: Some(child),
        };
        let start = Instant::now();
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok() {
                break;
            }
            if let Some(c) = s.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    bail!(
                        "sshd exited ({st}) before accepting connections; its log:\n{}",
                        std::fs::read_to_string(&s.log).unwrap_or_default()
                    );
                }
            }
            if start.elapsed() > START_TIMEOUT {
                bail!("sshd does not accept connections on {addr} after {START_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("[sshd] listening on {addr} (dir {})", s.dir.display());
        Ok(s)
    }

    /// The `HOME` of logins.
    #[cfg(test)]
    pub fn home(&self) -> PathBuf {
        self.dir.join("home")
    }

    /// The directory the guest's kdump.conf `path` names: dumps arrive in
    /// `<this>/<guest address>-<date>/`.
    pub fn dump_root(&self) -> PathBuf {
        self.dir.join("crash")
    }

    /// QEMU's NIC for the guest: the default one (e1000, user network, MAC
    /// 52:54:00:12:34:56) plus a guestfwd of [`GUEST_ADDR`]:22 to this sshd.
    pub fn guestfwd_nic(&self) -> Vec<String> {
        vec![
            "-nic".into(),
            format!(
                "user,model=e1000,guestfwd=tcp:{GUEST_ADDR}:22-cmd:socat STDIO TCP:127.0.0.1:{}",
                self.port
            ),
        ]
    }

    /// Runs `ssh` on the host as the guest would (the client key, BatchMode, a throw-away
    /// known_hosts): for checking the setup.
    #[cfg(test)]
    pub fn ssh(&self, remote: &str) -> Result<String> {
        output(
            Command::new("ssh")
                .arg("-i")
                .arg(&self.client_key)
                .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no"])
                .args(["-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"])
                .args(["-p", &self.port.to_string(), "root@127.0.0.1"])
                .arg(remote),
        )
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real sshd starts from our config alone, takes the client key (and nothing else),
    /// and logins get the lab's HOME.
    #[test]
    fn the_lab_sshd_takes_the_client_key_and_sets_home() {
        let dir = crate::util::lab_dir().join("sshd-selftest");
        let s = Sshd::start(&dir).expect("sshd starts");
        let home = s
            .ssh("echo $HOME; cd; pwd")
            .expect("ssh with the client key");
        let want = s.home().display().to_string();
        assert_eq!(
            home.lines().collect::<Vec<_>>(),
            [want.as_str(), want.as_str()]
        );
        // another key is refused
        let other = s.dir.join("other_key");
        keygen("ed25519", &other, "not authorized").unwrap();
        let st = Command::new("ssh")
            .arg("-i")
            .arg(&other)
            .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no"])
            .args(["-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"])
            .args(["-o", "IdentitiesOnly=yes"])
            .args(["-p", &s.port.to_string(), "root@127.0.0.1", "true"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(!st.success());
        let port = s.port;
        drop(s);
        assert!(
            TcpStream::connect_timeout(
                &SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
                Duration::from_millis(500)
            )
            .is_err(),
            "sshd still listens after drop"
        );
    }
}
