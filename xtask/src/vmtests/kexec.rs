//! VM tests of `kexec-load` (issue 6): load and boot with -c and -s, unload with -u and -p -u,
//! a purgatory with a corrupted digest must not boot, and a panic kernel loaded by us must
//! capture a /proc/vmcore that makedumpfile can filter. Scenarios: xtask/guest/scenarios/kexec-*.sh.

use super::expect;
use crate::initramfs;
use crate::kernel::{Kernel, Series};
use crate::qemu::{Guest, GuestSpec};
use anyhow::{ensure, Result};
use std::time::{Duration, Instant};

fn spec(series: Series, name: &str, scenario: &str, append: String) -> Result<GuestSpec> {
    let k = Kernel::get(series)?;
    let mut spec = GuestSpec::new(&format!("{name}-{}", series.name()), &k, scenario);
    spec.append = append;
    spec.initramfs = initramfs::Spec {
        ours: true,
        kexec_payload: true,
        ..Default::default()
    };
    Ok(spec)
}

/// Seconds until the serial log holds `n` "Linux version" lines (the n-th kernel's first line).
fn wait_banner(g: &mut Guest, n: usize, timeout: Duration) -> Result<Option<f64>> {
    let t0 = Instant::now();
    while t0.elapsed() < timeout {
        if g.log().matches("Linux version").count() >= n {
            return Ok(Some(t0.elapsed().as_secs_f64()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(None)
}

/// Items 1, 2 and 4: `-l`/`-u`, `-p`/`-p -u`, then `-l` + `-e` boots the second kernel.
pub fn load_exec(series: Series, syscall: char) -> Result<()> {
    let s = spec(
        series,
        &format!("kexec-{syscall}"),
        "kexec-load",
        format!("crashkernel=160M kdumprs.kexec_syscall={syscall}"),
    )?;
    let abi = s.kernel.abi.clone();
    let mut g = Guest::boot(s)?;
    g.wait_for("KDUMPRS-KEXEC-EXEC", Duration::from_secs(300))?;
    let secs = wait_banner(&mut g, 2, Duration::from_secs(300))?
        .ok_or_else(|| g.fail("the second kernel never printed its banner"))?;
    super::finish(
        &mut g,
        "kexec-second",
        Duration::from_secs(300),
        Duration::from_secs(30),
    )?;
    for (k, v) in [
        ("first_load_rc", "0"),
        ("loaded_after_load", "1"),
        ("unload_rc", "0"),
        ("loaded_after_unload", "0"),
        ("panic_load_rc", "0"),
        ("crash_loaded_after_load", "1"),
        ("panic_unload_rc", "0"),
        ("crash_loaded_after_unload", "0"),
        ("load_rc", "0"),
        ("status_rc", "0"),
        ("second_kernel", abi.as_str()),
        ("second_kexec_loaded", "0"),
    ] {
        expect(&g, k, v)?;
    }
    eprintln!(
        "  kexec-load -{syscall} -e on {abi}: new kernel's first serial line after {secs:.2} s"
    );
    Ok(())
}

/// Item 5: with the test-only switch that corrupts the stored digest, the purgatory halts.
pub fn corrupt_digest(series: Series) -> Result<()> {
    let s = spec(
        series,
        "kexec-corrupt",
        "kexec-load",
        "kdumprs.kexec_syscall=c kdumprs.kexec_corrupt=1".into(),
    )?;
    let mut g = Guest::boot(s)?;
    g.wait_for("KDUMPRS-KEXEC-EXEC", Duration::from_secs(300))?;
    g.wait_for("Starting new kernel", Duration::from_secs(60))?;
    if let Some(t) = wait_banner(&mut g, 2, Duration::from_secs(120))? {
        return Err(g.fail(format!(
            "a kernel booted {t:.1} s after -e despite the corrupted digest"
        )));
    }
    ensure!(
        !g.log().contains("KDUMPRS-KEXEC-SECOND"),
        "second kernel ran"
    );
    g.kill();
    eprintln!("  corrupted digest: no kernel banner within 120 s after 'Starting new kernel'");
    Ok(())
}

/// Item 3: the panic kernel loaded by kexec-load captures a vmcore whose VMCOREINFO matches
/// the first kernel and which makedumpfile -d 31 filters.
pub fn panic_capture(series: Series, syscall: char) -> Result<()> {
    let mut s = spec(
        series,
        &format!("kexec-panic-{syscall}"),
        "kexec-panic",
        format!("crashkernel=192M kdumprs.kexec_syscall={syscall}"),
    )?;
    s.mem_mb = 768;
    let mut g = Guest::boot(s)?;
    g.wait_for("KDUMPRS-CRASH", Duration::from_secs(300))?;
    let crash = Instant::now();
    g.wait_for("KDUMPRS-CAPTURE", Duration::from_secs(300))?;
    let capture_s = crash.elapsed().as_secs_f64();
    super::finish(
        &mut g,
        "kexec-capture",
        Duration::from_secs(900),
        Duration::from_secs(60),
    )?;
    expect(&g, "panic_load_rc", "0")?;
    expect(&g, "crash_loaded", "1")?;
    expect(&g, "mdf_rc", "0")?;
    let r = g.results();
    let ident = r.get("vmcore_ident").cloned().unwrap_or_default();
    ensure!(
        ident.starts_with("7f454c46020101") && ident.get(32..36) == Some("0400"),
        "{}",
        g.fail(format!("/proc/vmcore is not an ELF64 core: {ident}"))
    );
    ensure!(
        r.get("vmcore_osrelease") == r.get("first_osrelease"),
        "{}",
        g.fail("OSRELEASE differs")
    );
    for sym in ["init_uts_ns", "_stext", "init_top_pgt"] {
        let a = r
            .get(&format!("first_sym_{sym}"))
            .and_then(|v| u64::from_str_radix(v, 16).ok());
        let b = r
            .get(&format!("vmcore_sym_{sym}"))
            .and_then(|v| u64::from_str_radix(v, 16).ok());
        ensure!(
            a.is_some() && a == b,
            "{}",
            g.fail(format!("SYMBOL({sym}): first kernel {a:x?}, vmcore {b:x?}"))
        );
    }
    let stext = r
        .get("first_sym__stext")
        .and_then(|v| u64::from_str_radix(v, 16).ok())
        .unwrap_or(0);
    let off = r
        .get("vmcore_kerneloffset")
        .and_then(|v| u64::from_str_radix(v, 16).ok());
    ensure!(
        off == Some(stext.wrapping_sub(0xffff_ffff_8100_0000)),
        "{}",
        g.fail(format!("KERNELOFFSET {off:x?} vs _stext {stext:#x}"))
    );
    let bytes: u64 = r
        .get("mdf_flat_bytes")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    ensure!(
        bytes > 1 << 20,
        "{}",
        g.fail(format!("makedumpfile output only {bytes} bytes"))
    );
    eprintln!("  panic kernel by kexec-load -{syscall}: capture kernel up {capture_s:.1} s after sysrq-c; makedumpfile -d 31 -c -F: {bytes} bytes");
    Ok(())
}
