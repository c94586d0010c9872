//! `write_atomic` under a real failure in the middle of the write: the test re-runs itself in
//! a child process whose file size limit (`ulimit -f 1`, SIGXFSZ ignored) makes the kernel
//! refuse the write with EFBIG after the first block, like a disk filling up. The original
//! file must be intact and no temporary file left.

use std::path::Path;
use std::process::Command;

const CHILD: &str = "KDUMP_CONF_SAVE_CHILD";
const OLD: &str = "path /var/crash\ncore_collector makedumpfile -l --message-level 7 -d 31\n";

#[test]
fn write_failing_mid_file_leaves_the_original() {
    if let Ok(path) = std::env::var(CHILD) {
        // Child: 8 KiB of new text, over the 512 or 1024 bytes the limit allows.
        let big = "path /srv/crash\n".repeat(512);
        match kdump_conf::write_atomic(Path::new(&path), big.as_bytes()) {
            Ok(()) => println!("RESULT ok"),
            Err(e) => println!("RESULT err {} {:?} ({e})", e.what, e.source.raw_os_error()),
        }
        return;
    }
    let dir = std::env::temp_dir().join(format!("kdump-conf-efbig-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("kdump.conf");
    std::fs::write(&conf, OLD).unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 1 && exec \"$0\" --exact write_failing_mid_file_leaves_the_original --nocapture --test-threads=1")
        .arg(std::env::current_exe().unwrap())
        .env(CHILD, &conf)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.find("RESULT").map(|i| &l[i..]))
        .unwrap_or_else(|| {
            panic!(
                "child said nothing: {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    // EFBIG (27) while writing the temporary file.
    assert!(line.starts_with("RESULT err writing Some(27)"), "{line}");
    assert_eq!(
        std::fs::read_to_string(&conf).unwrap(),
        OLD,
        "original intact"
    );
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["kdump.conf"], "temporary file removed");
    std::fs::remove_dir_all(&dir).unwrap();
}
