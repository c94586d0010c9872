//! `cargo xtask`: setup, lab, fixtures, test, bench, fuzz, demo.

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some(cmd) => anyhow::bail!("xtask: `{cmd}` is not implemented yet"),
        None => anyhow::bail!("usage: cargo xtask <setup|lab|fixtures|test|bench|fuzz|demo>"),
    }
}
