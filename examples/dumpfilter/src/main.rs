//! `dumpfilter`: thin binary over the kdump-rs crates.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("dumpfilter: see the kdump-rs README");
        return ExitCode::SUCCESS;
    }
    eprintln!("dumpfilter: not implemented yet: {}", args.join(" "));
    ExitCode::from(2)
}
