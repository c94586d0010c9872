//! The fuzz targets initramfs_cpio, module_index, elf_dynamic and modules_order (their bodies
//! in fuzz/bodies/, the same code the fuzzer runs) over every input that once failed
//! (fuzz/regressions/<target>/) and every committed seed (fuzz/corpus/<target>/).

#[path = "../../../fuzz/regression_inputs.rs"]
mod regression_inputs;
use regression_inputs::replay;

#[path = "../../../fuzz/bodies/elf_dynamic.rs"]
mod elf_dynamic_body;
#[path = "../../../fuzz/bodies/initramfs_cpio.rs"]
mod initramfs_cpio_body;
#[path = "../../../fuzz/bodies/module_index.rs"]
mod module_index_body;
#[path = "../../../fuzz/bodies/modules_order.rs"]
mod modules_order_body;

#[test]
fn initramfs_cpio() {
    let r = replay("initramfs_cpio", initramfs_cpio_body::run);
    assert!(r.accepted >= 1, "the host cpio seed must read: {r:?}");
}

#[test]
fn module_index() {
    let r = replay("module_index", module_index_body::run);
    assert!(r.accepted >= 1, "{r:?}");
}

#[test]
fn elf_dynamic() {
    let r = replay("elf_dynamic", elf_dynamic_body::run);
    assert!(r.accepted >= 2, "both ELF seeds must parse: {r:?}");
}

#[test]
fn modules_order() {
    let r = replay("modules_order", modules_order_body::run);
    assert!(r.accepted >= 1, "{r:?}");
}

/// The seeds say what they should: the gcc-made PIE has its DT_RUNPATH, the object its
/// `.modinfo` firmware entry.
#[test]
fn elf_seeds_parse_as_expected() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/elf_dynamic");
    let pie = std::fs::read(dir.join("pie-runpath")).unwrap();
    let i = capture_initramfs::parse_elf(&pie).unwrap();
    assert_eq!(i.runpath, ["/opt/lib", "$ORIGIN/../lib"]);
    assert!(i.rpath.is_empty());
    assert!(i.needed.iter().any(|n| n.starts_with("libc.so")), "{i:?}");
    let obj = std::fs::read(dir.join("modinfo-object.o")).unwrap();
    let m = capture_initramfs::modinfo(&obj).unwrap();
    assert!(
        m.contains(&("firmware".to_string(), "acme/fw.bin".to_string())),
        "{m:?}"
    );
}
