//! Compile purgatory/purgatory.rs into a relocatable x86_64 object with the same rustc that
//! builds this crate (stable is enough), for the library to embed with `include_bytes!`.
//!
//! Flags: no_std, `relocation-model=static` + `code-model=large` (only absolute 64-bit and
//! PC-relative relocations), `panic=abort`, no loop/SLP vectorisation, no unwind tables, no
//! debug info, paths remapped: the object is the same bytes on every machine with the same
//! rustc.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    );
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let src = manifest.join("purgatory/purgatory.rs");
    for f in [
        "purgatory/purgatory.rs",
        "purgatory/vsha256.rs",
        "purgatory/sha256_k.rs",
        "src/params.rs",
    ] {
        println!("cargo:rerun-if-changed={f}");
    }
    let obj = out.join("purgatory.o");
    let status = Command::new(&rustc)
        .env_remove("RUSTC_WRAPPER")
        .args([
            "--edition",
            "2021",
            "--crate-type",
            "lib",
            "--crate-name",
            "kdumprs_purgatory",
        ])
        .args(["--target", "x86_64-unknown-linux-gnu", "--emit", "obj"])
        .args([
            "-C",
            "relocation-model=static",
            "-C",
            "code-model=large",
            "-C",
            "panic=abort",
        ])
        .args([
            "-C",
            "opt-level=2",
            "-C",
            "no-vectorize-loops",
            "-C",
            "no-vectorize-slp",
        ])
        .args([
            "-C",
            "debuginfo=0",
            "-C",
            "force-unwind-tables=no",
            "-C",
            "metadata=kdumprs-purgatory",
        ])
        .arg(format!(
            "--remap-path-prefix={}=purgatory",
            manifest.display()
        ))
        .arg("-o")
        .arg(&obj)
        .arg(&src)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("compiling the purgatory ({}) failed: {s}", src.display()),
        Err(e) => panic!(
            "cannot run rustc ({}) to compile the purgatory: {e}",
            rustc.to_string_lossy()
        ),
    }
}
