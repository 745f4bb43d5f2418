//! The `reach` binary.

/// mimalloc rather than glibc's malloc: each check allocates a few hundred
/// small blocks on whichever runtime thread polls it, and frees most of them
/// on another; glibc's arenas made that about a tenth of a check's client
/// CPU (`cargo xtask bench cpu`, README "Performance").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(reach_cli::run());
}
