//! A host executable and everything the dynamic loader will open for it: PT_INTERP and the
//! DT_NEEDED libraries, found as ld.so finds them (DT_RPATH when there is no DT_RUNPATH,
//! DT_RUNPATH, the ld.so.conf directories, then the default directories), with every symlink
//! met on the way kept as a symlink next to its target.

use crate::elf::{parse_elf, ElfInfo};
use crate::error::{Error, Result};
use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

/// Most files (executables, libraries, symlinks) one executable may pull in.
pub const MAX_FILES: usize = 512;
/// Largest executable or library read (bytes).
pub const MAX_ELF: u64 = 512 << 20;
/// Most symlinks followed for one name (as the kernel's 40).
const MAX_LINKS: usize = 40;
/// Most ld.so.conf files read (includes).
const MAX_CONF_FILES: usize = 256;

/// The directories searched after DT_RUNPATH and ld.so.conf.
pub const DEFAULT_LIB_DIRS: &[&str] = &[
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib",
];

/// One file to put in the image for an executable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecFile {
    /// Absolute path, the same in the image as on the host (below the resolver's root).
    pub path: String,
    /// A regular file (read from the host) or a symlink with its target text.
    pub kind: ExecFileKind,
    /// Why it is needed (`needed by /usr/bin/ssh: libcrypto.so.3`).
    pub reason: String,
}

/// What an [`ExecFile`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecFileKind {
    /// A regular file; the host path to read.
    File(PathBuf),
    /// A symbolic link with this target.
    Symlink(String),
}

/// Finds shared libraries below a root directory (`/` for the running system).
#[derive(Debug, Clone)]
pub struct LibResolver {
    root: PathBuf,
    conf_dirs: Vec<String>,
}

/// Join an absolute in-root path onto the root.
fn host_path(root: &Path, abs: &str) -> PathBuf {
    root.join(abs.trim_start_matches('/'))
}

/// Lexically normalise an absolute path (`.` and `..` resolved, no symlink lookup).
fn lexical(abs: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in Path::new(abs).components() {
        match c {
            Component::Normal(s) => parts.push(s.to_str().unwrap_or("")),
            Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    format!("/{}", parts.join("/"))
}

impl LibResolver {
    /// A resolver for the system below `root`, reading `<root>/etc/ld.so.conf` and its
    /// `include` files (globs allowed in the last path component).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        let mut conf_dirs = Vec::new();
        let mut seen = BTreeSet::new();
        read_ld_conf(&root, "/etc/ld.so.conf", &mut conf_dirs, &mut seen);
        LibResolver { root, conf_dirs }
    }

    /// The directories from ld.so.conf, in order.
    pub fn conf_dirs(&self) -> &[String] {
        &self.conf_dirs
    }

    /// Every file `exe` (an absolute path below the root) needs, the executable first.
    /// A static executable gives just itself. A missing library is an error naming it.
    pub fn resolve(&self, exe: &str, reason: &str) -> Result<Vec<ExecFile>> {
        let mut out: Vec<ExecFile> = Vec::new();
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut queue: Vec<(String, String)> = vec![(lexical(exe), reason.to_string())];
        let mut head = 0;
        while head < queue.len() {
            let (path, why) = queue[head].clone();
            head += 1;
            if !seen.insert(path.clone()) {
                continue;
            }
            if out.len() >= MAX_FILES {
                return Err(Error::limit(
                    format!("files needed by {exe}"),
                    out.len() as u64 + 1,
                    MAX_FILES as u64,
                ));
            }
            let real = self.add_with_links(&path, &why, &mut out, &mut seen)?;
            let host = host_path(&self.root, &real);
            let info = read_elf(&host)?;
            let Some(info) = info else { continue };
            if let Some(interp) = &info.interp {
                queue.push((lexical(interp), format!("interpreter of {path}")));
            }
            for lib in &info.needed {
                let found = self
                    .find(lib, &info, &real)
                    .ok_or_else(|| Error::LibraryMissing {
                        exe: PathBuf::from(&path),
                        lib: lib.clone(),
                        searched: self.search_dirs(&info, &real).join(":"),
                    })?;
                queue.push((found, format!("needed by {path}: {lib}")));
            }
        }
        Ok(out)
    }

    /// Add `path`, following symlinks at its last component; returns the final regular file.
    fn add_with_links(
        &self,
        path: &str,
        why: &str,
        out: &mut Vec<ExecFile>,
        seen: &mut BTreeSet<String>,
    ) -> Result<String> {
        let mut cur = path.to_string();
        for _ in 0..MAX_LINKS {
            let host = host_path(&self.root, &cur);
            let meta = std::fs::symlink_metadata(&host).map_err(|e| Error::io(&host, e))?;
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&host).map_err(|e| Error::io(&host, e))?;
                let target_s = target.to_string_lossy().into_owned();
                out.push(ExecFile {
                    path: cur.clone(),
                    kind: ExecFileKind::Symlink(target_s.clone()),
                    reason: why.to_string(),
                });
                let next = if target.is_absolute() {
                    lexical(&target_s)
                } else {
                    let parent = Path::new(&cur)
                        .parent()
                        .map(|p| p.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    lexical(&format!("{parent}/{target_s}"))
                };
                seen.insert(next.clone());
                cur = next;
                continue;
            }
            if !meta.is_file() {
                return Err(Error::Elf {
                    path: host,
                    what: "not a regular file".into(),
                });
            }
            out.push(ExecFile {
                path: cur.clone(),
                kind: ExecFileKind::File(host),
                reason: why.to_string(),
            });
            return Ok(cur);
        }
        Err(Error::Elf {
            path: host_path(&self.root, path),
            what: format!("more than {MAX_LINKS} symlinks"),
        })
    }

    fn search_dirs(&self, info: &ElfInfo, requester: &str) -> Vec<String> {
        let origin = Path::new(requester)
            .parent()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|| "/".into());
        let subst = |d: &String| d.replace("${ORIGIN}", &origin).replace("$ORIGIN", &origin);
        let mut dirs: Vec<String> = Vec::new();
        if info.runpath.is_empty() {
            dirs.extend(info.rpath.iter().map(subst));
        }
        dirs.extend(info.runpath.iter().map(subst));
        dirs.extend(self.conf_dirs.iter().cloned());
        dirs.extend(DEFAULT_LIB_DIRS.iter().map(|s| s.to_string()));
        let mut uniq = Vec::new();
        for d in dirs {
            if d.starts_with('/') && !uniq.contains(&d) {
                uniq.push(d);
            }
        }
        uniq
    }

    /// Where ld.so would find `lib` for the object `info` at `requester`: the first candidate
    /// of the same ELF class and machine.
    fn find(&self, lib: &str, info: &ElfInfo, requester: &str) -> Option<String> {
        if lib.contains('/') {
            return Some(lexical(lib));
        }
        for d in self.search_dirs(info, requester) {
            let cand = lexical(&format!("{d}/{lib}"));
            let host = host_path(&self.root, &cand);
            let Ok(Some(ci)) = read_elf(&host) else {
                continue;
            };
            if ci.is_64 == info.is_64 && ci.machine == info.machine {
                return Some(cand);
            }
        }
        None
    }
}

/// Parse an ELF file's header and dynamic section; `Ok(None)` when it is not ELF (a script).
fn read_elf(host: &Path) -> Result<Option<ElfInfo>> {
    let meta = std::fs::metadata(host).map_err(|e| Error::io(host, e))?;
    if meta.len() > MAX_ELF {
        return Err(Error::limit(
            host.display().to_string(),
            meta.len(),
            MAX_ELF,
        ));
    }
    let bytes = std::fs::read(host).map_err(|e| Error::io(host, e))?;
    if !bytes.starts_with(b"\x7fELF") {
        return Ok(None);
    }
    parse_elf(&bytes).map(Some).map_err(|what| Error::Elf {
        path: host.to_path_buf(),
        what,
    })
}

fn read_ld_conf(root: &Path, file: &str, dirs: &mut Vec<String>, seen: &mut BTreeSet<String>) {
    if seen.len() >= MAX_CONF_FILES || !seen.insert(file.to_string()) {
        return;
    }
    let host = host_path(root, file);
    let Ok(meta) = std::fs::metadata(&host) else {
        return;
    };
    if meta.len() > 1 << 20 {
        return;
    }
    let Ok(text) = std::fs::read_to_string(&host) else {
        return;
    };
    let base = Path::new(file)
        .parent()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|| "/".into());
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if let Some(pat) = line
            .strip_prefix("include")
            .filter(|r| r.starts_with(char::is_whitespace))
        {
            for pat in pat.split_whitespace() {
                let pat = if pat.starts_with('/') {
                    pat.to_string()
                } else {
                    format!("{base}/{pat}")
                };
                for f in expand_glob(root, &pat) {
                    read_ld_conf(root, &f, dirs, seen);
                }
            }
        } else if line.starts_with('/') {
            for d in line
                .split([':', ',', ' ', '\t'])
                .filter(|d| d.starts_with('/'))
            {
                let d = lexical(d);
                if !dirs.contains(&d) {
                    dirs.push(d);
                }
            }
        }
    }
}

/// Expand a glob in the last component of an absolute path (as ld.so.conf's `include`).
fn expand_glob(root: &Path, pat: &str) -> Vec<String> {
    let (dir, name) = pat.rsplit_once('/').unwrap_or(("", pat));
    let g = crate::glob::Glob::new(name);
    let Ok(rd) = std::fs::read_dir(host_path(root, if dir.is_empty() { "/" } else { dir })) else {
        return Vec::new();
    };
    let mut out: Vec<String> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| g.matches(n))
        .map(|n| format!("{dir}/{n}"))
        .collect();
    out.sort();
    out.truncate(MAX_CONF_FILES);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexical_paths() {
        assert_eq!(lexical("/lib64/../lib/x.so"), "/lib/x.so");
        assert_eq!(lexical("/a/./b//c"), "/a/b/c");
        assert_eq!(lexical("/.."), "/");
    }

    #[test]
    fn fake_root_with_conf_and_links() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::create_dir_all(r.join("etc/ld.so.conf.d")).unwrap();
        std::fs::write(
            r.join("etc/ld.so.conf"),
            "include /etc/ld.so.conf.d/*.conf\n",
        )
        .unwrap();
        std::fs::write(r.join("etc/ld.so.conf.d/a.conf"), "# comment\n/opt/lib\n").unwrap();
        std::fs::write(
            r.join("etc/ld.so.conf.d/b.conf"),
            "/usr/local/lib:/opt/lib\n",
        )
        .unwrap();
        std::fs::write(r.join("etc/ld.so.conf.d/skip.txt"), "/nope\n").unwrap();
        let lr = LibResolver::new(r);
        assert_eq!(lr.conf_dirs(), ["/opt/lib", "/usr/local/lib"]);
        // a script is taken as a file with no dependencies
        std::fs::create_dir_all(r.join("usr/bin")).unwrap();
        std::fs::write(r.join("usr/bin/s"), "#!/bin/sh\n").unwrap();
        std::os::unix::fs::symlink("s", r.join("usr/bin/t")).unwrap();
        let files = lr.resolve("/usr/bin/t", "test").unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].kind, ExecFileKind::Symlink("s".into()));
        assert_eq!(files[1].path, "/usr/bin/s");
        std::os::unix::fs::symlink("loop", r.join("usr/bin/loop")).unwrap();
        assert!(lr.resolve("/usr/bin/loop", "t").is_err());
    }
}
