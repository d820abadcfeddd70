//! The `herald` binary, built inside the test package so black-box tests can run the
//! real command line (`CARGO_BIN_EXE_herald-cli`); it is `server/src/main.rs` exactly.

fn main() -> std::process::ExitCode {
    herald::cli::main()
}
