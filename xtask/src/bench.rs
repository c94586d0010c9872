//! `cargo xtask bench`: a stub until the crates have benchmarks to run.

use anyhow::Result;

/// Say what this command will do.
pub fn bench() -> Result<()> {
    println!(
        "cargo xtask bench: not wired yet. It will run each crate's benchmark programs (benches/ \
         and the crates' examples) on the cached fixtures (cargo xtask fixtures, manifest.json) \
         next to Debian's makedumpfile on the same input, and print one table of wall time, \
         peak memory and output size per tool and mode. Timings are printed, never asserted."
    );
    Ok(())
}
