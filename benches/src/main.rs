//! Benchmarks against makedumpfile on the same input; `cargo xtask bench` runs this.

fn main() {
    eprintln!("kdump-bench: no benchmarks yet");
    std::process::exit(2);
}
