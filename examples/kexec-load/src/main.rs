//! `kexec-load`: load and boot Linux kernels with kexec-tools' options, over the kexec-image
//! crate. This file only turns flags into library calls and exit codes.

use kdump_cli::kexec_load::usage;
use kexec_image::{
    crash, machine, plan, state, sys, HostSystem, LoadRequest, PanicInputs, RootedSystem,
    SystemView,
};
use std::process::ExitCode;

#[derive(Debug, Default)]
struct Opts {
    load: bool,
    panic: bool,
    exec: bool,
    force: bool,
    unload: bool,
    status: bool,
    syscall: Option<char>,
    kind: Option<String>,
    initrd: Option<String>,
    append: Option<String>,
    reuse: bool,
    debug: bool,
    dry_run: bool,
    sysroot: Option<String>,
    no_backup: bool,
    corrupt_digest: bool,
    kernel: Option<String>,
}

fn parse(args: &[String]) -> Result<Option<Opts>, String> {
    let mut o = Opts::default();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (a, None),
        };
        let value = |i: &mut usize| -> Result<String, String> {
            if let Some(v) = inline.clone() {
                return Ok(v);
            }
            *i += 1;
            args.get(*i)
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match name {
            "-h" | "--help" => return Ok(None),
            "-V" | "--version" => {
                out(&format!("kexec-load {}\n", env!("CARGO_PKG_VERSION")));
                std::process::exit(0);
            }
            "-l" | "--load" => o.load = true,
            "-p" | "--load-panic" => o.panic = true,
            "-e" | "--exec" => o.exec = true,
            "-f" | "--force" => o.force = true,
            "-u" | "--unload" => o.unload = true,
            "-S" | "--status" => o.status = true,
            "-s" | "--kexec-file-syscall" => o.syscall = Some('s'),
            "-c" | "--kexec-syscall" => o.syscall = Some('c'),
            "-a" | "--kexec-syscall-auto" => o.syscall = Some('a'),
            "-d" | "--debug" => o.debug = true,
            "--dry-run" => o.dry_run = true,
            "--reuse-cmdline" => o.reuse = true,
            "--no-backup" => o.no_backup = true,
            "--corrupt-digest-for-testing" => o.corrupt_digest = true,
            "-t" | "--type" => o.kind = Some(value(&mut i)?),
            "--initrd" | "--ramdisk" => o.initrd = Some(value(&mut i)?),
            "--append" | "--command-line" => o.append = Some(value(&mut i)?),
            "--sysroot" | "--memmap-from" => o.sysroot = Some(value(&mut i)?),
            s if s.starts_with('-') && s.len() > 1 => return Err(format!("unknown option {s}")),
            _ => {
                if o.kernel.replace(a.to_string()).is_some() {
                    return Err("more than one kernel given".into());
                }
            }
        }
        i += 1;
    }
    Ok(Some(o))
}

/// Write to stdout; a closed pipe (`| head`) is not worth a panic.
fn out(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().write_all(text.as_bytes());
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("kexec-load: {msg}");
    ExitCode::from(1)
}

fn read_file(path: &str, what: &str) -> Result<Vec<u8>, String> {
    // Kernels and initrds of several hundred MiB exist; refuse absurd sizes before reading.
    let len = std::fs::metadata(path)
        .map_err(|e| format!("{what} {path}: {e}"))?
        .len();
    if len > 4 << 30 {
        return Err(format!("{what} {path}: {len} bytes is larger than 4 GiB"));
    }
    std::fs::read(path).map_err(|e| format!("{what} {path}: {e}"))
}

fn command_line(o: &Opts, view: &dyn SystemView) -> String {
    let mut parts = Vec::new();
    if o.reuse {
        if let Ok(c) = view.read_text("/proc/cmdline") {
            parts.push(machine::reusable_cmdline(&c));
        }
    }
    if let Some(a) = &o.append {
        parts.push(a.clone());
    }
    parts.join(" ").trim().to_string()
}

fn load(o: &Opts, view: &dyn SystemView) -> Result<(), String> {
    let kpath = o.kernel.as_deref().ok_or("no kernel given")?;
    let kernel = read_file(kpath, "kernel")?;
    let initrd = o
        .initrd
        .as_deref()
        .map(|p| read_file(p, "initrd"))
        .transpose()?;
    let cmdline = command_line(o, view);
    let mode = o.syscall.unwrap_or('a');

    if mode == 's' || mode == 'a' && !o.dry_run {
        let kf = std::fs::File::open(kpath).map_err(|e| format!("kernel {kpath}: {e}"))?;
        let rf = o
            .initrd
            .as_deref()
            .map(std::fs::File::open)
            .transpose()
            .map_err(|e| format!("initrd: {e}"))?;
        let flags = if o.panic { sys::KEXEC_FILE_ON_CRASH } else { 0 };
        if o.debug || o.dry_run {
            eprintln!("kexec_file_load: kernel {kpath}, initrd {:?}, command line {cmdline:?}, flags {flags:#x}", o.initrd);
        }
        if !o.dry_run {
            match sys::kexec_file_load(Some(&kf), rf.as_ref(), &cmdline, flags) {
                Ok(()) => return Ok(()),
                Err(e) if mode == 's' => return Err(e.to_string()),
                Err(kexec_image::Error::Refused(r)) => return Err(r.to_string()),
                Err(e) => eprintln!("kexec-load: {e}; falling back to kexec_load"),
            }
        }
    }

    let t = plan::probe(&kernel, o.kind.as_deref()).map_err(|e| e.to_string())?;
    let m = machine::read(view).map_err(|e| e.to_string())?;
    let mut req = LoadRequest::new(&kernel, cmdline);
    req.initrd = initrd.as_deref();
    req.memory = m.memory;
    req.acpi_rsdp = m.acpi_rsdp;
    req.running = m.running;
    req.corrupt_digest = o.corrupt_digest;
    if o.panic {
        let core = crash::gather(view).map_err(|e| e.to_string())?;
        req.panic = Some(PanicInputs {
            core,
            backup: !o.no_backup,
        });
    }
    let started = std::time::Instant::now();
    let p = (t.load)(&req).map_err(|e| e.to_string())?;
    if o.debug || o.dry_run {
        out(&format!(
            "image type {}; planned in {:.1} ms\n{}",
            t.name,
            started.elapsed().as_secs_f64() * 1e3,
            p.describe()
        ));
    }
    if o.dry_run {
        return Ok(());
    }
    sys::kexec_load(&p, o.panic).map_err(|e| e.to_string())
}

fn run(o: &Opts) -> Result<ExitCode, String> {
    let host = HostSystem;
    let rooted = o.sysroot.as_ref().map(|d| RootedSystem { root: d.into() });
    let view: &dyn SystemView = match &rooted {
        Some(r) => r,
        None => &host,
    };
    if o.status {
        let s = state::read(&HostSystem).map_err(|e| e.to_string())?;
        let loaded = if o.panic { s.crash_loaded } else { s.loaded };
        out(&format!(
            "kexec_loaded {} kexec_crash_loaded {} kexec_crash_size {}\n",
            s.loaded as u8, s.crash_loaded as u8, s.crash_size
        ));
        return Ok(ExitCode::from(if loaded { 0 } else { 1 }));
    }
    if o.unload {
        let panic_flag = if o.panic { sys::KEXEC_FILE_ON_CRASH } else { 0 };
        if o.dry_run {
            out(&format!(
                "would unload the {} kernel\n",
                if o.panic { "panic" } else { "kexec" }
            ));
            return Ok(ExitCode::SUCCESS);
        }
        let r = match o.syscall.unwrap_or('a') {
            'c' => sys::kexec_load_unload(o.panic),
            's' => sys::kexec_file_load(None, None, "", sys::KEXEC_FILE_UNLOAD | panic_flag),
            _ => sys::kexec_file_load(None, None, "", sys::KEXEC_FILE_UNLOAD | panic_flag).or_else(
                |e| match e {
                    kexec_image::Error::Refused(_) => Err(e),
                    _ => sys::kexec_load_unload(o.panic),
                },
            ),
        };
        r.map_err(|e| e.to_string())?;
        return Ok(ExitCode::SUCCESS);
    }
    if o.load || o.panic || (o.force && o.kernel.is_some()) || (o.dry_run && o.kernel.is_some()) {
        load(o, view)?;
    }
    if (o.exec || o.force) && !o.panic && !o.dry_run {
        let s = state::read(&HostSystem).map_err(|e| e.to_string())?;
        if !s.loaded {
            return Err("no kernel is loaded (use -l first)".into());
        }
        sys::reboot_into_loaded().map_err(|e| e.to_string())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let o = match parse(&args) {
        Ok(Some(o)) => o,
        Ok(None) => {
            out(&usage());
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprint!("kexec-load: {e}\n{}", usage());
            return ExitCode::from(2);
        }
    };
    if !(o.load || o.panic || o.exec || o.force || o.unload || o.status || o.dry_run) {
        eprint!(
            "kexec-load: nothing to do: give -l, -p, -e, -f, -u, -S or --dry-run\n{}",
            usage()
        );
        return ExitCode::from(2);
    }
    match run(&o) {
        Ok(c) => c,
        Err(e) => fail(e),
    }
}
