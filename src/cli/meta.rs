//! Commands about the tool itself: shell completions and manual pages,
//! generated from the same argument definitions `--help` prints, so they
//! cannot drift from the binary.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory};

use super::{Cli, fail};

#[derive(Args, Debug)]
pub(super) struct CompletionsArgs {
    /// The shell to complete for.
    shell: clap_complete::Shell,
}

#[derive(Args, Debug)]
pub(super) struct ManArgs {
    /// Folder to write `teleaudit.1` and one page per command into
    /// (created if missing).
    #[arg(long, value_name = "DIR", default_value = "target/man")]
    out: PathBuf,
}

/// Writes the completion script for a shell to stdout
/// (`teleaudit completions bash > /etc/bash_completion.d/teleaudit`).
pub(super) fn completions(a: CompletionsArgs) -> ExitCode {
    let mut cmd = Cli::command();
    // Into memory first: the generator panics on a failed write (a
    // closed pipe), a Vec never fails.
    let mut script = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "teleaudit", &mut script);
    match io::stdout().write_all(&script) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if super::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => fail(format_args!("cannot write the completions: {e}")),
    }
}

/// Writes the manual pages (roff) into a folder.
pub(super) fn man(a: ManArgs) -> ExitCode {
    if let Err(e) = std::fs::create_dir_all(&a.out) {
        return fail(format_args!("cannot create {}: {e}", a.out.display()));
    }
    match clap_mangen::generate_to(Cli::command(), &a.out) {
        Ok(()) => {
            println!(
                "manual pages written to {} (read one with `man -l {}/teleaudit.1`)",
                a.out.display(),
                a.out.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(format_args!("cannot write the manual pages to {}: {e}", a.out.display())),
    }
}
