//! Build a capture image for a block device, a file system and some executables, and list
//! what went in and why:
//!
//! ```text
//! cargo run -p capture-initramfs --example build_image -- \
//!     --modules-root / --kver "$(uname -r)" --block vda --fs ext4 --exe /usr/bin/ssh -o /tmp/capture.img
//! ```
//!
//! `--modules-root` is the directory holding `lib/modules/KVER` (with modules.dep: run
//! `depmod` first); `--config /boot/config-KVER` chooses the compression (gzip otherwise).

use capture_initramfs::{fs_needs, Compression, ImageBuilder, ModuleIndex, Sysfs};
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (mut root, mut kver, mut out, mut config) =
        (None, None, PathBuf::from("capture.img"), None);
    let (mut blocks, mut fss, mut exes) = (Vec::new(), Vec::new(), Vec::new());
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--modules-root" => root = Some(PathBuf::from(val()?)),
            "--kver" => kver = Some(val()?),
            "--block" => blocks.push(val()?),
            "--fs" => fss.push(val()?),
            "--exe" => exes.push(val()?),
            "--config" => config = Some(val()?),
            "-o" => out = PathBuf::from(val()?),
            _ => return Err(format!("unknown argument {a}").into()),
        }
    }
    let mut b = ImageBuilder::new();
    if let (Some(root), Some(kver)) = (&root, &kver) {
        b = b.with_modules(ModuleIndex::load(root, kver)?);
    }
    b.add_base()?;
    let sys = Sysfs::host();
    for dev in &blocks {
        b.add_needs(&sys.block_needs(dev)?)?;
    }
    for fs in &fss {
        b.add_needs(&fs_needs(fs))?;
    }
    for exe in &exes {
        b.add_executable(exe, "asked for on the command line")?;
    }
    let compression = match &config {
        Some(c) => Compression::for_kernel_config(&std::fs::read_to_string(c)?)?,
        None => Compression::Gzip,
    };
    for e in b.list() {
        println!(
            "{:8} {:>9} {:o} {}  # {}",
            e.kind, e.size, e.mode, e.path, e.reason
        );
    }
    for m in b.module_order() {
        println!("load {} ({})", m.path, m.name);
    }
    for w in b.warnings() {
        eprintln!("warning: {w}");
    }
    let f = std::fs::File::create(&out)?;
    b.write(std::io::BufWriter::new(f), compression)?;
    eprintln!("wrote {} ({})", out.display(), compression.name());
    Ok(())
}
