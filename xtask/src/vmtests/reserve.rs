//! VM test of issue 8: in a guest booted with `crashkernel=192M`, `kdump status` reports the
//! reservation from sysfs and /proc/iomem and judges that the images fit, and the SysV service
//! written by `kdump install-service --sysv` loads the panic kernel on start and unloads it on
//! stop. Scenario: xtask/guest/scenarios/reserve-service.sh.

use super::{expect, run_scenario};
use crate::initramfs;
use crate::kernel::{Kernel, Series};
use crate::qemu::GuestSpec;
use anyhow::Result;
use std::time::Duration;

/// Boot, run the scenario, and check each value it reports.
pub fn reserve_service(series: Series) -> Result<()> {
    let k = Kernel::get(series)?;
    let mut spec = GuestSpec::new(
        &format!("reserve-service-{}", series.name()),
        &k,
        "reserve-service",
    );
    spec.mem_mb = 1024;
    spec.append = "crashkernel=192M".into();
    spec.initramfs = initramfs::Spec {
        ours: true,
        kexec_payload: true,
        ..Default::default()
    };
    let g = run_scenario(spec, Duration::from_secs(400))?;
    let want = [
        ("crash_size", "201326592"),
        ("status_reserved", "192M"),
        ("status_iomem", "ok"),
        ("status_fit", "yes"),
        ("install_rc", "0"),
        ("service_start_rc", "0"),
        ("loaded_after_start", "1"),
        ("service_stop_rc", "0"),
        ("loaded_after_stop", "0"),
    ];
    for (key, value) in want {
        expect(&g, key, value)?;
    }
    Ok(())
}
