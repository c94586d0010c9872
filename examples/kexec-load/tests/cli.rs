//! The binary on the host: --dry-run over a synthetic /proc + /sys tree (no system call).

use std::path::Path;
use std::process::Command;

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn sysroot(name: &str) -> std::path::PathBuf {
    let root = std::env::temp_dir().join(format!("kexec-load-cli-{name}-{}", std::process::id()));
    write(
        &root,
        "proc/iomem",
        "00000000-00000fff : Reserved\n00001000-0009fbff : System RAM\n000f0000-000fffff : Reserved\n\
         00100000-3ffdffff : System RAM\n  0b000000-16ffffff : Crash kernel\n  31a00000-32601fff : Kernel code\n\
         3ffe0000-3fffffff : Reserved\n",
    );
    for (i, (s, e, t)) in [
        ("0x0", "0x9fbff", "System RAM"),
        ("0x100000", "0x3ffdffff", "System RAM"),
        ("0x3ffe0000", "0x3fffffff", "Reserved"),
    ]
    .into_iter()
    .enumerate()
    {
        write(&root, &format!("sys/firmware/memmap/{i}/start"), s);
        write(&root, &format!("sys/firmware/memmap/{i}/end"), e);
        write(&root, &format!("sys/firmware/memmap/{i}/type"), t);
    }
    write(
        &root,
        "sys/devices/system/cpu/cpu0/crash_notes",
        "3fc10000\n",
    );
    write(
        &root,
        "sys/devices/system/cpu/cpu0/crash_notes_size",
        "424\n",
    );
    write(&root, "sys/kernel/vmcoreinfo", "3ee2b000 1024\n");
    write(&root, "proc/kallsyms", "ffffffff9a200000 T _text\n");
    root
}

fn kernel(root: &Path) -> std::path::PathBuf {
    // 1 setup sector, protocol 2.15, 64-bit entry, relocatable; 1 MiB init_size.
    let v = kexec_image::synthetic_bzimage(8192, 0x10_0000);
    let p = root.join("bzImage");
    std::fs::write(&p, v).unwrap();
    p
}

fn run(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_kexec-load"))
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn dry_run_load_and_panic() {
    let root = sysroot("dry");
    let k = kernel(&root);
    let (r, s, d) = (root.to_str().unwrap(), k.to_str().unwrap(), "--dry-run");
    let (code, out, err) = run(&[d, "-l", "--sysroot", r, s, "--append", "console=ttyS0"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("image type bzImage64")
            && out.contains("Purgatory")
            && out.contains("command line: console=ttyS0"),
        "{out}"
    );
    let (code, out, err) = run(&[d, "-p", "--sysroot", r, s, "--append", "irqpoll"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("ElfCoreHeader")
            && out.contains("elfcorehdr=")
            && out.contains("backup 0x1000+0x9ec00"),
        "{out}"
    );
    // Every segment of the panic kernel lies in the crash range 0x0b000000-0x16ffffff.
    for line in out.lines().filter(|l| l.starts_with("segment[")) {
        let mem = line
            .split("mem=")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap();
        let mem = u64::from_str_radix(mem.trim_start_matches("0x"), 16).unwrap();
        assert!((0x0b00_0000..0x1700_0000).contains(&mem), "{line}");
    }
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn clear_errors() {
    let root = sysroot("err");
    let k = kernel(&root);
    let r = root.to_str().unwrap();
    write(&root, "proc/iomem", "00100000-3ffdffff : System RAM\n");
    let (code, _, err) = run(&["--dry-run", "-p", "--sysroot", r, k.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("no crash kernel memory reserved"), "{err}");
    let junk = root.join("junk");
    std::fs::write(&junk, b"not a kernel at all").unwrap();
    let (code, _, err) = run(&["--dry-run", "-l", "--sysroot", r, junk.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.contains("cannot determine the kernel image type"),
        "{err}"
    );
    let (code, _, err) = run(&["--bogus"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(&[]);
    assert_eq!(code, 2, "{err}");
    // Under cargo test, the guard refuses the real system calls before they happen.
    let (code, _, err) = run(&["-c", "-l", "--sysroot", r, k.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("refusing kexec_load"), "{err}");
    let _ = std::fs::remove_dir_all(&root);
}
