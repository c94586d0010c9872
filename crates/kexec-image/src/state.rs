//! kexec state from /sys/kernel: whether a kernel / panic kernel is loaded, the crash size.

use crate::sysview::SystemView;
use crate::Error;

/// The loader state the kernel reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KexecState {
    /// /sys/kernel/kexec_loaded.
    pub loaded: bool,
    /// /sys/kernel/kexec_crash_loaded.
    pub crash_loaded: bool,
    /// /sys/kernel/kexec_crash_size (bytes reserved for the crash kernel).
    pub crash_size: u64,
}

fn num(view: &dyn SystemView, path: &str) -> Result<u64, Error> {
    let t = view.read_text(path).map_err(|e| Error::Io {
        path: path.into(),
        source: e,
    })?;
    t.trim().parse().map_err(|_| Error::Parse {
        source_name: path.into(),
        line: 1,
        msg: format!("expected a number, found {:?}", t.trim()),
    })
}

/// Read the state.
pub fn read(view: &dyn SystemView) -> Result<KexecState, Error> {
    Ok(KexecState {
        loaded: num(view, "/sys/kernel/kexec_loaded")? != 0,
        crash_loaded: num(view, "/sys/kernel/kexec_crash_loaded")? != 0,
        crash_size: num(view, "/sys/kernel/kexec_crash_size").unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sysview::MemSystem;

    #[test]
    fn reads_state() {
        let mut s = MemSystem::default();
        s.insert("/sys/kernel/kexec_loaded", "1\n")
            .insert("/sys/kernel/kexec_crash_loaded", "0\n")
            .insert("/sys/kernel/kexec_crash_size", "201326592\n");
        assert_eq!(
            read(&s).unwrap(),
            KexecState {
                loaded: true,
                crash_loaded: false,
                crash_size: 201326592
            }
        );
        s.insert("/sys/kernel/kexec_loaded", "x\n");
        assert!(read(&s).is_err());
    }
}
