//! `kdump`'s command line: every subcommand on one clap parser.
//!
//! Adding a subcommand is one variant of [`Command`] (with its arguments struct, if any) here
//! and one function in the binary's dispatch; `--help`, kdump(8) and the bash completion
//! follow from the variant's doc comments and attributes.
//!
//! Options that mean the same thing are spelled the same way everywhere: the configuration
//! files are global options (`--config`, `--sysconfig`, `--kdump-tools`, before or after the
//! subcommand), `--root DIR` reads /proc, /sys and /boot under DIR, `--kernel`/`--initrd` name
//! the capture kernel's images, and `load`'s system-call choice takes kexec(8)'s letters.

use clap::{ArgGroup, Args, CommandFactory, Parser, Subcommand};
use std::path::PathBuf;

/// What `kdump` was asked to do.
#[derive(Debug, Parser)]
#[command(
    name = "kdump",
    version,
    about = "Configure, load and test kdump; in the capture kernel, save the dump",
    long_about = "kdump reads kdump.conf (or Debian's /etc/default/kdump-tools), loads the capture \
kernel into the memory reserved with crashkernel=, and, in the capture kernel, saves /proc/vmcore \
to the configured target with makedumpfile's filtering and compression done in-process. Its \
commands are kdumpctl's (start, stop, restart, status, propagate, showmem, estimate, \
get-default-crashkernel, reset-crashkernel, test) plus check, show, load, unload, save and \
install-service.",
    arg_required_else_help = true,
    propagate_version = true
)]
pub struct Cli {
    /// The configuration files, shared by every subcommand.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// The configuration files (global options: before or after the subcommand).
#[derive(Debug, Clone, Default, Args)]
pub struct ConfigArgs {
    /// kdump.conf to read [default: /etc/kdump.conf; when it is absent and
    /// /etc/default/kdump-tools exists, that file]
    #[arg(long, global = true, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub config: Option<PathBuf>,
    /// kdump-utils' capture kernel settings [default: /etc/sysconfig/kdump when it exists]
    #[arg(long, global = true, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub sysconfig: Option<PathBuf>,
    /// Debian's /etc/default/kdump-tools, read instead of kdump.conf and the sysconfig file
    #[arg(
        long = "kdump-tools",
        global = true,
        value_name = "FILE",
        value_hint = clap::ValueHint::FilePath,
        conflicts_with_all = ["config", "sysconfig"]
    )]
    pub kdump_tools: Option<PathBuf>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the configuration (exit 0 valid, warnings allowed; 1 invalid or unreadable)
    Check(CheckArgs),
    /// Print what kdump will do: target, dump directory, collector, actions
    Show(ShowArgs),
    /// Check the configuration and load the capture kernel (kdumpctl start); exits 0 when one
    /// is already loaded
    Start(LoadArgs),
    /// Unload the capture kernel (kdumpctl stop)
    Stop,
    /// Unload, then start again (kdumpctl restart)
    Restart(LoadArgs),
    /// Whether kdump is operational (exit 0) or not (exit 3), then the reservation, the images
    /// and whether they fit
    Status(ImageArgs),
    /// Load the capture kernel (the step `start` runs, without its already-loaded check)
    Load(LoadArgs),
    /// Unload the capture kernel
    Unload,
    /// In the capture kernel: save /proc/vmcore to the target, then run final_action (or
    /// failure_action)
    Save(SaveArgs),
    /// Create the ssh key if needed and install it on the ssh target
    Propagate(SshArgs),
    /// Print the memory reserved for the crash kernel, as kdumpctl showmem does
    Showmem(RootArg),
    /// Estimate the crashkernel= size this machine needs, beside kdump-utils' default
    Estimate(EstimateArgs),
    /// Print kdump-utils' default crashkernel= value for this architecture
    GetDefaultCrashkernel(DefaultCrashkernelArgs),
    /// Set crashkernel= in the boot loader configuration (a dry run unless --apply)
    ResetCrashkernel(ResetArgs),
    /// Write the systemd unit (or SysV init script) that runs `kdump load` at boot
    InstallService(InstallArgs),
    /// Crash the machine with sysrq-c to test kdump (asks first unless --yes); refused unless
    /// a capture kernel is loaded
    Test(TestArgs),
    /// Build our capture initramfs (kdump as its init, the target's drivers, kdump.conf);
    /// `load` and `start` rebuild it by themselves when an input changed
    #[command(visible_alias = "rebuild")]
    BuildInitrd(BuildInitrdArgs),
    /// The capture kernel's PID 1 in our initramfs (run as /init): mount, load the modules,
    /// wait for the target, save the dump, then final_action; never exits
    Init,
}

/// `kdump build-initrd`.
#[derive(Debug, Clone, Default, Args)]
pub struct BuildInitrdArgs {
    /// The capture kernel's release [default: the settings' KDUMP_KERNELVER, else the
    /// running kernel's]
    #[arg(long, value_name = "VERSION")]
    pub kernel_version: Option<String>,
    /// Where to write the image [default: /var/lib/kdump/initramfs-VERSIONkdump.img]
    #[arg(short = 'o', long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub output: Option<PathBuf>,
    /// Also list what went into the image and why
    #[arg(long)]
    pub list: bool,
    /// Only say whether the image is current (exit 0) or stale (exit 1); build nothing
    #[arg(long, conflicts_with_all = ["list", "output"])]
    pub check: bool,
}

/// `kdump check`.
#[derive(Debug, Clone, Default, Args)]
pub struct CheckArgs {
    /// The old spelling of --config, kept for scripts (check and show only)
    #[arg(
        short = 'c',
        value_name = "FILE",
        hide = true,
        conflicts_with = "config"
    )]
    pub config_short: Option<PathBuf>,
}

/// `kdump show`.
#[derive(Debug, Clone, Default, Args)]
pub struct ShowArgs {
    /// Print the plan as JSON
    #[arg(long)]
    pub json: bool,
    /// The old spelling of --config, kept for scripts (check and show only)
    #[arg(
        short = 'c',
        value_name = "FILE",
        hide = true,
        conflicts_with = "config"
    )]
    pub config_short: Option<PathBuf>,
}

/// Which kexec system call `load` uses: kexec(8)'s -s, -c and -a.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Syscall {
    /// kexec_file_load(2), falling back to kexec_load(2) (the default).
    #[default]
    Auto,
    /// kexec_file_load(2) only.
    FileLoad,
    /// kexec_load(2) only, with our own purgatory.
    KexecLoad,
}

/// The capture kernel's images (`--kernel`, `--initrd`).
#[derive(Debug, Clone, Default, Args)]
pub struct Images {
    /// The capture kernel [default: from the settings, else the running kernel's
    /// /boot/vmlinuz-VERSION]
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub kernel: Option<PathBuf>,
    /// Its initrd [default: from the settings, else the kdump initrd or the running kernel's]
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub initrd: Option<PathBuf>,
}

/// `kdump load`, `start`, `restart`.
#[derive(Debug, Clone, Default, Args)]
#[command(group(ArgGroup::new("syscall").args(["file_load", "kexec_load", "auto"])))]
pub struct LoadArgs {
    /// The images.
    #[command(flatten)]
    pub images: Images,
    /// Load no initrd
    #[arg(long, conflicts_with = "initrd")]
    pub no_initrd: bool,
    /// Use kexec_file_load(2) only (kexec -s)
    #[arg(short = 's', long = "kexec-file-syscall", visible_alias = "file-load")]
    pub file_load: bool,
    /// Use kexec_load(2) only, with our own purgatory (kexec -c)
    #[arg(short = 'c', long = "kexec-syscall", visible_alias = "kexec-load")]
    pub kexec_load: bool,
    /// kexec_file_load(2), falling back to kexec_load(2) (kexec -a; the default)
    #[arg(short = 'a', long = "kexec-syscall-auto")]
    pub auto: bool,
    /// Build the segments and print them; no system call
    #[arg(long)]
    pub dry_run: bool,
}

impl LoadArgs {
    /// The system call chosen.
    pub fn syscall(&self) -> Syscall {
        if self.file_load {
            Syscall::FileLoad
        } else if self.kexec_load {
            Syscall::KexecLoad
        } else {
            Syscall::Auto
        }
    }
}

/// `--root DIR`.
#[derive(Debug, Clone, Default, Args)]
pub struct RootArg {
    /// Read /proc, /sys and /boot under DIR instead of / (a copy of them)
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub root: Option<PathBuf>,
}

/// `kdump status`.
#[derive(Debug, Clone, Default, Args)]
pub struct ImageArgs {
    /// Where to read the system.
    #[command(flatten)]
    pub root: RootArg,
    /// The images to judge.
    #[command(flatten)]
    pub images: Images,
}

/// `kdump save`.
#[derive(Debug, Clone, Default, Args)]
pub struct SaveArgs {
    /// The dump to save
    #[arg(long, value_name = "FILE", default_value = "/proc/vmcore", value_hint = clap::ValueHint::FilePath)]
    pub vmcore: PathBuf,
    /// Use DIR as the already mounted target (nothing is mounted)
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub target_root: Option<PathBuf>,
    /// Where to mount the target [default: /kdumproot]
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub mount_dir: Option<PathBuf>,
    /// Where the root file system is mounted (for dump_to_rootfs and the default target)
    /// [default: /sysroot]
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub rootfs: Option<PathBuf>,
    /// The host part of the dump directory's name [default: 127.0.0.1 for local targets, the
    /// address on the route to the server for ssh and nfs]
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    /// A block device to search for LABEL= and UUID= (repeatable) [default: every device of
    /// /sys/class/block]
    #[arg(long = "device", value_name = "DEV", value_hint = clap::ValueHint::FilePath)]
    pub devices: Vec<PathBuf>,
    /// The ssh options.
    #[command(flatten)]
    pub ssh: SshArgs,
    /// Options for mounting the NFS target
    #[arg(long, value_name = "OPTS")]
    pub nfs_options: Option<String>,
    /// Do not save vmcore-dmesg.txt
    #[arg(long)]
    pub no_dmesg: bool,
    /// Do not run final_action or failure_action (exit with the result instead)
    #[arg(long)]
    pub no_action: bool,
}

/// `--ssh-option` (save and propagate).
#[derive(Debug, Clone, Default, Args)]
pub struct SshArgs {
    /// An option for ssh, as for ssh -o (repeatable)
    #[arg(long = "ssh-option", value_name = "OPT")]
    pub ssh_options: Vec<String>,
}

/// `kdump estimate`.
#[derive(Debug, Clone, Default, Args)]
pub struct EstimateArgs {
    /// Where to read the system, and the images.
    #[command(flatten)]
    pub system: ImageArgs,
    /// AMD SME/SEV is active (kdump-utils adds 64 MiB)
    #[arg(long)]
    pub sme_sev: bool,
    /// Print only the estimated size
    #[arg(long)]
    pub value: bool,
}

/// `kdump get-default-crashkernel`.
#[derive(Debug, Clone, Default, Args)]
pub struct DefaultCrashkernelArgs {
    /// AMD SME/SEV is active (kdump-utils adds 64 MiB to every range)
    #[arg(long)]
    pub sme_sev: bool,
    /// The dump mode, as kdumpctl takes it (only kdump exists on x86_64)
    #[arg(value_name = "MODE", value_parser = ["kdump"])]
    pub mode: Option<String>,
}

/// `kdump reset-crashkernel`.
#[derive(Debug, Clone, Default, Args)]
pub struct ResetArgs {
    /// The crashkernel= value [default: kdump-utils' default table]
    #[arg(long, value_name = "VALUE")]
    pub size: Option<String>,
    /// Write the files (otherwise print what would change)
    #[arg(long)]
    pub apply: bool,
    /// Where the system is.
    #[command(flatten)]
    pub root: RootArg,
    /// AMD SME/SEV is active (kdump-utils adds 64 MiB)
    #[arg(long)]
    pub sme_sev: bool,
}

/// `kdump install-service`.
#[derive(Debug, Clone, Default, Args)]
pub struct InstallArgs {
    /// Install under DIR instead of / (a root being prepared)
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub root: Option<PathBuf>,
    /// Write the SysV init script instead of the systemd unit
    #[arg(long)]
    pub sysv: bool,
}

/// `kdump test`.
#[derive(Debug, Clone, Default, Args)]
pub struct TestArgs {
    /// Do not ask for confirmation (kdumpctl test's --force is accepted too)
    #[arg(short = 'y', long, alias = "force")]
    pub yes: bool,
}

impl Cli {
    /// The file named by `-c` in check/show (the old spelling), else `--config`.
    pub fn config_file(&self) -> Option<&PathBuf> {
        let short = match &self.command {
            Command::Check(a) => a.config_short.as_ref(),
            Command::Show(a) => a.config_short.as_ref(),
            _ => None,
        };
        short.or(self.config.config.as_ref())
    }
}

/// The clap command (for man pages, completions and tests).
pub fn command() -> clap::Command {
    Cli::command()
}
