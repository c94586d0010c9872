//! `kdump`: read kdump.conf, load the capture kernel, and in the capture kernel save the dump.
//!
//! Subcommands are dispatched here; each lives in its own module and only parses its
//! arguments and calls the crates.

use std::process::ExitCode;

mod conf_cmds;
mod dump_cmds;
mod reserve_cmds;

const USAGE: &str = "usage: kdump <check|show|load|unload|status|save|propagate|estimate|reset-crashkernel|install-service> [options]
  check [--config FILE]            validate kdump.conf (exit 0 valid, 1 invalid)
  show  [--config FILE] [--json]   print the dump plan
  load  [--config FILE] [--kernel F] [--initrd F] [--dry-run]   load the capture kernel
  unload                           unload it
  save  [--config FILE] [--vmcore F] [--no-action]   (capture kernel) save the dump
  propagate [--config FILE]        install the ssh key on the ssh target
  (each command's --help lists all of its options)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let rest = &args[1..];
    match cmd.as_str() {
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        "check" => conf_cmds::check(rest),
        "show" => conf_cmds::show(rest),
        "estimate" => reserve_cmds::estimate(rest),
        "reset-crashkernel" => reserve_cmds::reset_crashkernel(rest),
        "install-service" => reserve_cmds::install_service(rest),
        "status" => reserve_cmds::status(rest),
        "load" => dump_cmds::load(rest),
        "unload" => dump_cmds::unload(rest),
        "save" => dump_cmds::save(rest),
        "propagate" => dump_cmds::propagate(rest),
        other => {
            eprintln!("kdump: unknown command `{other}`\n{USAGE}");
            ExitCode::from(2)
        }
    }
}
