//! The module load manifest: how the image tells its PID 1 which modules to load, in order.
//!
//! The file is [`MODULES_ORDER`] (`/etc/kdump/modules.order`), UTF-8 text, one module a line:
//!
//! ```text
//! # comment lines and blank lines are ignored
//! /lib/modules/6.1.0-57-amd64/kernel/drivers/virtio/virtio_ring.ko
//! /lib/modules/6.1.0-57-amd64/kernel/drivers/block/virtio_blk.ko queue_depth=64
//! ```
//!
//! The first word is the module's absolute path in the image (a plain, uncompressed `.ko`,
//! so `finit_module(2)` takes it as is); the rest of the line, if any, is the parameter
//! string handed to `finit_module`. Lines are loaded top to bottom; every module's
//! dependencies are above it.

use crate::error::{Error, Result};

/// Where the manifest is in the image (without the leading `/`).
pub const MODULES_ORDER: &str = "etc/kdump/modules.order";
/// Most entries the parser accepts.
pub const MAX_ENTRIES: usize = 4096;
/// Longest line the parser accepts (bytes).
pub const MAX_LINE: usize = 8192;

/// One line of the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadEntry {
    /// Absolute path of the `.ko` in the image.
    pub path: String,
    /// Parameters for `finit_module` (may be empty).
    pub params: String,
}

/// Render entries as the manifest text (with a header comment). Parameters must not contain
/// a newline; [`parse_modules_order`] reads the result back unchanged.
pub fn format_modules_order(entries: &[LoadEntry]) -> String {
    let mut s = String::from("# kernel modules to load in this order: IMAGE-PATH [PARAMETERS]\n");
    for e in entries {
        s.push_str(&e.path);
        if !e.params.is_empty() {
            s.push(' ');
            s.push_str(&e.params);
        }
        s.push('\n');
    }
    s
}

/// Parse the manifest. Errors name the line: a path that is not absolute, has `.` or `..`
/// components, or does not end in `.ko`; a line longer than [`MAX_LINE`]; more than
/// [`MAX_ENTRIES`] entries; a NUL byte.
///
/// ```
/// let text = "# order\n/lib/modules/6.1/kernel/fs/ext4/ext4.ko\n/lib/modules/6.1/x.ko  debug=1 a=b\n";
/// let e = capture_initramfs::parse_modules_order(text).unwrap();
/// assert_eq!(e[1].path, "/lib/modules/6.1/x.ko");
/// assert_eq!(e[1].params, "debug=1 a=b");
/// ```
pub fn parse_modules_order(text: &str) -> Result<Vec<LoadEntry>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let err = |what: String| Error::Manifest { line: n + 1, what };
        if line.len() > MAX_LINE {
            return Err(err(format!("line longer than {MAX_LINE} bytes")));
        }
        if line.contains('\0') {
            return Err(err("NUL byte".into()));
        }
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (path, params) = match line.split_once(char::is_whitespace) {
            Some((p, rest)) => (p, rest.trim()),
            None => (line, ""),
        };
        if !path.starts_with('/') {
            return Err(err(format!(
                "{path:?}: expected an absolute path in the image"
            )));
        }
        if path.split('/').any(|c| c == "." || c == "..") {
            return Err(err(format!("{path:?}: `.` or `..` in the path")));
        }
        if !path.ends_with(".ko") || path.ends_with("/.ko") {
            return Err(err(format!("{path:?}: expected a plain .ko module")));
        }
        if out.len() >= MAX_ENTRIES {
            return Err(err(format!("more than {MAX_ENTRIES} modules")));
        }
        out.push(LoadEntry {
            path: path.to_string(),
            params: params.to_string(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_line() {
        let e = parse_modules_order("/a.ko\nrel.ko\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "modules.order:2: \"rel.ko\": expected an absolute path in the image"
        );
        assert!(parse_modules_order("/a/../b.ko\n").is_err());
        assert!(parse_modules_order("/a.ko.xz\n").is_err());
        assert!(parse_modules_order(&"/a.ko\n".repeat(MAX_ENTRIES + 1)).is_err());
        assert_eq!(
            parse_modules_order(&"/a.ko\n".repeat(MAX_ENTRIES))
                .unwrap()
                .len(),
            MAX_ENTRIES
        );
    }

    proptest::proptest! {
        #[test]
        fn roundtrip(names in proptest::collection::vec("[a-z0-9_]{1,12}", 0..20), params in proptest::collection::vec("([a-z]{1,5}=[a-z0-9,]{0,5}( [a-z]{1,5}=[0-9]{1,3}){0,2})?", 20)) {
            let entries: Vec<LoadEntry> = names.iter().zip(&params).map(|(n, p)| LoadEntry { path: format!("/lib/modules/k/{n}.ko"), params: p.clone() }).collect();
            let text = format_modules_order(&entries);
            proptest::prop_assert_eq!(parse_modules_order(&text).unwrap(), entries);
        }
    }
}
