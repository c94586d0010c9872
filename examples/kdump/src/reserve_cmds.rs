//! `kdump status`, `showmem`, `estimate`, `get-default-crashkernel`, `reset-crashkernel` and
//! `install-service`.

use kdump_cli::kdump::{
    DefaultCrashkernelArgs, EstimateArgs, ImageArgs, InstallArgs, ResetArgs, RootArg,
};
use kdump_service::bootloader;
use kdump_service::crashkernel::{format_mib, format_size, Crashkernel, ParseError, MIB};
use kdump_service::estimate::{self, EstimateInput};
use kdump_service::service::{self, ServiceKind};
use kdump_service::status::Status;
use kdump_service::sysinfo::{choose_images, SysRoot};
use std::path::PathBuf;
use std::process::ExitCode;

fn root_of(r: &RootArg) -> SysRoot {
    r.root.as_ref().map(SysRoot::new).unwrap_or_default()
}

fn show_parse_error(what: &str, text: &str, e: &ParseError) {
    eprintln!("kdump: {what}: {e}");
    eprintln!("  {text}");
    eprintln!("  {}^", " ".repeat(e.column.saturating_sub(1)));
}

/// `kdump status`: kdumpctl's verdict ("Kdump is operational", exit 0, when a capture kernel
/// is loaded; "Kdump is not operational", exit 3, when not), then the details.
pub fn status(cli: &kdump_cli::kdump::Cli, a: &ImageArgs) -> ExitCode {
    let root = root_of(&a.root);
    match Status::gather(
        &root,
        a.images.kernel.as_deref(),
        a.images.initrd.as_deref(),
    ) {
        Ok(st) => {
            let operational = st.loaded == Some(true);
            if operational {
                println!("Kdump is operational");
            } else {
                println!("Kdump is not operational");
            }
            println!();
            print!("{st}");
            if a.root.root.is_none() && a.images.initrd.is_none() {
                if let Some(line) = crate::initrd_cmds::image_status(cli) {
                    println!("{line}");
                }
            }
            ExitCode::from(if operational { 0 } else { 3 })
        }
        Err(e) => {
            eprintln!("kdump status: {e}");
            ExitCode::from(1)
        }
    }
}

/// `kdump showmem`: the reservation as kdumpctl prints it.
pub fn showmem(a: &RootArg) -> ExitCode {
    match root_of(a).kexec_crash_size() {
        Ok(Some(size)) => {
            println!("Reserved {}MB memory for crash kernel", size / MIB);
            ExitCode::SUCCESS
        }
        Ok(None) => {
            eprintln!("kdump showmem: /sys/kernel/kexec_crash_size is absent: this kernel has no kexec support");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("kdump showmem: {e}");
            ExitCode::from(1)
        }
    }
}

/// `kdump get-default-crashkernel`: kdump-utils' default crashkernel= value.
pub fn get_default_crashkernel(a: &DefaultCrashkernelArgs) -> ExitCode {
    println!("{}", estimate::kdump_utils_default_param(a.sme_sev));
    ExitCode::SUCCESS
}

/// `kdump estimate`.
pub fn estimate(o: &EstimateArgs) -> ExitCode {
    let root = root_of(&o.system.root);
    let run = || -> Result<(), String> {
        let iomem = root.iomem().map_err(|e| e.to_string())?;
        let system_ram = iomem.system_ram();
        let images = choose_images(
            &root,
            o.system.images.kernel.as_deref(),
            o.system.images.initrd.as_deref(),
        )
        .map_err(|e| e.to_string())?;
        let kernel = estimate::kernel_image(&root, &images.kernel).map_err(|e| e.to_string())?;
        let initrd = match &images.initrd {
            Some(p) => estimate::initrd_image(&root, p).map_err(|e| e.to_string())?,
            None => None,
        };
        let est = estimate::estimate(&EstimateInput {
            system_ram,
            kernel,
            initrd,
        });
        if o.value {
            println!("{}", format_size(est.total));
            return Ok(());
        }
        println!(
            "Estimate for {} of RAM (kernel compares {} after rounding up to 128 MiB)",
            format_mib(system_ram),
            format_mib(kdump_service::crashkernel::round_up(
                system_ram,
                kdump_service::crashkernel::RAM_ROUNDING
            ))
        );
        for p in &est.parts {
            println!("  {:<28} {:>12}   {}", p.name, format_mib(p.bytes), p.note);
        }
        println!(
            "  {:<28} {:>12}   -> crashkernel={}",
            "total (rounded to 16 MiB)",
            format_mib(est.total),
            format_size(est.total)
        );
        println!();
        let ku = estimate::kdump_utils_default(system_ram, o.sme_sev);
        let old = estimate::table_size(estimate::KEXEC_TOOLS_X86_64_OLD, system_ram).unwrap_or(0);
        println!("  {:<56} {:>12}", "side by side", "this machine");
        println!(
            "  {:<56} {:>12}",
            "kdump estimate (above)",
            format_size(est.total)
        );
        println!(
            "  {:<56} {:>12}",
            format!(
                "kdump-utils default {}",
                estimate::kdump_utils_default_param(o.sme_sev)
            ),
            if ku == 0 {
                "none".to_string()
            } else {
                format_size(ku)
            }
        );
        println!(
            "  {:<56} {:>12}",
            format!(
                "old kexec-tools default {}",
                estimate::KEXEC_TOOLS_X86_64_OLD
            ),
            if old == 0 {
                "none".to_string()
            } else {
                format_size(old)
            }
        );
        match root.kexec_crash_size() {
            Ok(Some(r)) => println!("  {:<56} {:>12}", "reserved now", format_size(r)),
            _ => println!("  {:<56} {:>12}", "reserved now", "unknown"),
        }
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kdump estimate: {e}");
            ExitCode::from(1)
        }
    }
}

/// `kdump reset-crashkernel [--size S] [--apply]`.
pub fn reset_crashkernel(o: &ResetArgs) -> ExitCode {
    let root = root_of(&o.root);
    let value = match &o.size {
        Some(s) => match Crashkernel::parse(s) {
            Ok(ck) => ck,
            Err(e) => {
                show_parse_error("--size", s, &e);
                return ExitCode::from(2);
            }
        },
        None => estimate::kdump_utils_default_param(o.sme_sev),
    };
    if matches!(value, Crashkernel::Low(_) | Crashkernel::Cma(_)) {
        eprintln!("kdump reset-crashkernel: `{value}` only accompanies a main crashkernel= value; give SIZE, SIZE@OFFSET, ranges or SIZE,high");
        return ExitCode::from(2);
    }
    println!(
        "setting crashkernel={value}{}",
        if o.size.is_none() {
            " (kdump-utils' default table)"
        } else {
            ""
        }
    );
    if let Ok(io) = root.iomem() {
        let ram = io.system_ram();
        match value.select(ram) {
            Ok(sel) => println!(
                "on this machine ({}) it reserves {}",
                format_mib(ram),
                format_size(sel.size)
            ),
            Err(e) => println!(
                "warning: on this machine ({}) it reserves nothing: {e}",
                format_mib(ram)
            ),
        }
    }
    let changes = match bootloader::plan(&root, &value) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kdump reset-crashkernel: {e}");
            return ExitCode::from(1);
        }
    };
    let mut any = false;
    for c in &changes {
        if c.changes() {
            any = true;
            print!("{}", c.diff());
        } else {
            println!("{}: already set, unchanged", c.path.display());
        }
    }
    if !o.apply {
        if any {
            println!("dry run: nothing was changed; run again with --apply to write these files");
        }
        return ExitCode::SUCCESS;
    }
    match bootloader::apply(&root, &changes) {
        Ok(done) => {
            let mut followups = Vec::new();
            for (a, c) in done.iter().zip(&changes) {
                if let Some(b) = &a.backup {
                    println!(
                        "wrote {} (previous content in {})",
                        a.path.display(),
                        b.display()
                    );
                    if let Some(cmd) = c.kind.followup(&root) {
                        if !followups.contains(&cmd) {
                            followups.push(cmd);
                        }
                    }
                }
            }
            for cmd in &followups {
                println!("now run: {cmd}");
            }
            if any {
                println!("the new reservation takes effect at the next boot");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kdump reset-crashkernel: {e}");
            ExitCode::from(1)
        }
    }
}

/// `kdump install-service [--root DIR] [--sysv]`.
pub fn install_service(o: &InstallArgs) -> ExitCode {
    let root = o.root.clone().unwrap_or_else(|| PathBuf::from("/"));
    let kind = if o.sysv {
        ServiceKind::SysV
    } else {
        ServiceKind::Systemd
    };
    match service::install(&root, kind) {
        Ok(done) => {
            println!(
                "{} {} (mode {:o}){}",
                if done.written { "wrote" } else { "unchanged:" },
                done.path.display(),
                done.mode,
                if root != std::path::Path::new("/") {
                    format!(" under {}", root.display())
                } else {
                    String::new()
                }
            );
            println!(
                "it runs {} load on start and {} unload on stop",
                service::KDUMP_BIN,
                service::KDUMP_BIN
            );
            println!("enable it with: {}", done.enable);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kdump install-service: {e}");
            ExitCode::from(1)
        }
    }
}
