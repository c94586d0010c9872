//! The kernel's module index (`/lib/modules/VERSION/modules.*`, as depmod writes it) and
//! resolution of a module name or modalias to the modules to load, in load order.
//!
//! Rules (those of modprobe): `-` and `_` are the same in names and aliases; a query is a
//! module name first, else every module whose alias pattern matches it; a built-in module
//! (modules.builtin, or an alias in modules.builtin.modinfo) needs nothing loaded; a module's
//! load order is its softdep `pre:` modules, its dependencies (modules.dep, each with its own
//! dependencies first), the module itself, then its softdep `post:` modules.

use crate::error::{Error, Result};
use crate::glob::Glob;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Largest modules.* file read (bytes).
pub const MAX_INDEX_FILE: u64 = 64 << 20;
/// Deepest dependency chain followed.
pub const MAX_DEPTH: usize = 64;
/// Most modules one resolution may add.
pub const MAX_RESOLVED: usize = 4096;

/// Module names with `-` replaced by `_` (the kernel's own normalisation).
pub fn normalize_name(name: &str) -> String {
    name.replace('-', "_")
}

/// An alias with `-` replaced by `_` outside `[...]` brackets (as kmod does before lookups).
fn normalize_alias(alias: &str) -> String {
    let mut out = String::with_capacity(alias.len());
    let mut in_bracket = false;
    for c in alias.chars() {
        match c {
            '[' => in_bracket = true,
            ']' => in_bracket = false,
            '-' if !in_bracket => {
                out.push('_');
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

/// The module name of a path in modules.dep / modules.builtin: the file name without `.ko`
/// and a compression suffix, normalised.
pub fn module_name_of(path: &str) -> Option<String> {
    let file = path.rsplit('/').next()?;
    let stem = crate::compress::FileCodec::strip(file).strip_suffix(".ko")?;
    if stem.is_empty() {
        return None;
    }
    Some(normalize_name(stem))
}

/// One loadable module from modules.dep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleEntry {
    /// Normalised name.
    pub name: String,
    /// Path as in modules.dep (relative to the module directory, or absolute).
    pub path: String,
    /// Normalised names of its dependencies, in modules.dep order.
    pub deps: Vec<String>,
}

/// Soft dependencies of one module.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SoftDep {
    /// Loaded before the module (names or aliases).
    pub pre: Vec<String>,
    /// Loaded after it.
    pub post: Vec<String>,
}

/// The parsed index of one kernel's modules.
#[derive(Debug, Clone, Default)]
pub struct ModuleIndex {
    dir: PathBuf,
    kver: String,
    modules: BTreeMap<String, ModuleEntry>,
    aliases: Vec<(Glob, String, String)>,
    softdeps: BTreeMap<String, SoftDep>,
    builtin: BTreeSet<String>,
    builtin_aliases: Vec<(Glob, String)>,
}

/// What a query names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Loadable modules (one for a name, possibly several for an alias).
    Modules(Vec<String>),
    /// Built into the kernel: nothing to load.
    Builtin(String),
    /// Neither.
    NotFound,
}

/// The outcome of resolving queries: modules in load order, and what was built in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolution {
    /// Names in load order (dependencies first).
    pub load: Vec<String>,
    /// Built-in modules met on the way (nothing to load).
    pub builtin: Vec<String>,
    /// Soft dependencies that named nothing in the index (modprobe skips these too).
    pub missing_softdeps: Vec<(String, String)>,
}

fn read_index(path: &Path) -> Result<Option<Vec<u8>>> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
        Ok(m) if m.len() > MAX_INDEX_FILE => {
            return Err(Error::limit(
                path.display().to_string(),
                m.len(),
                MAX_INDEX_FILE,
            ))
        }
        Ok(_) => {}
    }
    std::fs::read(path)
        .map(Some)
        .map_err(|e| Error::io(path, e))
}

/// The texts of the index files, for [`ModuleIndex::parse`] (each may be absent).
#[derive(Debug, Clone, Copy, Default)]
pub struct IndexTexts<'a> {
    /// modules.dep
    pub dep: &'a str,
    /// modules.alias
    pub alias: &'a str,
    /// modules.softdep
    pub softdep: &'a str,
    /// modules.builtin
    pub builtin: &'a str,
    /// modules.builtin.modinfo (NUL-separated `module.key=value`)
    pub builtin_modinfo: &'a [u8],
}

impl ModuleIndex {
    /// Read `<root>/lib/modules/<kver>/modules.{dep,alias,softdep,builtin,builtin.modinfo}`.
    /// modules.dep is required (run `depmod` first); the others may be absent.
    pub fn load(root: &Path, kver: &str) -> Result<Self> {
        if kver.is_empty() || kver.contains('/') || kver == "." || kver == ".." {
            return Err(Error::ModuleIndex {
                file: root.join("lib/modules"),
                line: 0,
                what: format!("{kver:?} is not a kernel version"),
            });
        }
        let dir = root.join("lib/modules").join(kver);
        let text = |name: &str| -> Result<String> {
            Ok(read_index(&dir.join(name))?
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default())
        };
        let dep_path = dir.join("modules.dep");
        if !dep_path.exists() {
            return Err(Error::ModuleIndex {
                file: dep_path,
                line: 0,
                what: "missing: run `depmod` for this kernel first".into(),
            });
        }
        let dep = text("modules.dep")?;
        let alias = text("modules.alias")?;
        let softdep = text("modules.softdep")?;
        let builtin = text("modules.builtin")?;
        let modinfo = read_index(&dir.join("modules.builtin.modinfo"))?.unwrap_or_default();
        let mut idx = Self::parse(
            &dir,
            IndexTexts {
                dep: &dep,
                alias: &alias,
                softdep: &softdep,
                builtin: &builtin,
                builtin_modinfo: &modinfo,
            },
        )?;
        idx.kver = kver.to_string();
        Ok(idx)
    }

    /// Parse index texts; `dir` is the module directory (for paths and messages).
    /// Errors name the file and line.
    pub fn parse(dir: &Path, t: IndexTexts<'_>) -> Result<Self> {
        let mut idx = ModuleIndex {
            dir: dir.to_path_buf(),
            kver: dir
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            ..Self::default()
        };
        let err = |file: &str, line: usize, what: String| Error::ModuleIndex {
            file: dir.join(file),
            line,
            what,
        };
        for (n, line) in t.dep.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (path, deps) = line
                .split_once(':')
                .ok_or_else(|| err("modules.dep", n + 1, "expected `PATH: DEP...`".into()))?;
            let name = module_name_of(path.trim())
                .ok_or_else(|| err("modules.dep", n + 1, format!("{path:?} is not a .ko path")))?;
            let deps = deps
                .split_whitespace()
                .map(|d| {
                    module_name_of(d).ok_or_else(|| {
                        err(
                            "modules.dep",
                            n + 1,
                            format!("dependency {d:?} is not a .ko path"),
                        )
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            idx.modules.insert(
                name.clone(),
                ModuleEntry {
                    name,
                    path: path.trim().to_string(),
                    deps,
                },
            );
        }
        for (n, line) in t.alias.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut w = line.split_whitespace();
            match (w.next(), w.next(), w.next(), w.next()) {
                (Some("alias"), Some(pat), Some(module), None) => {
                    let pat = normalize_alias(pat);
                    idx.aliases
                        .push((Glob::new(&pat), pat, normalize_name(module)));
                }
                _ => {
                    return Err(err(
                        "modules.alias",
                        n + 1,
                        "expected `alias PATTERN MODULE`".into(),
                    ))
                }
            }
        }
        for (n, line) in t.softdep.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut w = line.split_whitespace();
            if w.next() != Some("softdep") {
                return Err(err(
                    "modules.softdep",
                    n + 1,
                    "expected `softdep MODULE pre: ... post: ...`".into(),
                ));
            }
            let module = w
                .next()
                .ok_or_else(|| err("modules.softdep", n + 1, "softdep without a module".into()))?;
            let sd = idx.softdeps.entry(normalize_name(module)).or_default();
            let mut post = None;
            for word in w {
                match word {
                    "pre:" => post = Some(false),
                    "post:" => post = Some(true),
                    m => match post {
                        Some(false) => sd.pre.push(m.to_string()),
                        Some(true) => sd.post.push(m.to_string()),
                        // words before `pre:`/`post:` are ignored, as kmod does (Debian's
                        // 6.1 modules.softdep has `softdep cifs gcm` lines)
                        None => {}
                    },
                }
            }
        }
        for (n, line) in t.builtin.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let name = module_name_of(line).ok_or_else(|| {
                err(
                    "modules.builtin",
                    n + 1,
                    format!("{line:?} is not a .ko path"),
                )
            })?;
            idx.builtin.insert(name);
        }
        for rec in t.builtin_modinfo.split(|&c| c == 0) {
            let Ok(rec) = std::str::from_utf8(rec) else {
                continue;
            };
            let Some((key, value)) = rec.split_once('=') else {
                continue;
            };
            let Some((module, field)) = key.split_once('.') else {
                continue;
            };
            let module = normalize_name(module);
            match field {
                "alias" => {
                    let pat = normalize_alias(value);
                    idx.builtin_aliases.push((Glob::new(&pat), module.clone()));
                    idx.builtin.insert(module);
                }
                "file" | "license" | "description" => {
                    idx.builtin.insert(module);
                }
                _ => {}
            }
        }
        Ok(idx)
    }

    /// The module directory (`<root>/lib/modules/<kver>`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The kernel version.
    pub fn kver(&self) -> &str {
        &self.kver
    }

    /// Number of loadable modules.
    pub fn len(&self) -> usize {
        self.modules.len()
    }

    /// True when modules.dep listed nothing.
    pub fn is_empty(&self) -> bool {
        self.modules.is_empty()
    }

    /// The loadable module called `name` (`-`/`_` alike).
    pub fn module(&self, name: &str) -> Option<&ModuleEntry> {
        self.modules.get(&normalize_name(name))
    }

    /// Host path of a module's file.
    pub fn module_path(&self, m: &ModuleEntry) -> PathBuf {
        let p = Path::new(&m.path);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.dir.join(p)
        }
    }

    /// True when `name` is built into the kernel.
    pub fn is_builtin(&self, name: &str) -> bool {
        self.builtin.contains(&normalize_name(name))
    }

    /// The soft dependencies declared for `name`.
    pub fn softdep(&self, name: &str) -> Option<&SoftDep> {
        self.softdeps.get(&normalize_name(name))
    }

    /// What `query` (a module name or a modalias) names.
    pub fn lookup(&self, query: &str) -> Lookup {
        let name = normalize_name(query);
        if self.modules.contains_key(&name) {
            return Lookup::Modules(vec![name]);
        }
        if self.builtin.contains(&name) {
            return Lookup::Builtin(name);
        }
        let alias = normalize_alias(query);
        let mut found: Vec<String> = Vec::new();
        for (g, _, m) in &self.aliases {
            if g.matches(&alias) && !found.contains(m) {
                found.push(m.clone());
            }
        }
        // modprobe skips alias matches that are built in
        let loadable: Vec<String> = found
            .iter()
            .filter(|m| self.modules.contains_key(*m))
            .cloned()
            .collect();
        if !loadable.is_empty() {
            return Lookup::Modules(loadable);
        }
        if let Some(m) = found.into_iter().find(|m| self.builtin.contains(m)) {
            return Lookup::Builtin(m);
        }
        if let Some((_, m)) = self.builtin_aliases.iter().find(|(g, _)| g.matches(&alias)) {
            return Lookup::Builtin(m.clone());
        }
        Lookup::NotFound
    }

    /// Resolve each query in turn (names or modaliases) into one load order without repeats.
    /// A query that names nothing is an [`Error::ModuleMissing`] with `reason`.
    pub fn resolve(&self, queries: &[&str], reason: &str) -> Result<Resolution> {
        let mut r = Resolution::default();
        let mut done = BTreeSet::new();
        for q in queries {
            self.resolve_into(q, reason, &mut r, &mut done)?;
        }
        Ok(r)
    }

    /// Resolve one query, appending to an ongoing resolution; `done` holds the names already
    /// placed (so several queries share one order).
    pub fn resolve_into(
        &self,
        query: &str,
        reason: &str,
        r: &mut Resolution,
        done: &mut BTreeSet<String>,
    ) -> Result<()> {
        match self.lookup(query) {
            Lookup::Modules(ms) => {
                let mut stack = Vec::new();
                for m in ms {
                    self.visit(&m, 0, r, done, &mut stack)?;
                }
                Ok(())
            }
            Lookup::Builtin(m) => {
                if !r.builtin.contains(&m) {
                    r.builtin.push(m);
                }
                Ok(())
            }
            Lookup::NotFound => Err(Error::ModuleMissing {
                wanted: query.to_string(),
                reason: reason.to_string(),
                index: self.dir.clone(),
            }),
        }
    }

    fn visit(
        &self,
        name: &str,
        depth: usize,
        r: &mut Resolution,
        done: &mut BTreeSet<String>,
        stack: &mut Vec<String>,
    ) -> Result<()> {
        if done.contains(name) || stack.iter().any(|s| s == name) {
            // already placed, or a cycle through soft dependencies (modprobe breaks it too)
            return Ok(());
        }
        if depth > MAX_DEPTH {
            return Err(Error::ModuleGraph {
                module: name.to_string(),
                what: format!("dependencies nest deeper than {MAX_DEPTH}"),
            });
        }
        if r.load.len() >= MAX_RESOLVED {
            return Err(Error::limit(
                "modules resolved",
                r.load.len() as u64 + 1,
                MAX_RESOLVED as u64,
            ));
        }
        let Some(entry) = self.modules.get(name) else {
            if self.builtin.contains(name) && !r.builtin.iter().any(|b| b == name) {
                r.builtin.push(name.to_string());
            }
            return Ok(());
        };
        stack.push(name.to_string());
        let soft = self.softdeps.get(name);
        if let Some(sd) = soft {
            for p in &sd.pre {
                self.visit_soft(name, p, depth, r, done, stack)?;
            }
        }
        for d in &entry.deps {
            if self.modules.contains_key(d) {
                self.visit(d, depth + 1, r, done, stack)?;
            } else if !self.builtin.contains(d) {
                return Err(Error::ModuleGraph {
                    module: name.to_string(),
                    what: format!("depends on {d}, which modules.dep does not list"),
                });
            }
        }
        stack.pop();
        done.insert(name.to_string());
        r.load.push(name.to_string());
        if let Some(sd) = soft {
            for p in &sd.post {
                self.visit_soft(name, p, depth, r, done, stack)?;
            }
        }
        Ok(())
    }

    fn visit_soft(
        &self,
        owner: &str,
        q: &str,
        depth: usize,
        r: &mut Resolution,
        done: &mut BTreeSet<String>,
        stack: &mut Vec<String>,
    ) -> Result<()> {
        match self.lookup(q) {
            Lookup::Modules(ms) => {
                for m in ms {
                    self.visit(&m, depth + 1, r, done, stack)?;
                }
            }
            Lookup::Builtin(b) => {
                if !r.builtin.contains(&b) {
                    r.builtin.push(b);
                }
            }
            Lookup::NotFound => {
                let pair = (owner.to_string(), q.to_string());
                if !r.missing_softdeps.contains(&pair) {
                    r.missing_softdeps.push(pair);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ModuleIndex {
        let dep = "kernel/fs/ext4/ext4.ko.xz: kernel/lib/crc16.ko.xz kernel/fs/mbcache.ko.xz kernel/fs/jbd2/jbd2.ko.xz\n\
                   kernel/lib/crc16.ko.xz:\n\
                   kernel/fs/mbcache.ko.xz:\n\
                   kernel/fs/jbd2/jbd2.ko.xz:\n\
                   kernel/crypto/crc32c_generic.ko.xz:\n\
                   kernel/arch/x86/crypto/crc32c-intel.ko.xz:\n\
                   kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko\n\
                   kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko\n\
                   kernel/drivers/virtio/virtio_ring.ko:\n";
        let alias = "# Aliases extracted from modules themselves.\n\
                     alias crypto-crc32c crc32c_generic\n\
                     alias crc32c crc32c_generic\n\
                     alias crc32c crc32c_intel\n\
                     alias virtio:d00000002v* virtio_blk\n\
                     alias fs-ext4 ext4\n";
        let softdep = "softdep ext4 pre: crc32c\nsoftdep virtio_blk post: nosuch\n";
        let builtin = "kernel/drivers/scsi/sd_mod.ko\n";
        let modinfo = b"sd_mod.alias=scsi:t-0x00*\0sd_mod.license=GPL\0xz_dec.file=lib/xz/xz_dec\0";
        ModuleIndex::parse(
            Path::new("/lib/modules/6.1.0-test"),
            IndexTexts {
                dep,
                alias,
                softdep,
                builtin,
                builtin_modinfo: modinfo,
            },
        )
        .unwrap()
    }

    #[test]
    fn order_softdeps_builtins() {
        let idx = sample();
        assert_eq!(idx.kver(), "6.1.0-test");
        let r = idx.resolve(&["ext4"], "test").unwrap();
        assert_eq!(
            r.load,
            [
                "crc32c_generic",
                "crc32c_intel",
                "crc16",
                "mbcache",
                "jbd2",
                "ext4"
            ]
        );
        let r = idx
            .resolve(&["virtio:d00000002v00001AF4", "virtio-blk"], "test")
            .unwrap();
        assert_eq!(r.load, ["virtio_ring", "virtio", "virtio_blk"]);
        assert_eq!(
            r.missing_softdeps,
            [("virtio_blk".to_string(), "nosuch".to_string())]
        );
        let r = idx.resolve(&["scsi:t-0x00"], "test").unwrap();
        assert!(r.load.is_empty());
        assert_eq!(r.builtin, ["sd_mod"]);
        assert_eq!(idx.lookup("xz_dec"), Lookup::Builtin("xz_dec".into()));
        assert_eq!(idx.lookup("fs-ext4"), Lookup::Modules(vec!["ext4".into()]));
        let e = idx
            .resolve(&["pci:v0000DEADd*"], "vda: driver foo")
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("vda: driver foo: module pci:v0000DEADd*"),
            "{e}"
        );
    }

    #[test]
    fn parse_errors_name_file_and_line() {
        let e = ModuleIndex::parse(
            Path::new("/m"),
            IndexTexts {
                dep: "a.ko: b.ko\nnocolon\n",
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "/m/modules.dep:2: expected `PATH: DEP...`");
        let e = ModuleIndex::parse(
            Path::new("/m"),
            IndexTexts {
                alias: "alias x\n",
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "/m/modules.alias:1: expected `alias PATTERN MODULE`"
        );
        let e = ModuleIndex::parse(
            Path::new("/m"),
            IndexTexts {
                softdep: "softdep\n",
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("/m/modules.softdep:1:"), "{e}");
        let i = ModuleIndex::parse(
            Path::new("/m"),
            IndexTexts {
                softdep: "softdep x a pre: b\n",
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(i.softdep("x").unwrap().pre, ["b"]);
        let e = ModuleIndex::parse(
            Path::new("/m"),
            IndexTexts {
                dep: "a.ko: b.ko\n",
                ..Default::default()
            },
        )
        .unwrap();
        assert!(matches!(
            e.resolve(&["a"], "t"),
            Err(Error::ModuleGraph { .. })
        ));
    }

    #[test]
    fn cycles_and_depth_are_bounded() {
        // a dependency cycle (depmod refuses these, a crafted file may have one)
        let idx = ModuleIndex::parse(
            Path::new("/m"),
            IndexTexts {
                dep: "a.ko: b.ko\nb.ko: a.ko\n",
                ..Default::default()
            },
        )
        .unwrap();
        let r = idx.resolve(&["a"], "t").unwrap();
        assert_eq!(r.load, ["b", "a"]);
        let mut dep = String::new();
        for i in 0..200 {
            dep.push_str(&format!("m{i}.ko: m{}.ko\n", i + 1));
        }
        dep.push_str("m200.ko:\n");
        let idx = ModuleIndex::parse(
            Path::new("/m"),
            IndexTexts {
                dep: &dep,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(matches!(
            idx.resolve(&["m0"], "t"),
            Err(Error::ModuleGraph { .. })
        ));
    }
}
