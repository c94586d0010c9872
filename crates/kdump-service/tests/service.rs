//! The systemd unit and SysV init script: content, installation under a root, and the init
//! script's behaviour with a stand-in `kdump` binary (nothing is loaded on the host).

mod common;

use common::TempRoot;
use kdump_service::service::{self, ServiceKind, SYSTEMD_UNIT, SYSV_SCRIPT};
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

fn unit_value<'a>(section: &str, key: &str) -> Vec<&'a str>
where
    'static: 'a,
{
    let mut cur = "";
    let mut out = Vec::new();
    for l in SYSTEMD_UNIT.lines() {
        let l = l.trim();
        if l.starts_with('[') {
            cur = l;
        } else if cur == section {
            if let Some(v) = l.strip_prefix(key).and_then(|r| r.strip_prefix('=')) {
                out.push(v);
            }
        }
    }
    out
}

#[test]
fn systemd_unit_has_the_required_settings() {
    assert_eq!(unit_value("[Service]", "Type"), ["oneshot"]);
    assert_eq!(unit_value("[Service]", "RemainAfterExit"), ["yes"]);
    assert_eq!(
        unit_value("[Service]", "ExecStart"),
        ["/usr/local/bin/kdump start"]
    );
    assert_eq!(
        unit_value("[Service]", "ExecStop"),
        ["/usr/local/bin/kdump unload"]
    );
    assert_eq!(
        unit_value("[Unit]", "After"),
        ["local-fs.target network-online.target remote-fs.target"]
    );
    assert_eq!(
        unit_value("[Unit]", "Before"),
        ["multi-user.target graphical.target"]
    );
    assert_eq!(unit_value("[Install]", "WantedBy"), ["multi-user.target"]);
    // The pages the .deb ships (cargo xtask man makes them).
    assert_eq!(
        unit_value("[Unit]", "Documentation"),
        ["man:kdump(8) man:kdump.conf(5)"]
    );
}

#[test]
fn sysv_script_has_lsb_and_chkconfig_headers() {
    assert!(SYSV_SCRIPT.starts_with("#!/bin/sh\n"));
    for want in [
        "# chkconfig: 2345 20 80\n",
        "### BEGIN INIT INFO\n",
        "# Provides:          kdump\n",
        "# Required-Start:    $local_fs\n",
        "# Default-Start:     2 3 4 5\n",
        "# Default-Stop:      0 1 6\n",
        "### END INIT INFO\n",
    ] {
        assert!(SYSV_SCRIPT.contains(want), "missing {want:?}");
    }
    let out = Command::new("sh")
        .arg("-n")
        .arg("-c")
        .arg(SYSV_SCRIPT)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn install_both_kinds_under_a_root() {
    let t = TempRoot::new("svc");
    let a = service::install(t.path(), ServiceKind::Systemd).unwrap();
    assert!(a.written);
    assert_eq!(a.path.to_str(), Some("/etc/systemd/system/kdump.service"));
    assert_eq!(t.read("/etc/systemd/system/kdump.service"), SYSTEMD_UNIT);
    assert!(a.enable.contains("systemctl enable --now kdump"));
    let b = service::install(t.path(), ServiceKind::SysV).unwrap();
    assert_eq!(b.path.to_str(), Some("/etc/init.d/kdump"));
    assert!(b
        .enable
        .starts_with("chkconfig kdump on; service kdump start"));
    let mode = std::fs::metadata(t.path().join("etc/init.d/kdump"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    let mode = std::fs::metadata(t.path().join("etc/systemd/system/kdump.service"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
    // Installing again writes nothing.
    assert!(
        !service::install(t.path(), ServiceKind::Systemd)
            .unwrap()
            .written
    );
}

/// Run the installed init script with a stand-in kdump that only logs its arguments and
/// flips the fake kexec_crash_loaded file, as the real `kdump start`/`stop` would (start says
/// so when one is loaded already).
#[test]
fn init_script_start_stop_status_restart() {
    let t = TempRoot::new("initd");
    service::install(t.path(), ServiceKind::SysV).unwrap();
    let script = t.path().join("etc/init.d/kdump");
    let loaded = t.put("/sys/kernel/kexec_crash_loaded", "0\n");
    let log = t.path().join("log");
    let fake = t.put(
        "/usr/local/bin/kdump",
        format!(
            "#!/bin/sh\necho \"$@\" >> {log}\ncase \"$1\" in start) if [ \"$(cat {l})\" = 1 ]; then echo 'kdump: Kdump already running'; else echo 1 > {l}; fi;; stop) echo 0 > {l};; esac\n",
            log = log.display(),
            l = loaded.display()
        ),
    );
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = |arg: &str| {
        let o = Command::new("sh")
            .arg(&script)
            .arg(arg)
            .env("KDUMP", &fake)
            .env("KDUMP_CRASH_LOADED", &loaded)
            .output()
            .unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )
    };
    assert_eq!(run("status"), (3, "kdump is not operational\n".into()));
    assert_eq!(run("start").0, 0);
    assert_eq!(run("status"), (0, "kdump is operational\n".into()));
    assert_eq!(run("start"), (0, "kdump: Kdump already running\n".into()));
    assert_eq!(run("restart").0, 0);
    assert_eq!(run("stop").0, 0);
    assert_eq!(run("status").0, 3);
    assert_eq!(run("bogus").0, 2);
    // The seed's `service kdump propagate` (install the ssh key on the target).
    assert_eq!(run("propagate").0, 0);
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "start\nstart\nstop\nstart\nstop\npropagate\n"
    );
    std::fs::remove_file(&loaded).unwrap();
    assert_eq!(run("status").0, 4);
}
