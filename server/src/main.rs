/// jemalloc rather than glibc's allocator: with a thread per core and the delivery
/// pipeline handing buffers between them, glibc's per-thread arenas kept what was freed
/// (a mail fan-out's peak RSS was 80 MB with glibc's defaults, 56 MB when limited to two
/// arenas; mimalloc held several times more).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    herald::cli::main()
}
