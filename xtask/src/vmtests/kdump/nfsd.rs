//! A minimal NFSv3 + MOUNT v3 server over TCP for the nfs target VM test: one export (a host
//! directory), both programs on one port on 127.0.0.1, no rpcbind, no locking, AUTH_UNIX
//! credentials accepted and ignored (files are created by this process's user). The guest
//! reaches it as 10.0.2.2:PORT through QEMU's user networking, mounting with
//! `port=PORT,mountport=PORT,mountproto=tcp,nolock`.
//!
//! Written for this test from RFC 1813 (NFSv3, MOUNT v3) and RFC 5531 (ONC RPC): it serves
//! what the Linux client does while mounting, creating directories and files, writing,
//! renaming and unmounting; other procedures answer NFS3ERR_NOTSUPP. Names are checked so
//! nothing outside the export is reachable. Not a general-purpose server.

use anyhow::{Context, Result};
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const PROG_NFS: u32 = 100003;
const PROG_MOUNT: u32 = 100005;

const NFS3_OK: u32 = 0;
const NFS3ERR_NOENT: u32 = 2;
const NFS3ERR_IO: u32 = 5;
const NFS3ERR_EXIST: u32 = 17;
const NFS3ERR_NOTDIR: u32 = 20;
const NFS3ERR_INVAL: u32 = 22;
const NFS3ERR_NOSPC: u32 = 28;
const NFS3ERR_NAMETOOLONG: u32 = 63;
const NFS3ERR_NOTEMPTY: u32 = 66;
const NFS3ERR_STALE: u32 = 70;
const NFS3ERR_BADHANDLE: u32 = 10001;
const NFS3ERR_NOTSUPP: u32 = 10004;

/// Largest RPC record accepted (a WRITE of 1 MiB plus headers).
const MAX_RECORD: usize = 2 << 20;
/// The read/write sizes offered in FSINFO.
const IO_SIZE: u32 = 1 << 20;

/// A running server; stopped (and its threads told to end) when dropped.
pub struct Nfsd {
    /// The TCP port on 127.0.0.1 serving NFS and MOUNT.
    pub port: u16,
    stop: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
    /// Every procedure served, by name (for the test's report).
    pub calls: Arc<Mutex<HashMap<&'static str, u64>>>,
}

impl Drop for Nfsd {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop, close the connections.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Ok(c) = self.conns.lock() {
            for s in c.iter() {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    }
}

/// Handles are host inode numbers; this maps them back to paths inside the export.
struct State {
    root: PathBuf,
    paths: HashMap<u64, PathBuf>,
    verf: [u8; 8],
}

impl State {
    fn handle(&mut self, p: &Path) -> Option<u64> {
        let ino = fs::symlink_metadata(p).ok()?.ino();
        self.paths.insert(ino, p.to_path_buf());
        Some(ino)
    }
    fn path(&self, fh: &[u8]) -> Result<PathBuf, u32> {
        let ino = u64::from_be_bytes(fh.try_into().map_err(|_| NFS3ERR_BADHANDLE)?);
        let p = self.paths.get(&ino).ok_or(NFS3ERR_STALE)?;
        match fs::symlink_metadata(p) {
            Ok(m) if m.ino() == ino => Ok(p.clone()),
            _ => Err(NFS3ERR_STALE),
        }
    }
}

/// Starts the server on 127.0.0.1 (an ephemeral port) exporting `root` as `/export`.
pub fn start(root: &Path) -> Result<Nfsd> {
    let l = TcpListener::bind(("127.0.0.1", 0)).context("bind 127.0.0.1")?;
    let port = l.local_addr()?.port();
    let mut paths = HashMap::new();
    paths.insert(fs::metadata(root)?.ino(), root.to_path_buf());
    let verf = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        .to_be_bytes();
    let state = Arc::new(Mutex::new(State {
        root: root.to_path_buf(),
        paths,
        verf,
    }));
    let stop = Arc::new(AtomicBool::new(false));
    let conns = Arc::new(Mutex::new(Vec::new()));
    let calls = Arc::new(Mutex::new(HashMap::new()));
    let (st, cn, ca) = (stop.clone(), conns.clone(), calls.clone());
    std::thread::spawn(move || {
        for s in l.incoming() {
            if st.load(Ordering::SeqCst) {
                break;
            }
            let Ok(s) = s else { continue };
            if let Ok(c) = s.try_clone() {
                if let Ok(mut v) = cn.lock() {
                    v.push(c);
                }
            }
            let (state, calls) = (state.clone(), ca.clone());
            std::thread::spawn(move || serve(s, &state, &calls));
        }
    });
    Ok(Nfsd {
        port,
        stop,
        conns,
        calls,
    })
}

fn serve(mut s: TcpStream, state: &Mutex<State>, calls: &Mutex<HashMap<&'static str, u64>>) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(900)));
    loop {
        let mut rec = Vec::new();
        loop {
            let mut h = [0u8; 4];
            if s.read_exact(&mut h).is_err() {
                return;
            }
            let h = u32::from_be_bytes(h);
            let len = (h & 0x7fff_ffff) as usize;
            if rec.len() + len > MAX_RECORD {
                return;
            }
            let start = rec.len();
            rec.resize(start + len, 0);
            if s.read_exact(&mut rec[start..]).is_err() {
                return;
            }
            if h & 0x8000_0000 != 0 {
                break;
            }
        }
        let Some(reply) = call(&rec, state, calls) else {
            return;
        };
        let mut out = Vec::with_capacity(reply.len() + 4);
        out.extend_from_slice(&(0x8000_0000u32 | reply.len() as u32).to_be_bytes());
        out.extend_from_slice(&reply);
        if s.write_all(&out).is_err() {
            return;
        }
    }
}

/// XDR decoding of a call's arguments.
struct Dec<'a> {
    b: &'a [u8],
    o: usize,
}

impl<'a> Dec<'a> {
    fn u32(&mut self) -> Option<u32> {
        let v = self.b.get(self.o..self.o + 4)?;
        self.o += 4;
        Some(u32::from_be_bytes(v.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some((u64::from(self.u32()?) << 32) | u64::from(self.u32()?))
    }
    fn opaque(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        let v = self.b.get(self.o..self.o.checked_add(n)?)?;
        self.o += n.div_ceil(4) * 4;
        Some(v)
    }
    fn fixed(&mut self, n: usize) -> Option<&'a [u8]> {
        let v = self.b.get(self.o..self.o + n)?;
        self.o += n;
        Some(v)
    }
    fn bool(&mut self) -> Option<bool> {
        Some(self.u32()? != 0)
    }
    /// sattr3: (mode, size, whether atime/mtime are set).
    fn sattr(&mut self) -> Option<(Option<u32>, Option<u64>)> {
        let mode = if self.bool()? {
            Some(self.u32()?)
        } else {
            None
        };
        if self.bool()? {
            self.u32()?; // uid
        }
        if self.bool()? {
            self.u32()?; // gid
        }
        let size = if self.bool()? {
            Some(self.u64()?)
        } else {
            None
        };
        for _ in 0..2 {
            if self.u32()? == 2 {
                self.u64()?; // client time
            }
        }
        Some((mode, size))
    }
}

/// XDR encoding of a reply.
#[derive(Default)]
struct Enc(Vec<u8>);

impl Enc {
    fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn opaque(&mut self, v: &[u8]) -> &mut Self {
        self.u32(v.len() as u32);
        self.0.extend_from_slice(v);
        self.0.resize(self.0.len().div_ceil(4) * 4, 0);
        self
    }
    fn fh(&mut self, ino: u64) -> &mut Self {
        self.opaque(&ino.to_be_bytes())
    }
    fn fattr(&mut self, m: &fs::Metadata) -> &mut Self {
        let ft = m.file_type();
        let kind = if ft.is_dir() {
            2
        } else if ft.is_symlink() {
            5
        } else {
            1
        };
        self.u32(kind)
            .u32(m.mode() & 0o7777)
            .u32(m.nlink() as u32)
            .u32(m.uid())
            .u32(m.gid())
            .u64(m.size())
            .u64(m.blocks() * 512)
            .u32(0)
            .u32(0)
            .u64(1) // fsid
            .u64(m.ino());
        for (s, ns) in [
            (m.atime(), m.atime_nsec()),
            (m.mtime(), m.mtime_nsec()),
            (m.ctime(), m.ctime_nsec()),
        ] {
            self.u32(s as u32).u32(ns as u32);
        }
        self
    }
    fn post_op(&mut self, p: &Path) -> &mut Self {
        match fs::symlink_metadata(p) {
            Ok(m) => self.u32(1).fattr(&m),
            Err(_) => self.u32(0),
        }
    }
    /// wcc_data without the "before" attributes.
    fn wcc(&mut self, p: &Path) -> &mut Self {
        self.u32(0).post_op(p)
    }
}

fn errno(e: &std::io::Error) -> u32 {
    match e.raw_os_error() {
        Some(2) => NFS3ERR_NOENT,
        Some(17) => NFS3ERR_EXIST,
        Some(20) => NFS3ERR_NOTDIR,
        Some(22) => NFS3ERR_INVAL,
        Some(28) => NFS3ERR_NOSPC,
        Some(36) => NFS3ERR_NAMETOOLONG,
        Some(39) => NFS3ERR_NOTEMPTY,
        _ => NFS3ERR_IO,
    }
}

/// The path of entry `name` of `dir`: one component; `..` never leaves the export `root`.
fn child(root: &Path, dir: &Path, name: &[u8]) -> Result<PathBuf, u32> {
    let n = std::str::from_utf8(name).map_err(|_| NFS3ERR_INVAL)?;
    if n.is_empty() || n.len() > 255 || n.contains('/') || n.contains('\0') {
        return Err(NFS3ERR_INVAL);
    }
    if n == "." {
        return Ok(dir.to_path_buf());
    }
    if n == ".." {
        if dir == root {
            return Ok(dir.to_path_buf());
        }
        return Ok(dir.parent().unwrap_or(dir).to_path_buf());
    }
    Ok(dir.join(n))
}

const NAMES: [&str; 22] = [
    "NULL",
    "GETATTR",
    "SETATTR",
    "LOOKUP",
    "ACCESS",
    "READLINK",
    "READ",
    "WRITE",
    "CREATE",
    "MKDIR",
    "SYMLINK",
    "MKNOD",
    "REMOVE",
    "RMDIR",
    "RENAME",
    "LINK",
    "READDIR",
    "READDIRPLUS",
    "FSSTAT",
    "FSINFO",
    "PATHCONF",
    "COMMIT",
];

/// One RPC call → its reply (None: not a call, drop the connection).
fn call(
    rec: &[u8],
    state: &Mutex<State>,
    calls: &Mutex<HashMap<&'static str, u64>>,
) -> Option<Vec<u8>> {
    let mut d = Dec { b: rec, o: 0 };
    let xid = d.u32()?;
    if d.u32()? != 0 || d.u32()? != 2 {
        return None;
    }
    let (prog, vers, proc_) = (d.u32()?, d.u32()?, d.u32()?);
    d.u32()?; // cred flavor
    d.opaque()?;
    d.u32()?; // verifier
    d.opaque()?;
    let mut r = Enc::default();
    r.u32(xid).u32(1).u32(0).u32(0).u32(0); // reply, accepted, AUTH_NULL verifier
    let accept_at = r.0.len();
    r.u32(0); // SUCCESS (patched below)
    let mut st = state.lock().ok()?;
    let res = match (prog, vers) {
        (PROG_MOUNT, 3) => {
            let name = match proc_ {
                0 => "MOUNT NULL",
                1 => "MNT",
                3 => "UMNT",
                _ => "MOUNT other",
            };
            if let Ok(mut c) = calls.lock() {
                *c.entry(name).or_default() += 1;
            }
            mount_proc(proc_, &mut d, &mut st, &mut r)
        }
        (PROG_NFS, 3) => {
            let name = NAMES.get(proc_ as usize).copied().unwrap_or("other");
            if let Ok(mut c) = calls.lock() {
                *c.entry(name).or_default() += 1;
            }
            nfs_proc(proc_, &mut d, &mut st, &mut r)
        }
        (PROG_MOUNT, _) | (PROG_NFS, _) => {
            r.0.truncate(accept_at);
            r.u32(2).u32(3).u32(3); // PROG_MISMATCH, low 3, high 3
            return Some(r.0);
        }
        _ => {
            r.0.truncate(accept_at);
            r.u32(1); // PROG_UNAVAIL
            return Some(r.0);
        }
    };
    match res {
        Some(true) => Some(r.0),
        Some(false) => {
            r.0.truncate(accept_at);
            r.u32(3); // PROC_UNAVAIL
            Some(r.0)
        }
        None => {
            r.0.truncate(accept_at);
            r.u32(4); // GARBAGE_ARGS
            Some(r.0)
        }
    }
}

fn mount_proc(p: u32, d: &mut Dec, st: &mut State, r: &mut Enc) -> Option<bool> {
    match p {
        0 => {}
        1 => {
            let path = d.opaque()?;
            if path == b"/export" || path == b"/export/" {
                let root = st.root.clone();
                let ino = st.handle(&root)?;
                r.u32(0).fh(ino).u32(1).u32(1); // OK, handle, flavors [AUTH_UNIX]
            } else {
                r.u32(NFS3ERR_NOENT);
            }
        }
        3 => {
            d.opaque()?;
        }
        _ => return Some(false),
    }
    Some(true)
}

fn nfs_proc(p: u32, d: &mut Dec, st: &mut State, r: &mut Enc) -> Option<bool> {
    if p == 0 {
        return Some(true);
    }
    if p > 21 {
        return Some(false);
    }
    let fh = d.opaque()?;
    let root = st.root.clone();
    let obj = match st.path(fh) {
        Ok(p) => p,
        Err(e) => {
            r.u32(e);
            // Every failing result of these procedures starts with attributes or wcc data
            // that may be "absent": one or two FALSE words.
            match p {
                1 => r,
                2 | 7 | 8 | 9 | 10 | 11 | 12 | 13 | 21 => r.u32(0).u32(0),
                14 => r.u32(0).u32(0).u32(0).u32(0),
                15 => r.u32(0).u32(0).u32(0),
                _ => r.u32(0),
            };
            return Some(true);
        }
    };
    match p {
        1 => match fs::symlink_metadata(&obj) {
            Ok(m) => {
                r.u32(NFS3_OK).fattr(&m);
            }
            Err(e) => {
                r.u32(errno(&e));
            }
        },
        2 => {
            let (mode, size) = d.sattr()?;
            let mut res = Ok(());
            if let Some(m) = mode {
                res = fs::set_permissions(&obj, fs::Permissions::from_mode(m & 0o7777));
            }
            if let (Ok(()), Some(sz)) = (&res, size) {
                res = OpenOptions::new()
                    .write(true)
                    .open(&obj)
                    .and_then(|f| f.set_len(sz));
            }
            match res {
                Ok(()) => r.u32(NFS3_OK).wcc(&obj),
                Err(e) => r.u32(errno(&e)).wcc(&obj),
            };
        }
        3 => {
            let name = d.opaque()?;
            match child(&root, &obj, name) {
                Ok(c) => match st.handle(&c) {
                    Some(ino) => {
                        r.u32(NFS3_OK).fh(ino).post_op(&c).post_op(&obj);
                    }
                    None => {
                        r.u32(NFS3ERR_NOENT).post_op(&obj);
                    }
                },
                Err(e) => {
                    r.u32(e).post_op(&obj);
                }
            }
        }
        4 => {
            let want = d.u32()?;
            r.u32(NFS3_OK).post_op(&obj).u32(want);
        }
        6 => {
            let off = d.u64()?;
            let count = d.u32()?.min(IO_SIZE) as usize;
            let mut buf = vec![0u8; count];
            match File::open(&obj).and_then(|f| f.read_at(&mut buf, off)) {
                Ok(n) => {
                    let size = fs::metadata(&obj).map_or(0, |m| m.size());
                    r.u32(NFS3_OK)
                        .post_op(&obj)
                        .u32(n as u32)
                        .u32(u32::from(off + n as u64 >= size))
                        .opaque(&buf[..n]);
                }
                Err(e) => {
                    r.u32(errno(&e)).post_op(&obj);
                }
            }
        }
        7 => {
            let off = d.u64()?;
            d.u32()?; // count
            d.u32()?; // stable
            let data = d.opaque()?;
            match OpenOptions::new()
                .write(true)
                .open(&obj)
                .and_then(|f| f.write_all_at(data, off))
            {
                Ok(()) => {
                    r.u32(NFS3_OK).wcc(&obj).u32(data.len() as u32).u32(0);
                    r.0.extend_from_slice(&st.verf);
                }
                Err(e) => {
                    r.u32(errno(&e)).wcc(&obj);
                }
            }
        }
        8 | 9 => {
            let name = d.opaque()?;
            let mut size = None;
            let (mode, exclusive) = if p == 9 {
                (d.sattr()?.0.unwrap_or(0o755), false)
            } else {
                match d.u32()? {
                    2 => {
                        d.fixed(8)?;
                        (0o644, true)
                    }
                    how => {
                        let (m, sz) = d.sattr()?;
                        size = sz;
                        (m.unwrap_or(0o644), how == 1)
                    }
                }
            };
            let made = child(&root, &obj, name)
                .map_err(|e| (e, None))
                .and_then(|c| {
                    let res = if p == 9 {
                        fs::create_dir(&c)
                    } else {
                        let mut o = OpenOptions::new();
                        o.write(true);
                        if exclusive {
                            o.create_new(true);
                        } else {
                            o.create(true);
                        }
                        o.open(&c)
                            .and_then(|f| size.map_or(Ok(()), |sz| f.set_len(sz)))
                    };
                    res.and_then(|()| fs::set_permissions(&c, fs::Permissions::from_mode(mode)))
                        .map(|()| c)
                        .map_err(|e| (errno(&e), None::<()>))
                });
            match made {
                Ok(c) => {
                    let ino = st.handle(&c).unwrap_or(0);
                    r.u32(NFS3_OK).u32(1).fh(ino).post_op(&c).wcc(&obj);
                }
                Err((e, _)) => {
                    r.u32(e).wcc(&obj);
                }
            }
        }
        12 | 13 => {
            let name = d.opaque()?;
            let res = child(&root, &obj, name).and_then(|c| {
                if p == 12 {
                    fs::remove_file(&c)
                } else {
                    fs::remove_dir(&c)
                }
                .map_err(|e| errno(&e))
            });
            r.u32(res.err().unwrap_or(NFS3_OK)).wcc(&obj);
        }
        14 => {
            let from_name = d.opaque()?;
            let to_fh = d.opaque()?;
            let to_name = d.opaque()?;
            let to_dir = st.path(to_fh);
            let res = to_dir.clone().and_then(|td| {
                let from = child(&root, &obj, from_name)?;
                let to = child(&root, &td, to_name)?;
                let ino = fs::symlink_metadata(&from).map_err(|e| errno(&e))?.ino();
                fs::rename(&from, &to).map_err(|e| errno(&e))?;
                st.paths.insert(ino, to);
                Ok(())
            });
            r.u32(res.err().unwrap_or(NFS3_OK)).wcc(&obj);
            match to_dir {
                Ok(td) => r.wcc(&td),
                Err(_) => r.u32(0).u32(0),
            };
        }
        16 => {
            let cookie = d.u64()?;
            d.fixed(8)?;
            let count = d.u32()? as usize;
            let mut names: Vec<(u64, Vec<u8>)> = vec![];
            if let Ok(rd) = fs::read_dir(&obj) {
                for e in rd.flatten() {
                    use std::os::unix::ffi::OsStrExt;
                    if let Ok(m) = e.metadata() {
                        names.push((m.ino(), e.file_name().as_bytes().to_vec()));
                    }
                }
            }
            names.sort();
            r.u32(NFS3_OK).post_op(&obj).u64(0);
            let mut eof = true;
            for (i, (ino, name)) in names.iter().enumerate().skip(cookie as usize) {
                if r.0.len() + name.len() + 32 > count.min(IO_SIZE as usize) {
                    eof = false;
                    break;
                }
                r.u32(1).u64(*ino).opaque(name).u64(i as u64 + 1);
            }
            r.u32(0).u32(u32::from(eof));
        }
        18 => {
            let big = 1u64 << 40;
            r.u32(NFS3_OK).post_op(&obj);
            r.u64(big)
                .u64(big)
                .u64(big)
                .u64(1 << 20)
                .u64(1 << 20)
                .u64(1 << 20)
                .u32(0);
        }
        19 => {
            r.u32(NFS3_OK).post_op(&obj);
            r.u32(IO_SIZE).u32(IO_SIZE).u32(4096); // rtmax, rtpref, rtmult
            r.u32(IO_SIZE).u32(IO_SIZE).u32(4096); // wtmax, wtpref, wtmult
            r.u32(65536).u64(u64::MAX >> 1).u32(0).u32(1); // dtpref, maxfilesize, time_delta
            r.u32(0x8 | 0x10); // FSF3_HOMOGENEOUS | FSF3_CANSETTIME
        }
        20 => {
            r.u32(NFS3_OK).post_op(&obj);
            r.u32(1).u32(255).u32(1).u32(1).u32(0).u32(1);
        }
        21 => {
            let res = File::open(&obj).and_then(|f| f.sync_data());
            match res {
                Ok(()) => {
                    r.u32(NFS3_OK).wcc(&obj);
                    r.0.extend_from_slice(&st.verf);
                }
                Err(e) => {
                    r.u32(errno(&e)).wcc(&obj);
                }
            }
        }
        _ => {
            // READLINK, SYMLINK, MKNOD, LINK, READDIRPLUS: not needed by kdump save.
            r.u32(NFS3ERR_NOTSUPP).u32(0);
            if p == 15 {
                r.u32(0).u32(0);
            }
            if matches!(p, 10 | 11) {
                r.u32(0);
            }
        }
    }
    Some(true)
}
