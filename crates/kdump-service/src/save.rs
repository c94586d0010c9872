//! `kdump save`, in the capture kernel: run kdump_pre, save /proc/vmcore to the target of the
//! plan with its core_collector, run kdump_post, then the final action (or the failure action
//! when saving failed), following kdump-utils' capture script (dracut/99kdumpbase/kdump.sh):
//!
//! - file systems: `<mount>/<path>/<host>-<date>/` (a new directory, mode 0700, created
//!   without following links: see `dumpdir`), `vmcore-dmesg.txt` first (written as
//!   `vmcore-dmesg-incomplete.txt`, mode 0600), then `vmcore-incomplete` (0600), synced on
//!   the descriptor that wrote it, renamed `vmcore`, and the directory synced;
//! - raw: the flattened stream (-F) written onto the device;
//! - ssh: `mkdir -p` on the server, `vmcore-dmesg.txt`, then the flattened stream through
//!   `umask 0077 && dd` into `vmcore-incomplete`, renamed `vmcore.flat`;
//! - nfs: mounted with `mount -t nfs`, then as a file system.
//!
//! A kdump_pre that exits non-zero skips the dump and runs the final action; the pre.d scripts
//! only warn. kdump_post gets the dump's exit status as $1 (post.d scripts first); its own
//! status only warns.
//!
//! makedumpfile and dumpfilter collectors run in-process ([`crate::collector`]) unless they ask
//! for something only the C tool does (ELF output); any other collector is spawned as
//! `COLLECTOR /proc/vmcore FILE` (or with its stdout to the raw device / ssh).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use kdump_conf::{CollectorKind, FailureAction, FinalAction, Plan, TargetPlan, Timestamp};

use kdump_compressed::write::BackgroundSyncFile;

use crate::collector::{self, DumpOutcome, DumpRequest, Output};
use crate::dumpdir::DumpDir;
use crate::ssh::SshTarget;
use crate::system::{self, PowerAction, SystemRef};
use crate::target;

/// How `kdump save` runs.
#[derive(Debug, Clone)]
pub struct SaveOptions {
    /// The crashed kernel's memory (/proc/vmcore).
    pub vmcore: PathBuf,
    /// For file-system targets: an already-mounted directory used instead of mounting the
    /// target (tests, or a target mounted by the init system).
    pub target_root: Option<PathBuf>,
    /// Where targets are mounted (kdump-utils: /kdumproot).
    pub mount_dir: PathBuf,
    /// The root file system for dump_to_rootfs and targets without a device (kdump-utils:
    /// /sysroot).
    pub rootfs: PathBuf,
    /// The `<host>` part of the dump directory (default: 127.0.0.1 for local targets, the
    /// address on the route to the server for ssh/nfs).
    pub host: Option<String>,
    /// The time in the directory name (default: now, UTC).
    pub time: Option<Timestamp>,
    /// Extra `-o` options for ssh.
    pub ssh_options: Vec<String>,
    /// Block devices to probe for LABEL=/UUID= (default: /sys/class/block).
    pub devices: Option<Vec<PathBuf>>,
    /// Do not run the final or failure action; report it only.
    pub no_action: bool,
    /// Also write vmcore-dmesg.txt (kdump-utils does).
    pub dmesg: bool,
    /// Mount options for an nfs target (default [`NFS_DEFAULT_OPTIONS`]). The mount is the
    /// kernel's own (no mount.nfs helper in the capture initrd), so [`nfs_mount_options`]
    /// adds the server's `addr=` when these lack it; a server without rpcbind also needs
    /// `port=` and `mountport=`.
    pub nfs_options: Option<String>,
    /// Carries out mounts, raw-device writes and the final or failure action (default: this
    /// machine, behind the host guard).
    pub system: SystemRef,
}

impl Default for SaveOptions {
    fn default() -> Self {
        SaveOptions {
            vmcore: "/proc/vmcore".into(),
            target_root: None,
            mount_dir: "/kdumproot".into(),
            rootfs: "/sysroot".into(),
            host: None,
            time: None,
            ssh_options: Vec::new(),
            devices: None,
            no_action: false,
            dmesg: true,
            nfs_options: None,
            system: SystemRef::host(),
        }
    }
}

/// What the save did.
#[derive(Debug, Clone, Default)]
pub struct SaveReport {
    /// Where the dump went: a directory, a device, or `user@host:dir`.
    pub location: String,
    /// The dump file when complete (None: nothing complete).
    pub vmcore: Option<String>,
    /// Whether vmcore-dmesg.txt was saved.
    pub dmesg_saved: bool,
    /// The in-process collector's statistics.
    pub outcome: Option<DumpOutcome>,
    /// Seconds spent saving.
    pub seconds: f64,
    /// The error that made the dump fail.
    pub error: Option<String>,
    /// Warnings (hooks, dmesg).
    pub warnings: Vec<String>,
    /// The action taken (or that would be taken with `no_action`) at the end.
    pub action: String,
    /// kdump_pre refused the dump.
    pub pre_failed: bool,
    /// The dump dump_to_rootfs saved on the root file system (failure_action dump_to_rootfs).
    pub rootfs_vmcore: Option<String>,
}

impl SaveReport {
    /// 0 when the dump is complete, 1 otherwise (kdump.sh's exit status).
    pub fn exit_code(&self) -> u8 {
        if self.error.is_none() && !self.pre_failed {
            0
        } else {
            1
        }
    }
}

fn now() -> Timestamp {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    Timestamp::from_unix(secs)
}

/// Runs a hook with optional argument; returns its exit code (or an error text).
fn run_hook(path: &str, arg: Option<i32>) -> Result<i32, String> {
    let mut c = Command::new(path);
    if let Some(a) = arg {
        c.arg(a.to_string());
    }
    match c.status() {
        Ok(s) => Ok(s.code().unwrap_or(128)),
        Err(e) => Err(format!("{path}: {e}")),
    }
}

fn dir_scripts(dir: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// kdump_pre, then the pre.d scripts. Err: the kdump_pre status refusing the dump.
fn do_pre(plan: &Plan, warnings: &mut Vec<String>) -> Result<(), String> {
    if let Some(pre) = &plan.hooks.pre {
        match run_hook(pre, None) {
            Ok(0) => {}
            Ok(n) => return Err(format!("kdump_pre {pre} exited with status {n}")),
            Err(e) => return Err(format!("kdump_pre {e}")),
        }
    }
    if let Some(d) = plan.hooks.pre_dir {
        for s in dir_scripts(d) {
            match run_hook(&s.display().to_string(), None) {
                Ok(0) => {}
                Ok(n) => warnings.push(format!("{} exited with status {n}", s.display())),
                Err(e) => warnings.push(e),
            }
        }
    }
    Ok(())
}

fn do_post(plan: &Plan, status: i32, warnings: &mut Vec<String>) {
    if let Some(d) = plan.hooks.post_dir {
        for s in dir_scripts(d) {
            match run_hook(&s.display().to_string(), Some(status)) {
                Ok(0) => {}
                Ok(n) => warnings.push(format!("{} exited with status {n}", s.display())),
                Err(e) => warnings.push(e),
            }
        }
    }
    if let Some(post) = &plan.hooks.post {
        match run_hook(post, Some(status)) {
            Ok(0) => {}
            Ok(n) => warnings.push(format!("kdump_post {post} exited with status {n}")),
            Err(e) => warnings.push(format!("kdump_post {e}")),
        }
    }
}

/// Where the collector writes.
enum Sink<'a> {
    /// A new file `name` in the dump directory.
    File {
        dir: &'a DumpDir,
        name: &'a str,
    },
    Stream(&'a mut dyn Write),
}

/// Runs the plan's collector on `vmcore` into `sink`. A file is durable when this returns
/// `Ok`: the in-process collector writes and syncs it through the descriptor that created
/// it; after a collector program it is opened and synced.
fn run_collector(
    plan: &Plan,
    vmcore: &Path,
    sink: Sink<'_>,
) -> Result<Option<DumpOutcome>, String> {
    let argv = &plan.collector.argv;
    let opts = match plan.collector.kind {
        CollectorKind::Other => None,
        _ => dumpfilter_options::parse_collector(&argv[1..]).ok(),
    };
    if let Some(o) = opts.filter(|o| collector::in_process_unsupported(o).is_none()) {
        let mut file = None;
        let work_dir = match &sink {
            Sink::File { dir, .. } => Some(dir.path().to_path_buf()),
            Sink::Stream(_) => None,
        };
        let output = match sink {
            Sink::File { dir, name } => {
                if o.flatten {
                    return Err("the collector has -F but the target is a file system".into());
                }
                let f = dir.create_file(name)?;
                let bg = BackgroundSyncFile::new(f, SYNC_EVERY)
                    .map_err(|e| format!("{}: {e}", dir.join(name).display()))?;
                Output::Durable(file.insert(bg))
            }
            Sink::Stream(w) => Output::Flattened(w),
        };
        let req = DumpRequest {
            vmcore,
            output,
            levels: o.dump_levels.clone(),
            codec: collector::codec(o.compression),
            threads: collector::threads(&o),
            size_limit: o.size_limit,
            progress: None,
            // Large bitmaps go to the target, not to the capture kernel's memory.
            work_dir: o.work_dir.as_deref().map(Path::new).or(work_dir.as_deref()),
        };
        return collector::run(req).map(Some).map_err(|e| e.message);
    }
    // Spawned: as kdump.sh runs it, `$CORE_COLLECTOR /proc/vmcore [FILE]`.
    let prog = argv.first().ok_or("empty core_collector")?;
    let mut c = Command::new(prog);
    c.args(&argv[1..]).arg(vmcore);
    match sink {
        Sink::File { dir, name } => {
            // The program creates the file itself (makedumpfile refuses an existing one).
            c.arg(dir.join(name));
            let st = c.status().map_err(|e| format!("cannot run {prog}: {e}"))?;
            if !st.success() {
                return Err(format!("{prog} failed ({st})"));
            }
            dir.sync_file(name)?;
        }
        Sink::Stream(w) => {
            let mut child = c
                .stdout(Stdio::piped())
                .spawn()
                .map_err(|e| format!("cannot run {prog}: {e}"))?;
            if let Some(mut out) = child.stdout.take() {
                std::io::copy(&mut out, w).map_err(|e| format!("copying {prog}'s output: {e}"))?;
            }
            let st = child.wait().map_err(|e| e.to_string())?;
            if !st.success() {
                return Err(format!("{prog} failed ({st})"));
            }
        }
    }
    Ok(None)
}

/// Start write-back of a dump file every this many bytes (see the collector's measure).
const SYNC_EVERY: u64 = 4 << 20;

/// Saves vmcore-dmesg.txt in `dir` (see [`save_text`]).
fn save_dmesg(dir: &DumpDir, vmcore: &Path) -> Result<(), String> {
    let text = collector::dmesg(vmcore).map_err(|e| e.to_string())?;
    save_text(dir, "vmcore-dmesg.txt", &text)
}

/// The name a side file (`NAME.txt`) has while it is written: `NAME-incomplete.txt`.
fn incomplete_name(name: &str) -> String {
    match name.strip_suffix(".txt") {
        Some(stem) => format!("{stem}-incomplete.txt"),
        None => format!("{name}-incomplete"),
    }
}

/// Saves `name` (`NAME.txt`) in `dir`: written as NAME-incomplete.txt (0600, never over an
/// existing file), synced, renamed, and the directory synced.
fn save_text(dir: &DumpDir, name: &str, text: &[u8]) -> Result<(), String> {
    let tmp = incomplete_name(name);
    let mut f = dir.create_file(&tmp)?;
    f.write_all(text)
        .and_then(|_| f.sync_all())
        .map_err(|e| format!("{}: {e}", dir.join(&tmp).display()))?;
    dir.rename(&tmp, name)?;
    dir.sync()
}

/// Saves into a mounted file system whose mount point is `mnt`: a new dump directory (mode
/// 0700, see [`DumpDir`]), vmcore-dmesg.txt, then `vmcore-incomplete` (0600) written and
/// synced, renamed to the dump file, and the directory synced. Success means the dump and
/// its name are on the disk; on any error the file stays `vmcore-incomplete`.
fn dump_fs(
    plan: &Plan,
    opts: &SaveOptions,
    mnt: &Path,
    host: &str,
    time: &Timestamp,
    report: &mut SaveReport,
) -> Result<(), String> {
    let rel = plan
        .dump_dir(host, time)
        .ok_or("the plan has no dump directory")?;
    let dir = DumpDir::create(mnt, &rel)?;
    report.location = dir.path().display().to_string();
    if opts.dmesg {
        match save_dmesg(&dir, &opts.vmcore) {
            Ok(()) => report.dmesg_saved = true,
            Err(e) => report
                .warnings
                .push(format!("saving vmcore-dmesg.txt failed: {e}")),
        }
    }
    let incomplete = "vmcore-incomplete";
    report.outcome = run_collector(
        plan,
        &opts.vmcore,
        Sink::File {
            dir: &dir,
            name: incomplete,
        },
    )?;
    dir.rename(incomplete, &plan.dump_file)?;
    if let Err(e) = dir.sync() {
        // The name is not durable: the file goes back to its incomplete name, so that what
        // is called vmcore after a reboot is only ever a dump that was reported saved.
        let back = dir.rename(&plan.dump_file, incomplete);
        return Err(format!(
            "{e} (the dump is written but its name could not be made durable; {})",
            match back {
                Ok(()) => format!("left as {incomplete}"),
                Err(b) => format!("renaming it back to {incomplete} failed too: {b}"),
            }
        ));
    }
    report.vmcore = Some(dir.join(&plan.dump_file).display().to_string());
    if let Some(list) = report
        .outcome
        .as_ref()
        .and_then(DumpOutcome::unreadable_list)
    {
        if let Err(e) = save_text(&dir, collector::UNREADABLE_LIST, list.as_bytes()) {
            report
                .warnings
                .push(format!("saving {} failed: {e}", collector::UNREADABLE_LIST));
        }
    }
    Ok(())
}

fn dump_raw(
    plan: &Plan,
    opts: &SaveOptions,
    device: &str,
    report: &mut SaveReport,
) -> Result<(), String> {
    report.location = device.to_string();
    let mut f = opts
        .system
        .open_block_device(Path::new(device))
        .map_err(|e| format!("open {device}: {e}"))?;
    report.outcome = run_collector(plan, &opts.vmcore, Sink::Stream(&mut f))?;
    f.flush().map_err(|e| format!("{device}: {e}"))?;
    f.sync_all().map_err(|e| format!("sync {device}: {e}"))?;
    report.vmcore = Some(device.to_string());
    Ok(())
}

/// NFS mount options when none are given: NFSv3 over TCP without the lock manager (what a
/// capture kernel can reach: no statd runs there).
pub const NFS_DEFAULT_OPTIONS: &str = "vers=3,proto=tcp,nolock";

/// Added to NFS mount options that say neither `hard` nor `soft`: a server that stops
/// answering fails the dump's writes with an error (EIO) after about 100 s (timeouts of 10,
/// 20, 30 and 40 s over TCP), so the capture kernel reports it and runs failure_action; a
/// hard mount (the kernel's default) would retry for ever and the machine never comes back.
/// `hard` in kdump.conf's options keeps the kernel's default.
pub const NFS_BOUNDED_OPTIONS: &str = "soft,timeo=100,retrans=3";

/// The kernel mount options for an nfs target on `server`: `given` (or
/// [`NFS_DEFAULT_OPTIONS`]), [`NFS_BOUNDED_OPTIONS`] unless they say `hard` or `soft`, and
/// `addr=` added when they have none. The kernel does no name lookup (mount.nfs does, and
/// the capture initrd has none), so a host name is resolved here (/etc/hosts, DNS) and an
/// IP address taken as it is.
pub fn nfs_mount_options(server: &str, given: Option<&str>) -> Result<String, String> {
    let mut o = given.unwrap_or(NFS_DEFAULT_OPTIONS).trim().to_string();
    let has = |o: &str, key: &str| {
        o.split(',')
            .any(|kv| kv.trim() == key || kv.trim().starts_with(&format!("{key}=")))
    };
    if !has(&o, "hard") && !has(&o, "soft") {
        if !o.is_empty() {
            o.push(',');
        }
        o.push_str(NFS_BOUNDED_OPTIONS);
    }
    if has(&o, "addr") {
        return Ok(o);
    }
    let host = server.trim_start_matches('[').trim_end_matches(']');
    let ip = match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip,
        Err(_) => std::net::ToSocketAddrs::to_socket_addrs(&(host, 2049))
            .ok()
            .and_then(|mut a| a.next())
            .map(|a| a.ip())
            .ok_or_else(|| {
                format!("nfs server {server}: cannot resolve the name (give its IP address)")
            })?,
    };
    if !o.is_empty() {
        o.push(',');
    }
    o.push_str(&format!("addr={ip}"));
    Ok(o)
}

/// The capture system's address on the route to `host` (no packet is sent: a UDP socket is
/// only connected).
pub fn route_address(host: &str) -> Option<String> {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    let bind = if h.contains(':') {
        "[::]:0"
    } else {
        "0.0.0.0:0"
    };
    let s = std::net::UdpSocket::bind(bind).ok()?;
    s.connect((h, 22)).ok()?;
    Some(s.local_addr().ok()?.ip().to_string())
}

fn dump_ssh(
    plan: &Plan,
    opts: &SaveOptions,
    t: &SshTarget,
    host_ip: &str,
    time: &Timestamp,
    report: &mut SaveReport,
) -> Result<(), String> {
    let dir = plan
        .dump_dir(host_ip, time)
        .ok_or("the plan has no dump directory")?;
    report.location = format!("{}:{dir}", t.address);
    crate::dumpdir::below(&dir)?;
    crate::ssh::check_key(&t.key).map_err(|e| e.to_string())?;
    t.mkdir_p(&dir).map_err(|e| e.to_string())?;
    if opts.dmesg {
        match collector::dmesg(&opts.vmcore) {
            Ok(text) => match t.put(
                &text,
                &format!("{dir}/{}", incomplete_name("vmcore-dmesg.txt")),
                &format!("{dir}/vmcore-dmesg.txt"),
            ) {
                Ok(()) => report.dmesg_saved = true,
                Err(e) => report
                    .warnings
                    .push(format!("saving vmcore-dmesg.txt failed: {e}")),
            },
            Err(e) => report
                .warnings
                .push(format!("saving vmcore-dmesg.txt failed: {e}")),
        }
    }
    let tmp = format!("{dir}/vmcore-incomplete");
    if plan.collector.argv.first().map(String::as_str) == Some("scp") {
        // `core_collector scp`: the whole /proc/vmcore copied by scp, as kdump.sh does.
        t.scp(&opts.vmcore, &tmp).map_err(|e| e.to_string())?;
        let dest = format!("{dir}/{}", plan.dump_file);
        t.rename(&tmp, &dest).map_err(|e| e.to_string())?;
        report.vmcore = Some(format!("{}:{dest}", t.address));
        return Ok(());
    }
    let mut child = t.start_write(&tmp).map_err(|e| e.to_string())?;
    let result = match child.stdin.take() {
        Some(mut stdin) => {
            let r = run_collector(plan, &opts.vmcore, Sink::Stream(&mut stdin));
            drop(stdin);
            r
        }
        None => Err("ssh has no stdin".into()),
    };
    let fin = SshTarget::finish(child).map_err(|e| e.to_string());
    report.outcome = result?;
    fin?;
    let dest = format!("{dir}/{}", plan.dump_file);
    t.rename(&tmp, &dest).map_err(|e| e.to_string())?;
    report.vmcore = Some(format!("{}:{dest}", t.address));
    if let Some(list) = report
        .outcome
        .as_ref()
        .and_then(DumpOutcome::unreadable_list)
    {
        let name = collector::UNREADABLE_LIST;
        let tmp = format!("{dir}/{}", incomplete_name(name));
        if let Err(e) = t.put(list.as_bytes(), &tmp, &format!("{dir}/{name}")) {
            report.warnings.push(format!("saving {name} failed: {e}"));
        }
    }
    Ok(())
}

/// Mounts `what` on `dir` through the options' [`system`](SaveOptions::system).
fn mount(
    opts: &SaveOptions,
    fstype: &str,
    what: &str,
    dir: &Path,
    data: Option<&str>,
) -> Result<(), String> {
    system::mount_target(&*opts.system, fstype, what, dir, data)
        .map_err(|e| format!("mounting {what} ({fstype}) on {}: {e}", dir.display()))
}

/// Carries out the dump part of `plan` (no hooks, no actions).
fn do_dump(plan: &Plan, opts: &SaveOptions, report: &mut SaveReport) -> Result<(), String> {
    let time = opts.time.unwrap_or_else(now);
    let local_host = opts
        .host
        .clone()
        .or_else(|| plan.known_host().map(String::from))
        .unwrap_or_else(|| "127.0.0.1".into());
    match &plan.target {
        TargetPlan::Raw { device } => dump_raw(plan, opts, device, report),
        TargetPlan::Ssh { user, host, sshkey } => {
            let t = SshTarget {
                address: format!("{user}@{host}"),
                key: sshkey.into(),
                options: opts.ssh_options.clone(),
            };
            let ip = opts
                .host
                .clone()
                .or_else(|| route_address(host))
                .unwrap_or_else(|| "127.0.0.1".into());
            dump_ssh(plan, opts, &t, &ip, &time, report)
        }
        TargetPlan::Ftp { .. } => Err("ftp targets (Debian kdump-tools) are not supported".into()),
        other => {
            let mnt = match (&opts.target_root, other) {
                (Some(r), _) => r.clone(),
                (None, TargetPlan::Default) => opts.rootfs.clone(),
                (None, TargetPlan::Fs { fstype, device }) => {
                    let cands = opts.devices.clone().unwrap_or_else(target::block_devices);
                    let dev = target::resolve_device(device, &cands).map_err(|e| e.to_string())?;
                    mount(
                        opts,
                        fstype,
                        &dev.display().to_string(),
                        &opts.mount_dir,
                        None,
                    )?;
                    opts.mount_dir.clone()
                }
                (None, TargetPlan::Nfs { server, export }) => {
                    let what = format!("{server}:{export}");
                    let o = nfs_mount_options(server, opts.nfs_options.as_deref())?;
                    mount(opts, "nfs", &what, &opts.mount_dir, Some(&o))?;
                    opts.mount_dir.clone()
                }
                (None, TargetPlan::Virtiofs { tag }) => {
                    mount(opts, "virtiofs", tag, &opts.mount_dir, None)?;
                    opts.mount_dir.clone()
                }
                (
                    None,
                    TargetPlan::DracutMount {
                        device,
                        mount_point,
                        fstype,
                    },
                ) => {
                    let dir = PathBuf::from(mount_point);
                    mount(opts, fstype, device, &dir, None)?;
                    dir
                }
                (None, _) => return Err("unsupported target".into()),
            };
            let host = match other {
                TargetPlan::Nfs { server, .. } => opts
                    .host
                    .clone()
                    .or_else(|| route_address(server))
                    .unwrap_or(local_host),
                _ => local_host,
            };
            let r = dump_fs(plan, opts, &mnt, &host, &time, report);
            if opts.target_root.is_none() && !matches!(other, TargetPlan::Default) {
                // We mounted it: unmount (the data is synced; a busy mount only warns).
                if let Err(e) = opts.system.unmount(&mnt) {
                    report
                        .warnings
                        .push(format!("umount {} failed: {e}", mnt.display()));
                }
            }
            r
        }
    }
}

/// Ends the capture kernel with `action` through `sys` (sync, then reboot(2)).
fn power(sys: &SystemRef, action: PowerAction, no_action: bool) -> String {
    let name = action.name();
    if no_action {
        return format!("{name} (not run: --no-action)");
    }
    // Only a capture kernel (it has /proc/vmcore) is ever ended by `kdump save`.
    if !Path::new("/proc/vmcore").exists() {
        return format!("{name} not run: this is not a capture kernel (no /proc/vmcore)");
    }
    match sys.power(action) {
        Ok(()) => name.to_string(),
        Err(e) => format!("{name} failed: {e}"),
    }
}

fn final_power(a: FinalAction) -> PowerAction {
    match a {
        FinalAction::Reboot => PowerAction::Reboot,
        FinalAction::Halt => PowerAction::Halt,
        FinalAction::Poweroff => PowerAction::Poweroff,
    }
}

/// The shell for failure_action shell: the capture image may have none.
const SHELL: &str = "/bin/sh";

/// The first step of the action that ends `kdump save`.
enum Head {
    /// reboot(2): restart, halt or power off.
    Power(PowerAction),
    /// The emergency shell.
    Shell,
    /// A failure_action command run with `sh -c`.
    Command(String),
    /// Already carried out before the action (dump_to_rootfs): its outcome.
    Done(String),
}

/// What ends `kdump save`: a first step, then (for shell, a command or dump_to_rootfs) the
/// final action.
struct Action {
    head: Head,
    then_final: Option<FinalAction>,
}

impl Action {
    fn describe(&self) -> String {
        let head = match &self.head {
            Head::Power(a) => a.name().to_string(),
            Head::Shell => "shell".into(),
            Head::Command(c) => c.clone(),
            Head::Done(t) => t.clone(),
        };
        match self.then_final {
            Some(f) => format!("{head}, then final action {}", final_power(f)),
            None => head,
        }
    }

    fn run(self, sys: &SystemRef, no_action: bool) -> String {
        let head = match self.head {
            Head::Power(a) => power(sys, a, no_action),
            Head::Shell if no_action => "shell (not run: --no-action)".into(),
            Head::Shell if !Path::new(SHELL).exists() => {
                format!("shell: the capture image has no {SHELL}")
            }
            Head::Shell => {
                eprintln!("kdump: entering the kdump emergency shell; exit it to continue");
                match sys.run_action(Command::new(SHELL).arg("-i")) {
                    Ok(_) => "shell".into(),
                    Err(e) => format!("shell failed: {e}"),
                }
            }
            Head::Command(c) if no_action => format!("{c} (not run: --no-action)"),
            Head::Command(c) => match sys.run_action(Command::new(SHELL).arg("-c").arg(&c)) {
                Ok(st) if st.success() => c,
                Ok(st) => format!("{c} ({st})"),
                Err(e) => format!("{c} failed: {e}"),
            },
            Head::Done(t) => t,
        };
        match self.then_final {
            Some(f) => format!(
                "{head}, then final action {}",
                power(sys, final_power(f), no_action)
            ),
            None => head,
        }
    }
}

fn final_action(a: FinalAction) -> Action {
    Action {
        head: Head::Power(final_power(a)),
        then_final: None,
    }
}

/// The failure action; dump_to_rootfs is carried out here (before the report is shown).
fn failure_action(plan: &Plan, opts: &SaveOptions, report: &mut SaveReport) -> Action {
    let fin = Some(plan.final_action);
    let (head, then_final) = match &plan.failure_action {
        FailureAction::Reboot => (Head::Power(PowerAction::Reboot), None),
        FailureAction::Halt => (Head::Power(PowerAction::Halt), None),
        FailureAction::Poweroff => (Head::Power(PowerAction::Poweroff), None),
        FailureAction::Shell => (Head::Shell, fin),
        FailureAction::Command(c) => (Head::Command(c.clone()), fin),
        FailureAction::DumpToRootfs
            if matches!(plan.target, TargetPlan::Default) && opts.target_root.is_none() =>
        {
            // The dump that failed was on the root file system already: a second try at
            // the same place (same directory name, the same full or failing disk) would only
            // fail again with "already exists".
            (
                Head::Done(format!(
                    "dump_to_rootfs not tried: the failed dump was on the root file system \
                     ({}) already",
                    opts.rootfs.display()
                )),
                fin,
            )
        }
        FailureAction::DumpToRootfs => {
            let mut o = opts.clone();
            o.target_root = Some(opts.rootfs.clone());
            let mut r2 = SaveReport::default();
            let text = match dump_fs(
                plan,
                &o,
                &opts.rootfs,
                "127.0.0.1",
                &opts.time.unwrap_or_else(now),
                &mut r2,
            ) {
                Ok(()) => format!(
                    "dump_to_rootfs saved {}",
                    r2.vmcore.clone().unwrap_or_default()
                ),
                Err(e) => format!("dump_to_rootfs failed: {e}"),
            };
            report.rootfs_vmcore = r2.vmcore;
            report.warnings.extend(r2.warnings);
            (Head::Done(text), fin)
        }
    };
    Action { head, then_final }
}

/// `kdump save`: pre hooks, dump, post hooks, then the final or failure action.
pub fn save(plan: &Plan, opts: &SaveOptions) -> SaveReport {
    save_with(plan, opts, |_| {})
}

/// [`save`], calling `before_action` with the report just before the final or failure action
/// runs: the dump, the hooks and dump_to_rootfs are done, and [`SaveReport::action`] says what
/// is about to run. It is the last chance to print anything when that action powers off.
/// Afterwards `action` says what was run.
pub fn save_with(
    plan: &Plan,
    opts: &SaveOptions,
    before_action: impl FnOnce(&SaveReport),
) -> SaveReport {
    let mut report = SaveReport::default();
    let started = Instant::now();
    let action = match do_pre(plan, &mut report.warnings) {
        Err(e) => {
            report.pre_failed = true;
            report.error = Some(e);
            final_action(plan.final_action)
        }
        Ok(()) => {
            let r = do_dump(plan, opts, &mut report);
            report.seconds = started.elapsed().as_secs_f64();
            let status = i32::from(r.is_err());
            if let Err(e) = r {
                report.error = Some(e);
            }
            do_post(plan, status, &mut report.warnings);
            if report.error.is_some() {
                failure_action(plan, opts, &mut report)
            } else {
                final_action(plan.final_action)
            }
        }
    };
    report.action = action.describe();
    before_action(&report);
    report.action = action.run(&opts.system, opts.no_action);
    report
}

/// The `--message-level` the plan's core_collector asks for (makedumpfile's default 7 when it
/// is not makedumpfile/dumpfilter or its options do not parse); bit 16 asks for the page
/// statistics report.
pub fn collector_message_level(plan: &Plan) -> u8 {
    match plan.collector.kind {
        CollectorKind::Other => dumpfilter_options::DEFAULT_MESSAGE_LEVEL,
        _ => plan
            .collector
            .argv
            .get(1..)
            .and_then(|a| dumpfilter_options::parse_collector(a).ok())
            .map_or(dumpfilter_options::DEFAULT_MESSAGE_LEVEL, |o| {
                o.effective_message_level()
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(conf: &str) -> Plan {
        let c = kdump_conf::check(conf);
        assert!(c.is_valid(), "{conf}: {:?}", c.diagnostics);
        kdump_conf::plan(&c.config)
    }

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("kdump-save-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn dump_to_rootfs_is_not_retried_when_the_failed_dump_was_on_the_root_fs() {
        let d = scratch("rootfs-again");
        let vmcore = d.join("vmcore.in");
        std::fs::write(&vmcore, b"not really a vmcore").unwrap();
        let rootfs = d.join("sysroot");
        std::fs::create_dir_all(&rootfs).unwrap();
        // The default target (the root fs) and a collector that fails.
        let p = plan("path /var/crash\ncore_collector false\nfailure_action dump_to_rootfs\nfinal_action poweroff\n");
        let o = SaveOptions {
            vmcore,
            rootfs: rootfs.clone(),
            no_action: true,
            dmesg: false,
            ..SaveOptions::default()
        };
        let r = save(&p, &o);
        assert!(
            r.error.as_deref().unwrap_or("").contains("false failed"),
            "{r:?}"
        );
        assert_eq!(r.rootfs_vmcore, None);
        assert_eq!(
            r.action,
            format!(
                "dump_to_rootfs not tried: the failed dump was on the root file system ({}) \
                 already, then final action poweroff (not run: --no-action)",
                rootfs.display()
            )
        );
        // One dump directory: the failed one, with no vmcore in it.
        let dirs: Vec<_> = std::fs::read_dir(rootfs.join("var/crash"))
            .unwrap()
            .collect();
        assert_eq!(dirs.len(), 1);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn dump_to_rootfs_runs_before_the_report_and_the_final_action() {
        let d = scratch("rootfs");
        let vmcore = d.join("vmcore.in");
        std::fs::write(&vmcore, b"not really a vmcore").unwrap();
        let rootfs = d.join("sysroot");
        std::fs::create_dir_all(&rootfs).unwrap();
        let p = plan("ext4 LABEL=missing\npath /var/crash\ncore_collector cp\nfailure_action dump_to_rootfs\nfinal_action poweroff\n");
        let o = SaveOptions {
            vmcore: vmcore.clone(),
            rootfs: rootfs.clone(),
            devices: Some(Vec::new()),
            no_action: true,
            dmesg: false,
            ..SaveOptions::default()
        };
        let mut seen = None;
        let r = save_with(&p, &o, |r| {
            seen = Some((r.action.clone(), r.rootfs_vmcore.clone(), r.error.clone()))
        });
        let (action, saved, error) = seen.expect("before_action was called");
        let saved = saved.expect("dump_to_rootfs saved a dump before the action");
        assert!(saved.starts_with(&rootfs.display().to_string()), "{saved}");
        assert_eq!(std::fs::read(&saved).unwrap(), b"not really a vmcore");
        assert!(error.unwrap().contains("LABEL=missing"));
        assert_eq!(
            action,
            format!("dump_to_rootfs saved {saved}, then final action poweroff")
        );
        assert_eq!(
            r.action,
            format!(
                "dump_to_rootfs saved {saved}, then final action poweroff (not run: --no-action)"
            )
        );
        assert_eq!(r.exit_code(), 1);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn the_report_names_the_final_action_before_it_runs() {
        let d = scratch("final");
        let vmcore = d.join("vmcore.in");
        std::fs::write(&vmcore, b"x").unwrap();
        let p = plan("path /var/crash\ncore_collector cp\nfinal_action halt\n");
        let o = SaveOptions {
            vmcore,
            target_root: Some(d.join("root")),
            no_action: true,
            dmesg: false,
            ..SaveOptions::default()
        };
        let mut before = String::new();
        let r = save_with(&p, &o, |r| {
            assert!(r.vmcore.is_some() && r.error.is_none());
            before = r.action.clone();
        });
        assert_eq!(before, "halt");
        assert_eq!(r.action, "halt (not run: --no-action)");
        assert_eq!(r.exit_code(), 0);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn collector_message_level_reads_the_collector_options() {
        let p = plan("core_collector makedumpfile -l --message-level 23 -d 31\n");
        assert_eq!(collector_message_level(&p), 23);
        let p = plan("core_collector makedumpfile -l -d 31\n");
        assert_eq!(collector_message_level(&p), 7);
        let p = plan("core_collector cp\n");
        assert_eq!(collector_message_level(&p), 7);
    }

    #[test]
    fn nfs_options_get_the_server_address() {
        assert_eq!(
            nfs_mount_options("10.0.2.2", None).unwrap(),
            "vers=3,proto=tcp,nolock,soft,timeo=100,retrans=3,addr=10.0.2.2"
        );
        assert_eq!(
            nfs_mount_options("[fd00::2]", Some("vers=4.2")).unwrap(),
            "vers=4.2,soft,timeo=100,retrans=3,addr=fd00::2"
        );
        // Given options that name the address and say hard or soft are kept as they are.
        for given in [
            "nolock,vers=3,port=2050,hard,addr=192.0.2.7",
            "soft,timeo=600,addr=192.0.2.7",
        ] {
            assert_eq!(
                nfs_mount_options("nfs.example", Some(given)).unwrap(),
                given
            );
        }
        // A host name is resolved (here from /etc/hosts).
        let local = nfs_mount_options("localhost", Some("nolock,hard")).unwrap();
        assert!(
            local == "nolock,hard,addr=127.0.0.1" || local == "nolock,hard,addr=::1",
            "{local}"
        );
        let e = nfs_mount_options("", None).unwrap_err();
        assert!(e.contains("cannot resolve"), "{e}");
    }
}
