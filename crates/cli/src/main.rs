//! The `reach` binary.

fn main() {
    std::process::exit(reach_cli::run());
}
