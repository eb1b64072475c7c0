//! The `teleaudit` binary: the process boundary. Everything else is in the
//! library; `cli::main` returns the exit code (0 clean, 1 findings, 2
//! errors). A broken pipe on stdout ends the run quietly with 0.

fn main() -> std::process::ExitCode {
    teleaudit::cli::main()
}
