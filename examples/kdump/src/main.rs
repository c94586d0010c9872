//! `kdump`: read kdump.conf, load the capture kernel, and in the capture kernel save the dump.
//!
//! The command line is parsed once, by the clap definition in `kdump_cli::kdump` (which also
//! makes kdump(8) and the bash completion); each subcommand is one function in the module of
//! its kind. A new subcommand: one variant of `kdump_cli::kdump::Command`, one arm below.

use std::process::ExitCode;

use clap::Parser;
use kdump_cli::kdump::{Cli, Command};

mod conf_cmds;
mod dump_cmds;
mod initrd_cmds;
mod reserve_cmds;

/// Prints `kdump CMD: MSG` on stderr and returns exit status 1.
pub(crate) fn fail(cmd: &str, msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("kdump {cmd}: {msg}");
    ExitCode::from(1)
}

fn main() -> ExitCode {
    // The kernel runs our image's /init (a link to this binary) as PID 1 with argv[0] "/init"
    // and its own arguments: that is `kdump init`, whatever else the command line holds.
    if std::env::args_os()
        .next()
        .is_some_and(|a| std::path::Path::new(&a).file_name() == Some("init".as_ref()))
    {
        return initrd_cmds::init();
    }
    // Usage errors exit 2, --help and --version 0 (clap's convention and kdump's before it).
    let cli = Cli::parse();
    match &cli.command {
        Command::Check(_) => conf_cmds::check(&cli),
        Command::Show(a) => conf_cmds::show(&cli, a),
        Command::Start(a) => dump_cmds::start(&cli, a),
        Command::Stop => dump_cmds::stop(),
        Command::Restart(a) => dump_cmds::restart(&cli, a),
        Command::Status(a) => reserve_cmds::status(&cli, a),
        Command::Load(a) => dump_cmds::load(&cli, a),
        Command::Unload => dump_cmds::unload(),
        Command::Save(a) => dump_cmds::save(&cli, a),
        Command::Propagate(a) => dump_cmds::propagate(&cli, a),
        Command::Showmem(a) => reserve_cmds::showmem(a),
        Command::Estimate(a) => reserve_cmds::estimate(a),
        Command::GetDefaultCrashkernel(a) => reserve_cmds::get_default_crashkernel(a),
        Command::ResetCrashkernel(a) => reserve_cmds::reset_crashkernel(a),
        Command::InstallService(a) => reserve_cmds::install_service(a),
        Command::Test(a) => dump_cmds::test(a),
        Command::BuildInitrd(a) => initrd_cmds::build_initrd(&cli, a),
        Command::Init => initrd_cmds::init(),
    }
}
