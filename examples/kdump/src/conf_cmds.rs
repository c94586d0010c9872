//! The configuration every subcommand reads (kdump.conf + the sysconfig file, or Debian's
//! kdump-tools file), and `kdump check` / `kdump show`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use kdump_cli::kdump::{Cli, ShowArgs};
use kdump_conf::{Diagnostic, KernelPlan, Plan, Severity, TargetPlan};

/// What the configuration files say.
pub struct Conf {
    /// The dump plan.
    pub plan: Plan,
    /// The capture kernel settings (sysconfig or kdump-tools), if such a file was read.
    pub kernel: Option<KernelPlan>,
    /// Every problem, with the file it is in.
    pub diags: Vec<(String, Diagnostic)>,
    /// kdump.conf, or the kdump-tools file when that was read instead.
    pub main_file: String,
    /// The sysconfig file read beside kdump.conf, if any.
    pub sysconfig_file: Option<PathBuf>,
}

impl Conf {
    /// True when no file has an error (warnings allowed).
    pub fn is_valid(&self) -> bool {
        !self
            .diags
            .iter()
            .any(|(_, d)| d.severity == Severity::Error)
    }

    /// Prints every problem on stderr as `FILE:LINE:COL: severity: message`.
    pub fn report(&self) {
        for (file, d) in &self.diags {
            eprintln!("{}", d.display(file));
        }
    }

    /// The first file with an error, for "FILE has errors".
    fn first_bad_file(&self) -> Option<&str> {
        self.diags
            .iter()
            .find(|(_, d)| d.severity == Severity::Error)
            .map(|(f, _)| f.as_str())
    }
}

fn read_text(path: &Path) -> Result<String, String> {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Reads the configuration the way every subcommand does: `--kdump-tools FILE`, or kdump.conf
/// (`--config`, default /etc/kdump.conf; when that is absent and /etc/default/kdump-tools
/// exists, that file) plus the sysconfig file (`--sysconfig`, default /etc/sysconfig/kdump
/// when it exists). Unreadable files are errors; problems in them are in [`Conf::diags`].
pub fn read(cli: &Cli) -> Result<Conf, String> {
    let given = cli.config_file();
    let conf: PathBuf = given
        .cloned()
        .unwrap_or_else(|| kdump_conf::DEFAULT_PATH.into());
    let args = &cli.config;
    let debian = args.kdump_tools.clone().or_else(|| {
        (given.is_none()
            && args.sysconfig.is_none()
            && !conf.exists()
            && Path::new(kdump_conf::DEFAULT_KDUMP_TOOLS_PATH).exists())
        .then(|| kdump_conf::DEFAULT_KDUMP_TOOLS_PATH.into())
    });
    let mut diags = Vec::new();
    if let Some(path) = debian {
        let (plan, d) = kdump_conf::parse_kdump_tools(&read_text(&path)?);
        let name = path.display().to_string();
        diags.extend(d.into_iter().map(|d| (name.clone(), d)));
        let kernel = plan.kernel.clone();
        return Ok(Conf {
            plan,
            kernel,
            diags,
            main_file: name,
            sysconfig_file: None,
        });
    }
    let checked = kdump_conf::check(&read_text(&conf)?);
    let main_file = conf.display().to_string();
    let mut plan = kdump_conf::plan(&checked.config);
    diags.extend(
        checked
            .diagnostics
            .into_iter()
            .map(|d| (main_file.clone(), d)),
    );
    let sysconfig = args.sysconfig.clone().or_else(|| {
        [
            kdump_conf::DEFAULT_SYSCONFIG_PATH,
            kdump_conf::DEBIAN_SYSCONFIG_PATH,
        ]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .map(PathBuf::from)
    });
    let mut kernel = None;
    if let Some(sys) = &sysconfig {
        let (k, d) = kdump_conf::parse_sysconfig(&read_text(sys)?);
        let name = sys.display().to_string();
        diags.extend(d.into_iter().map(|d| (name.clone(), d)));
        plan.kernel = Some(k.clone());
        kernel = Some(k);
    }
    Ok(Conf {
        plan,
        kernel,
        diags,
        main_file,
        sysconfig_file: sysconfig,
    })
}

/// [`read`] for the commands that act on the configuration: problems are printed, and any
/// error refuses the command.
pub fn read_valid(cli: &Cli) -> Result<Conf, String> {
    let c = read(cli)?;
    c.report();
    match c.first_bad_file() {
        None => Ok(c),
        Some(f) => Err(format!("{f} has errors (see `kdump check`)")),
    }
}

/// `kdump check`.
pub fn check(cli: &Cli) -> ExitCode {
    let c = match read(cli) {
        Ok(c) => c,
        Err(e) => return crate::fail("check", e),
    };
    c.report();
    let (e, w) = c
        .diags
        .iter()
        .fold((0, 0), |(e, w), (_, d)| match d.severity {
            Severity::Error => (e + 1, w),
            Severity::Warning => (e, w + 1),
        });
    if c.is_valid() {
        println!("{}: valid ({w} warning(s))", c.main_file);
        ExitCode::SUCCESS
    } else {
        println!("{}: invalid ({e} error(s), {w} warning(s))", c.main_file);
        ExitCode::from(1)
    }
}

/// `kdump show`.
pub fn show(cli: &Cli, a: &ShowArgs) -> ExitCode {
    let c = match read(cli) {
        Ok(c) => c,
        Err(e) => return crate::fail("show", e),
    };
    c.report();
    if !c.is_valid() {
        return ExitCode::from(1);
    }
    if a.json {
        println!("{}", c.plan.to_json());
    } else {
        print!("{}", human(&c.plan));
    }
    ExitCode::SUCCESS
}

fn human(p: &Plan) -> String {
    let mut s = String::new();
    let mut line = |k: &str, v: &str| s.push_str(&format!("{k:<17}{v}\n"));
    let target = match &p.target {
        TargetPlan::Default => "the file system holding the dump path (no target set)".to_string(),
        TargetPlan::Raw { device } => format!("raw device {device}"),
        TargetPlan::Fs { fstype, device } => format!("{fstype} on {device}"),
        TargetPlan::Virtiofs { tag } => format!("virtiofs {tag}"),
        TargetPlan::Nfs { server, export } => format!("NFS {server}:{export}"),
        TargetPlan::Ssh { user, host, sshkey } => format!("ssh {user}@{host} (key {sshkey})"),
        TargetPlan::DracutMount {
            device,
            mount_point,
            fstype,
        } => format!("{fstype} on {device}, mounted by dracut at {mount_point}"),
        TargetPlan::Ftp { server, user } => {
            format!("FTP {server} as {}", user.as_deref().unwrap_or("anonymous"))
        }
    };
    line("source:", p.source);
    line("target:", &target);
    if let Some(dir) = &p.dump_dir {
        let dir = if p.host == kdump_conf::HostTag::None {
            dir.clone()
        } else {
            format!("{dir}  ({{host}} = {})", p.host.describe())
        };
        line("dump directory:", &dir);
    }
    line("dump file:", &p.dump_file);
    let c = &p.collector;
    line(
        "collector:",
        &format!(
            "{}{}",
            c.argv.join(" "),
            if c.is_default { "  (default)" } else { "" }
        ),
    );
    line("  runs as:", &c.invocation);
    if c.adds_num_threads {
        line(
            "  threads:",
            "--num-threads=$(nproc) added when the capture system has more than one CPU",
        );
    }
    line("failure action:", &p.failure_action.to_string());
    line("final action:", &p.final_action.to_string());
    for (k, v) in [
        ("kdump_pre:", &p.hooks.pre),
        ("kdump_post:", &p.hooks.post),
        ("kdump_emergency:", &p.hooks.emergency),
    ] {
        if let Some(v) = v {
            line(k, v);
        }
    }
    if !p.extra_bins.is_empty() {
        line("extra_bins:", &p.extra_bins.join(" "));
    }
    if !p.extra_modules.is_empty() {
        line("extra_modules:", &p.extra_modules.join(" "));
    }
    if let Some(d) = &p.dracut_args {
        line("dracut_args:", d);
    }
    if let Some(f) = &p.fence_kdump {
        line("fence_kdump:", &f.nodes.join(" "));
    }
    line("initramfs:", &format!("rebuild {}", p.initramfs_rebuild));
    if let Some(k) = &p.kernel {
        if let Some(e) = k.enabled {
            line("enabled:", if e { "yes" } else { "no (USE_KDUMP)" });
        }
        if let Some(v) = &k.kernel {
            line("kernel:", v);
        }
        if let Some(v) = &k.initrd {
            line("initrd:", v);
        }
        if let Some(v) = &k.commandline {
            line("cmdline:", v);
        }
        if !k.commandline_append.is_empty() {
            line("cmdline append:", &k.commandline_append.join(" "));
        }
        if !k.commandline_remove.is_empty() {
            line("cmdline remove:", &k.commandline_remove.join(" "));
        }
        if !k.kexec_args.is_empty() {
            line("kexec args:", &k.kexec_args.join(" "));
        }
    }
    s
}
