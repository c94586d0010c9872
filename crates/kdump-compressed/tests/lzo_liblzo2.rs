//! LZO interoperability with liblzo2: recorded vectors (made by tests/data/lzo/gen.py with
//! python3-lzo) decode with our decompressor, and our compressor's output decodes with liblzo2
//! when python3-lzo is installed.

use kdump_compressed::lzo;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/lzo")
}

fn raws() -> Vec<(String, Vec<u8>)> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(data_dir()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "raw") {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            v.push((name, std::fs::read(&p).unwrap()));
        }
    }
    v.sort();
    v
}

#[test]
fn liblzo2_vectors_decode() {
    let raws = raws();
    assert!(raws.len() >= 8);
    let mut n = 0;
    for (name, raw) in &raws {
        for level in ["1", "999"] {
            let c = std::fs::read(data_dir().join(format!("{name}.{level}.lzo"))).unwrap();
            let mut out = vec![0u8; raw.len()];
            assert_eq!(
                lzo::decompress(&c, &mut out),
                Ok(raw.len()),
                "{name}.{level}"
            );
            assert_eq!(&out, raw, "{name}.{level}");
            n += 1;
        }
    }
    assert_eq!(n, raws.len() * 2);
}

#[test]
fn our_output_decodes_with_liblzo2() {
    let py = "/usr/bin/python3";
    let ok = Command::new(py)
        .args(["-c", "import lzo"])
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("SKIP: python3-lzo (liblzo2) not available at {py}");
        return;
    }
    let dir = std::env::temp_dir().join(format!("kdump-lzo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut names = Vec::new();
    for (name, raw) in raws() {
        std::fs::write(dir.join(format!("{name}.ours")), lzo::compress(&raw)).unwrap();
        std::fs::write(dir.join(format!("{name}.raw")), &raw).unwrap();
        names.push(name);
    }
    let script = r#"
import lzo, sys, os
d = sys.argv[1]
for name in sys.argv[2:]:
    raw = open(os.path.join(d, name + ".raw"), "rb").read()
    c = open(os.path.join(d, name + ".ours"), "rb").read()
    out = lzo.decompress(c, False, max(len(raw), 1))
    assert out == raw, name
print("ok", len(sys.argv) - 2)
"#;
    let out = Command::new(py)
        .arg("-c")
        .arg(script)
        .arg(&dir)
        .args(&names)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        out.status.success(),
        "liblzo2 rejected our stream: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("ok {}", names.len())
    );
}
