//! cli: command-line arguments (clap) to a frozen, validated
//! configuration, then the run. Rule files and the profile are loaded and
//! checked before any capture is opened: a bad rule file stops the run
//! with exit code 2 and nothing scanned; so is an output file that is
//! also an input ([`output::check_outputs`]). Files are written whole or
//! not at all ([`output::AtomicOutput`]). Everything printed to stderr
//! goes through [`escape_text`]: paths and messages hold bytes from file
//! names and captures.

mod merge;
mod meta;
mod output;
mod show;

use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::app::AppConfig;
use crate::app::tls::TlsLimits;
use crate::app::tls::keylog::{self, KeyLog};
use crate::baseline::{self, Baseline};
use crate::detect::Engine;
use crate::detect::profile::Profile;
use crate::detect::rules::{Matcher, RuleSet};
use crate::finding::{FileReport, Finding, Severity};
use crate::flow::FlowLimits;
use crate::http::HttpLimits;
use crate::report::filter::DisplayFilter;
use crate::report::jsonl::JsonlReporter;
use crate::report::safe::escape_text;
use crate::report::sarif::SarifReporter;
use crate::report::text::TextReporter;
use crate::report::{ReportOptions, Reporter, Summary};
use crate::scan::{self, Discovery, Event, Mode, ScanConfig};
use output::{AtomicOutput, Output, check_outputs};

/// Exit codes, as grep and ripgrep use them.
pub const EXIT_CLEAN: u8 = 0;
pub const EXIT_FOUND: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

#[derive(Parser, Debug)]
#[command(name = "teleaudit", version, about = "Find device identifiers uploaded in packet captures")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Scan captures for uploads that carry identifiers.
    Scan(ScanArgs),
    /// List every HTTP request rebuilt from the captures.
    Requests(RequestsArgs),
    /// Leaks that are new, or gone, between two captures or folders:
    /// "which leaks did this firmware build add?"
    Diff(DiffArgs),
    /// List or check rules.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// The one report of a sharded run: reads the shard files of
    /// `scan --shard I/N --format shard` (or `requests`) and writes what
    /// a single run would have, with the same exit code.
    Merge(merge::MergeArgs),
    /// One HTTP request whole: request line, headers, decoded body, and
    /// every finding in it with its decoding chain.
    Show(show::ShowArgs),
    /// Print the shell completion script (bash, zsh, fish, elvish,
    /// powershell) to stdout.
    Completions(meta::CompletionsArgs),
    /// Write the manual pages (roff) into a folder (default target/man).
    Man(meta::ManArgs),
}

#[derive(Args, Debug)]
struct DiffArgs {
    /// The earlier capture or folder.
    old: PathBuf,
    /// The later capture or folder.
    new: PathBuf,
    #[command(flatten)]
    detection: DetectionArgs,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Write the leaks there instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Exit 1 if a new leak is at or above this severity.
    #[arg(long, value_enum, default_value_t = FailOn::Low)]
    fail_on: FailOn,
    /// Print identifier values unmasked.
    #[arg(long)]
    show_values: bool,
    /// Workers: files scanned in parallel, or, for one capture, its
    /// connections shared among N workers (default: number of cores).
    #[arg(short, long, value_name = "N")]
    jobs: Option<usize>,
    #[command(flatten)]
    limits: LimitArgs,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Jsonl,
    Sarif,
    /// One self-contained HTML page (`-o report.html`).
    Html,
    /// A SQLite database (`-o FILE` required; a run is appended).
    Sqlite,
    /// A shard file for `teleaudit merge` (`-o FILE` required): every
    /// event, values unmasked. See `--shard`.
    Shard,
}

/// Formats of `requests` (a listing has no SARIF form).
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum ListFormat {
    Text,
    Jsonl,
    /// A shard file for `teleaudit merge` (`-o FILE` required).
    Shard,
}

/// `--min-severity`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum MinSeverity {
    Low,
    Medium,
    High,
}

/// When the text report is coloured.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set or `TERM=dumb`;
    /// `CLICOLOR_FORCE=1` colours stdout that is not a terminal.
    Auto,
    Always,
    Never,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum FailOn {
    Low,
    Medium,
    High,
    Never,
}

/// Rules and profile: what detection loads.
#[derive(Args, Debug)]
struct DetectionArgs {
    /// Extra rule file or folder (repeatable); built-in rules always load
    /// unless --no-default-rules.
    #[arg(long = "rules", value_name = "PATH")]
    rules: Vec<PathBuf>,
    /// Do not load the built-in rules.
    #[arg(long)]
    no_default_rules: bool,
    /// Device profile (TOML): known identifier values to search for.
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
    /// Also report the IMEIs of emulators and test tools (Android SDK
    /// emulator, Genymotion), which identify no device.
    #[arg(long)]
    include_test_devices: bool,
}

impl DetectionArgs {
    /// Loads, checks and compiles rules and profile, before any capture
    /// is opened: a bad file is reported and nothing is scanned.
    /// `--no-default-rules` without `--rules`, a rule set with no rule,
    /// and a profile with a kind that is no identifier kind or that no
    /// loaded rule reports are errors: such a run could only pass.
    fn engine(&self) -> Result<Engine, ExitCode> {
        if self.no_default_rules && self.rules.is_empty() {
            return Err(fail("--no-default-rules needs --rules PATH: with no rules nothing can be found"));
        }
        let rules = load_rules(&self.rules, !self.no_default_rules).map_err(fail_all)?;
        if rules.rules.is_empty() {
            let paths: Vec<String> = self.rules.iter().map(|p| p.display().to_string()).collect();
            return Err(fail(format_args!("no rules loaded from {}: nothing could be found", paths.join(", "))));
        }
        let profile = self.profile.as_deref().map(Profile::load).transpose().map_err(fail_all)?;
        if let Some(p) = &profile {
            let problems = p.check_kinds(&rules);
            if !problems.is_empty() {
                return Err(fail_all(problems));
            }
        }
        let mut engine = Engine::new(rules, profile.as_ref());
        engine.include_test_devices = self.include_test_devices;
        Ok(engine)
    }
}

/// Named limits a user may change (DESIGN: every limit named and
/// configurable; hitting one is counted in the capture record).
#[derive(Args, Debug)]
struct LimitArgs {
    /// Body bytes inspected per request.
    #[arg(long, value_name = "BYTES", default_value_t = HttpLimits::default().max_body)]
    max_body: usize,
    /// Live TCP connections; beyond it the longest idle are evicted.
    #[arg(long, value_name = "N", default_value_t = FlowLimits::default().max_flows)]
    max_flows: usize,
    /// Seconds of capture time after which an idle connection is evicted.
    #[arg(long, value_name = "SECS", default_value_t = FlowLimits::default().idle_timeout_secs)]
    idle_timeout: i64,
    /// Out-of-order bytes held per TCP direction before a gap is declared
    /// (each held segment also costs its bookkeeping, 128 bytes).
    #[arg(long, value_name = "BYTES", default_value_t = FlowLimits::default().early_per_direction)]
    max_reorder: usize,
    /// TLS record bytes held across all connections while they wait for
    /// keys that may come later in the capture (a Decryption Secrets Block).
    #[arg(long, value_name = "BYTES", default_value_t = TlsLimits::default().max_held_total)]
    max_tls_held: usize,
    /// Bytes held for inspection by all connections together (request
    /// heads and bodies being gathered, HTTP/2 streams, text); past it, a
    /// growing connection sends out what it has, noted.
    #[arg(long, value_name = "BYTES", default_value_t = crate::app::MAX_HELD)]
    max_held: usize,
    #[command(flatten)]
    keys: KeyArgs,
}

/// TLS key material.
#[derive(Args, Debug)]
struct KeyArgs {
    /// TLS secrets in NSS key log format (SSLKEYLOGFILE), repeatable;
    /// `$SSLKEYLOGFILE` when none is given. Decryption Secrets Blocks in
    /// pcapng files are always used.
    #[arg(long = "keylog", value_name = "FILE")]
    keylog: Vec<PathBuf>,
    /// Do not look for a key log beside each capture (`<capture>.keys`,
    /// `sslkeylog.txt`, ...: see README).
    #[arg(long)]
    no_keylog_beside: bool,
}

/// Largest key log file read.
const MAX_KEYLOG_FILE: u64 = 256 << 20;

impl KeyArgs {
    /// Reads the key logs: a file that cannot be read or is not a key
    /// log is an error (nothing is scanned); lines that cannot be used
    /// are warned about with their file and line.
    /// The key log files read: `--keylog`, else `$SSLKEYLOGFILE`; true
    /// when they come from the environment.
    fn paths(&self) -> (Vec<PathBuf>, bool) {
        let mut paths = self.keylog.clone();
        let from_env = paths.is_empty();
        if from_env && let Some(p) = std::env::var_os("SSLKEYLOGFILE").filter(|p| !p.is_empty()) {
            paths.push(PathBuf::from(p));
        }
        (paths, from_env)
    }

    /// SHA-256 (hex) of the key log files' contents, in order; `None`
    /// without any (a file that cannot be read counts as empty: loading
    /// it has already failed the run).
    fn digest(&self) -> Option<String> {
        use sha2::Digest;
        let (paths, _) = self.paths();
        if paths.is_empty() {
            return None;
        }
        let mut h = sha2::Sha256::new();
        for p in &paths {
            let text = std::fs::File::open(p)
                .and_then(|f| {
                    let mut t = Vec::new();
                    f.take(MAX_KEYLOG_FILE).read_to_end(&mut t).map(|_| t)
                })
                .unwrap_or_default();
            h.update(sha2::Sha256::digest(&text));
        }
        Some(hex::encode(h.finalize()))
    }

    fn load(&self) -> Result<KeyLog, String> {
        let (paths, from_env) = self.paths();
        let mut log = KeyLog::new();
        for p in &paths {
            let what = if from_env { "SSLKEYLOGFILE" } else { "key log" };
            let mut text = Vec::new();
            std::fs::File::open(p)
                .and_then(|f| f.take(MAX_KEYLOG_FILE).read_to_end(&mut text))
                .map_err(|e| format!("{what} {}: {e}", p.display()))?;
            if !text.is_empty() && !keylog::looks_like_keylog(&text) {
                return Err(format!(
                    "{what} {}: not an NSS key log (expected lines such as CLIENT_RANDOM <hex> <hex>)",
                    p.display()
                ));
            }
            for n in log.add(&text) {
                warn(format_args!("{}:{}", p.display(), n));
            }
        }
        Ok(log)
    }
}

impl LimitArgs {
    fn flow(&self) -> FlowLimits {
        FlowLimits {
            early_per_direction: self.max_reorder,
            max_flows: self.max_flows.max(1),
            idle_timeout_secs: self.idle_timeout.max(1),
            ..FlowLimits::default()
        }
    }

    /// The frozen configuration of a run with these limits and keys.
    fn config(
        &self,
        engine: Engine,
        mode: Mode,
        progress: Option<std::sync::Arc<scan::Progress>>,
    ) -> Result<ScanConfig, ExitCode> {
        let keylog = self.keys.load().map_err(fail)?;
        let tls = TlsLimits { max_held_total: self.max_tls_held, ..TlsLimits::default() };
        Ok(ScanConfig {
            engine,
            flow_limits: self.flow(),
            app: AppConfig { http: self.http(), tls, max_held: self.max_held },
            keylog: std::sync::Arc::new(keylog),
            keylog_beside: !self.keys.no_keylog_beside,
            mode,
            progress,
            apps: Vec::new(),
            show_frame: None,
            all_requests: false,
        })
    }

    fn http(&self) -> HttpLimits {
        HttpLimits { max_body: self.max_body, ..HttpLimits::default() }
    }
}

#[derive(Args, Debug)]
struct ScanArgs {
    /// Capture files or directories (recursive); `-` reads stdin.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    detection: DetectionArgs,
    #[command(flatten)]
    report: ReportArgs,
    /// Workers: files scanned in parallel, or, for one capture, its
    /// connections shared among N workers (default: number of cores).
    #[arg(short, long, value_name = "N")]
    jobs: Option<usize>,
    /// Report only what apps matching GLOB sent (repeatable; `*` any run;
    /// matched against the package or command name, the app label, and
    /// the uid or pid as `10123`, `uid:10123`, `pid:512`). Traffic of no
    /// known app is then left out.
    #[arg(long = "app", value_name = "GLOB")]
    apps: Vec<String>,
    /// Also list every HTTP request, with findings or not (JSON Lines
    /// `request` lines, SQLite `requests` rows).
    #[arg(long)]
    all_requests: bool,
    /// Scan only shard I of N of the inputs (0 <= I < N), split by a
    /// stable hash of each file's path under the folder given; `auto` from
    /// a Slurm job array, `auto/N` from a Kubernetes Indexed Job.
    #[arg(long, value_name = "I/N|auto|auto/N")]
    shard: Option<String>,
    #[command(flatten)]
    limits: LimitArgs,
}

/// How the findings are reported and judged (`scan`, `merge`).
#[derive(Args, Debug)]
struct ReportArgs {
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Write the report there instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Colour in the text report.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    /// Exit 1 if a finding is at or above this severity.
    #[arg(long, value_enum, default_value_t = FailOn::Low)]
    fail_on: FailOn,
    /// Print identifier values unmasked.
    #[arg(long)]
    show_values: bool,
    /// Text report: list every request with its findings too, not only
    /// each capture's distinct leaks.
    #[arg(long, short = 'v')]
    details: bool,
    #[command(flatten)]
    filter: FilterArgs,
    /// Suppress the leaks of this baseline (written by --write-baseline).
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// Write the leaks found to FILE as a baseline.
    #[arg(long, value_name = "FILE")]
    write_baseline: Option<PathBuf>,
}

impl ReportArgs {
    fn options(&self) -> ReportOptions {
        ReportOptions {
            show_values: self.show_values,
            color: use_color(self.color, self.format, &self.output),
            details: self.details,
        }
    }

    /// The baseline to suppress (loaded), the one to write, the filters.
    fn baselines(&self, rules: &RuleSet) -> Result<Baselines, ExitCode> {
        let mut b = Baselines { filter: display_filter(&self.filter, rules), ..Baselines::default() };
        if let Some(p) = &self.baseline {
            b.suppress = Some(Baseline::load(p).map_err(fail)?);
        }
        if self.write_baseline.is_some() {
            b.write = Some(baseline::Writer::default());
        }
        Ok(b)
    }

    /// The report and baseline files, to check against what is read.
    fn outputs(&self) -> Vec<Output<'_>> {
        let mut outputs = Vec::new();
        outputs.extend(self.output.as_deref().map(|path| Output { option: "-o", path }));
        outputs.extend(self.write_baseline.as_deref().map(|path| Output { option: "--write-baseline", path }));
        outputs
    }

    /// Writes the baseline if asked, then the exit code of the run.
    fn finish(&self, summary: &Summary, baselines: &Baselines) -> ExitCode {
        if let (Some(path), Some(w)) = (&self.write_baseline, &baselines.write)
            && let Err(e) = save_baseline(w, path)
        {
            return fail(format_args!("cannot write the baseline {}: {e}", path.display()));
        }
        scan_exit(summary, if self.write_baseline.is_some() { FailOn::Never } else { self.fail_on })
    }
}

/// What a report shows of the findings made (`scan`, `merge`).
#[derive(Args, Debug, Default)]
struct FilterArgs {
    /// Report only findings of this kind (repeatable: `imei`, `serial`,
    /// `endpoint`...; `teleaudit rules list` shows them). In every format;
    /// the exit code counts only what is reported.
    #[arg(long = "kind", value_name = "KIND")]
    kinds: Vec<String>,
    /// Report only findings sent to hosts matching GLOB (repeatable; `*`
    /// any run; the host name, or the address when there is none).
    #[arg(long = "host", value_name = "GLOB")]
    hosts: Vec<String>,
    /// Report only findings at or above this severity.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    min_severity: Option<MinSeverity>,
}

impl FilterArgs {
    fn any(&self) -> bool {
        !self.kinds.is_empty() || !self.hosts.is_empty() || self.min_severity.is_some()
    }
}

#[derive(Args, Debug)]
struct RequestsArgs {
    /// Capture files or directories (recursive); `-` reads stdin.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    format: ListFormat,
    /// Write the list there instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Colour in the text listing.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    /// Workers: files read in parallel, or, for one capture, its
    /// connections shared among N workers (default: number of cores).
    #[arg(short, long, value_name = "N")]
    jobs: Option<usize>,
    /// Print identifier values found in the requests unmasked (default:
    /// masked, as everywhere).
    #[arg(long)]
    show_values: bool,
    /// List only what apps matching GLOB sent (repeatable; as in `scan`).
    #[arg(long = "app", value_name = "GLOB")]
    apps: Vec<String>,
    /// Scan only shard I of N of the inputs (0 <= I < N), split by a
    /// stable hash of each file's path under the folder given; `auto` from
    /// a Slurm job array, `auto/N` from a Kubernetes Indexed Job.
    #[arg(long, value_name = "I/N|auto|auto/N")]
    shard: Option<String>,
    #[command(flatten)]
    limits: LimitArgs,
}

#[derive(Subcommand, Debug)]
enum RulesCommand {
    /// List rule ids, severities, titles and source files.
    List {
        /// Extra rule files or folders to list with the built-in ones.
        #[arg(long = "rules", value_name = "PATH")]
        rules: Vec<PathBuf>,
    },
    /// Validate rule files and run every rule's examples (the built-in
    /// rules' too); errors give file, line and column.
    Check {
        /// Rule files or folders; none checks the built-in rules alone. A
        /// folder laid out as the built-in `rules/` (it holds `keys.toml`)
        /// is checked in place of the compiled-in rules.
        paths: Vec<PathBuf>,
        /// Check the files alone, without the built-in rules (duplicate
        /// ids with them are then not caught).
        #[arg(long)]
        no_default_rules: bool,
    },
}

/// An error before any scanning: message for stderr, on one line.
fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("teleaudit: {}", escape_text(&msg.to_string()));
    ExitCode::from(EXIT_ERROR)
}

/// Several errors before any scanning, one line each.
fn fail_all<E: std::fmt::Display>(errors: impl IntoIterator<Item = E>) -> ExitCode {
    for e in errors {
        eprintln!("teleaudit: {}", escape_text(&e.to_string()));
    }
    ExitCode::from(EXIT_ERROR)
}

/// A warning on stderr, on one line.
fn warn(msg: impl std::fmt::Display) {
    eprintln!("teleaudit: warning: {}", escape_text(&msg.to_string()));
}

/// An error record as one line, without the `teleaudit: ` prefix.
fn error_line(e: &crate::finding::ErrorRecord) -> String {
    let line = match e.frame {
        Some(n) => format!("{}: frame {n}: {}", e.capture, e.message),
        None => format!("{}: {}", e.capture, e.message),
    };
    escape_text(&line).into_owned()
}

/// Says why files in folders were passed over (special files, broken
/// links): warnings, not errors.
fn warn_skipped(found: &Discovery) {
    warn_skipped_of(&found.warnings, found.warnings_omitted);
}

fn warn_skipped_of(warnings: &[crate::finding::ErrorRecord], omitted: u64) {
    for w in warnings {
        warn(format_args!("{}: {}", w.capture, w.message));
    }
    if omitted > 0 {
        warn(format_args!("{omitted} more special files or broken links in folders skipped"));
    }
}

/// A run that would read no capture and meets no error (an empty
/// folder, a folder of other files) is an error, exit 2, before any
/// output is made: otherwise it reports "0 findings" and passes. A path
/// that is missing or cannot be read is already an error of the run: it
/// goes into the report (an `error` record) and the run exits 2.
fn some_capture(found: &Discovery, paths: &[PathBuf]) -> Result<(), ExitCode> {
    if !found.inputs.is_empty() || !found.errors.is_empty() {
        return Ok(());
    }
    warn_skipped(found);
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let why = if found.not_captures > 0 {
        let more = found.not_captures.saturating_sub(found.not_capture_names.len() as u64);
        let more = if more > 0 { format!(" and {more} more") } else { String::new() };
        format!("{} files there are not captures ({}{more})", found.not_captures, found.not_capture_names.join(", "))
    } else if found.skipped > 0 {
        format!("{} special files or broken links there, and no regular file", found.skipped)
    } else {
        "no files there".to_string()
    };
    Err(fail(format_args!("no capture read from {}: {why}", shown.join(", "))))
}

/// Keeps this shard's part of what was discovered (`--shard`); returns
/// the whole run's inputs, each with its shard, and where this shard's
/// are among them (what a shard file's header holds).
fn shard_of(
    spec: Option<&str>,
    found: &mut Discovery,
    paths: &[PathBuf],
    for_file: bool,
) -> Result<(crate::report::shard::RunInputs, crate::report::shard::ShardSpec, Vec<u64>), ExitCode> {
    let shard = match spec {
        Some(spec) => scan::shard::Shard::parse(spec, |k| std::env::var(k).ok()).map_err(fail)?,
        None => scan::shard::Shard { index: 0, count: 1 },
    };
    let inputs: Vec<crate::report::shard::InputEntry> = found
        .inputs
        .iter()
        .map(|i| {
            let (size, sample) = if for_file { content_sample(&i.path) } else { (None, None) };
            (i.display.clone(), shard.of(&scan::shard::relative(&i.path, paths)), size, sample)
        })
        .collect();
    let places = (0..inputs.len() as u64).filter(|&i| inputs[i as usize].1 == shard.index).collect();
    let run = crate::report::shard::RunInputs {
        inputs,
        errors: found.errors.clone(),
        skipped: found.skipped,
        warnings: found.warnings.clone(),
        warnings_omitted: found.warnings_omitted,
        not_captures: found.not_captures,
        not_capture_names: found.not_capture_names.clone(),
    };
    if spec.is_some() {
        shard.apply(found, paths);
    }
    Ok((run, crate::report::shard::ShardSpec { index: shard.index, count: shard.count }, places))
}

/// What tells a capture apart from the same name later rewritten, for a
/// shard file's header: its size and a SHA-256 (hex, 16 bytes) of its
/// first and last 4 KiB. Content, not times: a capture copied to each
/// node of a cluster is the same capture.
fn content_sample(path: &Path) -> (Option<u64>, Option<String>) {
    use sha2::Digest;
    use std::io::{Seek, SeekFrom};
    const PART: u64 = 4096;
    if path.as_os_str() == "-" {
        return (None, None);
    }
    let Ok(mut f) = std::fs::File::open(path) else { return (None, None) };
    let Some(size) = f.metadata().ok().map(|m| m.len()) else { return (None, None) };
    let mut h = sha2::Sha256::new();
    let mut buf = Vec::with_capacity(PART as usize);
    let mut part = |f: &mut std::fs::File, at: u64| -> Option<()> {
        f.seek(SeekFrom::Start(at)).ok()?;
        buf.clear();
        f.take(PART).read_to_end(&mut buf).ok()?;
        h.update(&buf);
        Some(())
    };
    let read = part(&mut f, 0).and_then(|()| part(&mut f, size.saturating_sub(PART)));
    let digest = read.map(|()| hex::encode(&h.finalize()[..16]));
    (Some(size), digest)
}

fn is_broken_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

/// Parses arguments and runs; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Scan(a) => scan(a),
        Command::Requests(a) => requests(a),
        Command::Diff(a) => diff(a),
        Command::Rules(RulesCommand::List { rules }) => rules_list(&rules),
        Command::Rules(RulesCommand::Check { paths, no_default_rules }) => rules_check(&paths, !no_default_rules),
        Command::Show(a) => show::show(a),
        Command::Merge(a) => merge::merge(a),
        Command::Completions(a) => meta::completions(a),
        Command::Man(a) => meta::man(a),
    }
}

/// The built-in rules (unless `builtin` is false) and the extra files;
/// every error of every file. The key dictionary and OUI list of a
/// rules folder are recognised and passed over, with a warning: the
/// built-in ones are compiled in.
fn load_rules(extra: &[PathBuf], builtin: bool) -> Result<RuleSet, Vec<String>> {
    let mut set = if builtin { RuleSet::builtin().map_err(|e| vec![e.to_string()])? } else { RuleSet::default() };
    let mut errors = Vec::new();
    for p in extra {
        let loaded = set.load_path(p);
        errors.extend(loaded.errors.iter().map(ToString::to_string));
        for (file, what) in &loaded.recognised {
            warn(format_args!("{file}: a {}, not rules: not loaded (the built-in one is compiled in)", what.as_str()));
        }
    }
    if errors.is_empty() { Ok(set) } else { Err(errors) }
}

/// The report's writer, and the file to commit when it is a file.
fn output(path: &Option<PathBuf>) -> io::Result<(Box<dyn Write>, Option<AtomicOutput>)> {
    Ok(match path {
        Some(p) => {
            let file = AtomicOutput::create(p)?;
            (Box::new(io::BufWriter::new(file.clone())), Some(file))
        }
        None => (Box::new(io::BufWriter::new(io::stdout().lock())), None),
    })
}

/// Files a run reads that no output may overwrite: the captures found,
/// key logs (given, and beside each capture), rule files, the profile.
/// Built lazily: only consulted when an output file already exists.
fn reads<'a>(
    found: &'a Discovery,
    keys: &'a KeyArgs,
    detection: Option<&'a DetectionArgs>,
) -> impl Iterator<Item = (&'static str, PathBuf)> + 'a {
    let captures = found.inputs.iter().filter(|i| i.path.as_os_str() != "-");
    let beside = captures
        .clone()
        .filter(|_| !keys.no_keylog_beside)
        .flat_map(|i| scan::keylogs_beside(&i.path))
        .map(|p| ("a key log beside a capture", p));
    let rules = detection.into_iter().flat_map(|d| d.rules.iter()).flat_map(|p| {
        let files = walkdir::WalkDir::new(p).into_iter().filter_map(Result::ok).filter(|e| e.file_type().is_file());
        files.map(|e| ("a rule file", e.into_path()))
    });
    let profile = detection.and_then(|d| d.profile.clone()).map(|p| ("the profile", p));
    captures
        .map(|i| ("an input capture", i.path.clone()))
        .chain(keys.paths().0.into_iter().map(|p| ("a key log", p)))
        .chain(rules)
        .chain(profile)
        .chain(beside)
}

fn jobs(j: Option<usize>) -> usize {
    j.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1)
}

/// Drives the scan of all inputs through a reporter; returns the summary,
/// or `None` when output was cut (broken pipe).
/// What to do with known leaks during a run.
#[derive(Default)]
struct Baselines {
    suppress: Option<Baseline>,
    write: Option<baseline::Writer>,
    /// Then what is reported (`--kind`, `--host`, `--min-severity`).
    filter: DisplayFilter,
}

fn drive(
    found: Discovery,
    cfg: &ScanConfig,
    jobs: usize,
    reporter: &mut dyn Reporter,
    baselines: &mut Baselines,
) -> io::Result<Summary> {
    let Discovery { inputs, errors, skipped, not_captures, not_capture_names, .. } = found;
    let summary = Summary { not_captures_skipped: skipped, not_captures, not_capture_names, ..Summary::default() };
    let progress = cfg.progress.as_deref().map(|p| (p, inputs.len()));
    pump(errors, summary, progress, reporter, baselines, |on_event| {
        scan::run(&inputs, cfg, jobs, on_event);
        None
    })
}

/// Feeds a run's events through the baselines and display filters into
/// the reporter, with the summary, the errors on stderr as they come and
/// the progress line: the one path from events to a report, for a scan
/// and for a merge of shard files. `errors`: the discovery's, reported
/// first; `source` makes the events and may give the run's time and peak
/// memory (a merge gives its shards').
fn pump(
    errors: Vec<crate::finding::ErrorRecord>,
    mut summary: Summary,
    progress: Option<(&scan::Progress, usize)>,
    reporter: &mut dyn Reporter,
    baselines: &mut Baselines,
    source: impl FnOnce(&mut dyn FnMut(Event) -> bool) -> Option<(f64, Option<u64>)>,
) -> io::Result<Summary> {
    let started = Instant::now();
    let discovery = FileReport { errors, ..FileReport::default() };
    let mut result = Ok(());
    // Errors go to stderr as they come, and into the report.
    let live = progress.is_some();
    let print_errors = |rep: &FileReport| {
        if live && !rep.errors.is_empty() {
            eprint!("\r\x1b[K");
        }
        for e in &rep.errors {
            eprintln!("teleaudit: {}", error_line(e));
        }
    };
    summary.errors += discovery.errors.len() as u64;
    print_errors(&discovery);
    reporter.file(&discovery)?;
    let files_done = std::sync::atomic::AtomicU64::new(0);
    let findings = std::sync::atomic::AtomicU64::new(0);
    let done = std::sync::atomic::AtomicBool::new(false);
    let mut timing = None;
    std::thread::scope(|s| {
        if let Some((p, n)) = progress {
            let (files_done, findings, done) = (&files_done, &findings, &done);
            s.spawn(move || show_progress(p, n, files_done, findings, done));
        }
        timing = source(&mut |event| {
            let written = match event {
                Event::Begin(capture) => reporter.begin(&capture),
                Event::Finding(f) => {
                    if let Some(w) = baselines.write.as_mut() {
                        w.add(std::slice::from_ref(&f));
                    }
                    if baselines.suppress.as_ref().is_some_and(|b| b.knows(&f)) {
                        summary.suppressed += 1;
                        Ok(())
                    } else if !baselines.filter.shows(&f) {
                        summary.filtered += 1;
                        Ok(())
                    } else {
                        findings.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        summary.finding(&f);
                        reporter.finding(&f)
                    }
                }
                Event::Request(r) => reporter.request(&r),
                Event::Shown(_) => Ok(()),
                Event::End(rep) => {
                    files_done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    summary.add(&rep);
                    print_errors(&rep);
                    reporter.end(&rep)
                }
            };
            match written {
                Ok(()) => true,
                Err(e) => {
                    result = Err(e);
                    false
                }
            }
        });
        done.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    result?;
    (summary.elapsed_secs, summary.peak_memory_bytes) =
        timing.unwrap_or_else(|| (started.elapsed().as_secs_f64(), crate::report::peak_memory_bytes()));
    reporter.finish(&summary)?;
    Ok(summary)
}

fn make_reporter(format: Format, out: Box<dyn Write>, opts: ReportOptions, rules: &RuleSet) -> Box<dyn Reporter> {
    match format {
        Format::Text => Box::new(TextReporter::new(out, opts)),
        Format::Jsonl => Box::new(JsonlReporter::new(out, opts)),
        Format::Sarif => Box::new(SarifReporter::new(out, opts, rules.rules.clone())),
        Format::Html => Box::new(crate::report::html::HtmlReporter::new(out, opts)),
        // Opened by `report` (it needs a path, not a writer; a shard file
        // needs its header).
        Format::Sqlite | Format::Shard => Box::new(JsonlReporter::new(out, opts)),
    }
}

/// The display filters of a scan; a `--kind` that no rule or detector
/// reports is warned about (it would show nothing).
fn display_filter(a: &FilterArgs, rules: &RuleSet) -> DisplayFilter {
    let min_severity = a.min_severity.map(|m| match m {
        MinSeverity::Low => Severity::Low,
        MinSeverity::Medium => Severity::Medium,
        MinSeverity::High => Severity::High,
    });
    let filter = DisplayFilter { kinds: a.kinds.clone(), hosts: a.hosts.clone(), min_severity };
    let mut known: Vec<&str> = crate::detect::validators::Detector::ALL.iter().map(|(n, _)| *n).collect();
    known.extend(rules.rules.iter().map(|r| r.kind.as_str()));
    for k in filter.unknown_kinds(&known) {
        warn(format_args!("--kind {k}: no rule reports this kind; nothing of it can be shown"));
    }
    filter
}

fn scan(a: ScanArgs) -> ExitCode {
    let engine = match a.detection.engine() {
        Ok(e) => e,
        Err(code) => return code,
    };
    let r = &a.report;
    if a.all_requests && !matches!(r.format, Format::Jsonl | Format::Sqlite | Format::Shard) {
        return fail("--all-requests lists requests in JSON Lines or SQLite (--format jsonl or sqlite)");
    }
    if r.format == Format::Shard {
        let reporting = [
            (r.filter.any(), "--kind, --host and --min-severity"),
            (r.baseline.is_some() || r.write_baseline.is_some(), "--baseline and --write-baseline"),
            (r.details, "--details"),
            (r.show_values, "--show-values"),
        ];
        if let Some((_, what)) = reporting.iter().find(|(given, _)| *given) {
            return fail(format_args!(
                "--format shard keeps everything for `teleaudit merge`: give {what} to merge instead"
            ));
        }
    }
    let cfg = match a.limits.config(engine, Mode::Scan, progress_counters()) {
        Ok(c) => ScanConfig { apps: a.apps.clone(), all_requests: a.all_requests, ..c },
        Err(code) => return code,
    };
    let mut baselines = match r.baselines(&cfg.engine.rules) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let mut found = scan::discover(&a.paths);
    if let Err(code) = some_capture(&found, &a.paths) {
        return code;
    }
    // After the check: a shard may be empty when there are more shards
    // than captures.
    let (run, spec, places) = match shard_of(a.shard.as_deref(), &mut found, &a.paths, r.format == Format::Shard) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let outputs = r.outputs();
    // --write-baseline may replace the --baseline it read (the file is
    // read whole first, then replaced whole); the report may not.
    let baseline_read = r.baseline.iter().map(|p| ("the baseline", p.clone()));
    let checked = check_outputs(&outputs, reads(&found, &a.limits.keys, Some(&a.detection)))
        .and_then(|()| check_outputs(&outputs[..usize::from(r.output.is_some())], baseline_read));
    if let Err(e) = checked {
        return fail(e);
    }
    let shard = (r.format == Format::Shard).then(|| {
        let extra = serde_json::json!({"apps": a.apps, "all_requests": a.all_requests});
        (shard_header("scan", &cfg, &a.limits, extra, run, spec), places)
    });
    warn_skipped(&found);
    let summary = match report(r.format, &r.output, r.options(), &cfg.engine.rules, shard, &mut baselines, |rep, b| {
        drive(found, &cfg, jobs(a.jobs), rep, b)
    }) {
        Ok(Some(s)) => s,
        Ok(None) => return ExitCode::from(EXIT_CLEAN),
        Err(code) => return code,
    };
    // A shard file written whole is a success whatever it holds: merge
    // judges the findings and errors of all shards together.
    if r.format == Format::Shard {
        return ExitCode::from(EXIT_CLEAN);
    }
    r.finish(&summary, &baselines)
}

/// A scan's exit code: 2 on any error, else 1 with a finding at or above
/// the threshold, else 0. Writing a baseline accepts what it found (the
/// caller gives `FailOn::Never`): only errors fail.
fn scan_exit(summary: &Summary, fail_on: FailOn) -> ExitCode {
    let threshold = fail_threshold(fail_on);
    if summary.errors > 0 {
        ExitCode::from(EXIT_ERROR)
    } else if threshold.is_some_and(|t| summary.at_or_above(t) > 0) {
        ExitCode::from(EXIT_FOUND)
    } else {
        ExitCode::from(EXIT_CLEAN)
    }
}

/// A shard file's header: this run's tool, mode, rules, profile and the
/// options that change what is found (`extra`: the command's own).
fn shard_header(
    mode: &str,
    cfg: &ScanConfig,
    limits: &LimitArgs,
    extra: serde_json::Value,
    discovery: crate::report::shard::RunInputs,
    shard: crate::report::shard::ShardSpec,
) -> crate::report::shard::Header {
    let mut config = serde_json::json!({
        "include_test_devices": cfg.engine.include_test_devices,
        "max_body": limits.max_body,
        "max_flows": limits.max_flows,
        "idle_timeout": limits.idle_timeout,
        "max_reorder": limits.max_reorder,
        "max_tls_held": limits.max_tls_held,
        "max_held": limits.max_held,
        "keylogs": limits.keys.digest(),
        "keylog_beside": !limits.keys.no_keylog_beside,
    });
    if let (Some(c), serde_json::Value::Object(e)) = (config.as_object_mut(), extra) {
        c.extend(e);
    }
    crate::report::shard::Header {
        format: crate::report::shard::FORMAT,
        tool: scan::merge::tool(),
        mode: mode.to_string(),
        shard,
        rules: cfg.engine.rules.digest(),
        profile: cfg.engine.profile_digest.clone(),
        config,
        discovery,
    }
}

fn requests(a: RequestsArgs) -> ExitCode {
    // The built-in rules find the identifiers to mask in the listing.
    let rules = match RuleSet::builtin() {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let cfg = match a.limits.config(Engine::new(rules, None), Mode::Requests, progress_counters()) {
        Ok(c) => ScanConfig { apps: a.apps.clone(), ..c },
        Err(code) => return code,
    };
    let format = match a.format {
        ListFormat::Text => Format::Text,
        ListFormat::Jsonl => Format::Jsonl,
        ListFormat::Shard if a.show_values => {
            return fail("--format shard keeps everything for `teleaudit merge`: give --show-values to merge instead");
        }
        ListFormat::Shard => Format::Shard,
    };
    let opts =
        ReportOptions { show_values: a.show_values, color: use_color(a.color, format, &a.output), details: false };
    let mut found = scan::discover(&a.paths);
    if let Err(code) = some_capture(&found, &a.paths) {
        return code;
    }
    // After the check: a shard may be empty when there are more shards
    // than captures.
    let (run, spec, places) = match shard_of(a.shard.as_deref(), &mut found, &a.paths, format == Format::Shard) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let outputs: Vec<Output> = a.output.as_deref().map(|path| Output { option: "-o", path }).into_iter().collect();
    if let Err(e) = check_outputs(&outputs, reads(&found, &a.limits.keys, None)) {
        return fail(e);
    }
    let shard = (format == Format::Shard).then(|| {
        let extra = serde_json::json!({"apps": a.apps});
        (shard_header("requests", &cfg, &a.limits, extra, run, spec), places)
    });
    warn_skipped(&found);
    let result = report(format, &a.output, opts, &cfg.engine.rules, shard, &mut Baselines::default(), |r, b| {
        drive(found, &cfg, jobs(a.jobs), r, b)
    });
    match result {
        Ok(Some(s)) if s.errors > 0 && format != Format::Shard => ExitCode::from(EXIT_ERROR),
        Ok(_) => ExitCode::from(EXIT_CLEAN),
        Err(code) => code,
    }
}

/// Opens the output, runs `run` (a scan, or a merge of shard files)
/// through the chosen reporter. `shard`: the header and this shard's
/// places, for `--format shard`. `Ok(None)`: the reader of our output
/// went away (broken pipe), which is not an error. `Err`: the exit code
/// of a failure already reported.
fn report(
    format: Format,
    output_path: &Option<PathBuf>,
    opts: ReportOptions,
    rules: &RuleSet,
    shard: Option<(crate::report::shard::Header, Vec<u64>)>,
    baselines: &mut Baselines,
    run: impl FnOnce(&mut dyn Reporter, &mut Baselines) -> io::Result<Summary>,
) -> Result<Option<Summary>, ExitCode> {
    let shown = || output_path.as_deref().unwrap_or(Path::new("-")).display().to_string();
    if format == Format::Sqlite {
        // A database is appended to in one transaction, not replaced.
        let Some(path) = output_path.as_deref().filter(|p| *p != Path::new("-")) else {
            return Err(fail("--format sqlite needs -o FILE (the database to create or append to)"));
        };
        let mut db = crate::report::sqlite::SqliteReporter::open(path, opts)
            .map_err(|e| fail(format_args!("cannot open {}: {e}", shown())))?;
        return match run(&mut db, baselines) {
            Ok(s) => Ok(Some(s)),
            Err(e) => Err(fail(format_args!("cannot write {}: {e}", shown()))),
        };
    }
    if format == Format::Shard && output_path.as_deref().is_none_or(|p| p == Path::new("-")) {
        return Err(fail(
            "--format shard needs -o FILE: a shard file holds identifier values unmasked, for `teleaudit merge`",
        ));
    }
    let (out, file) = output(output_path).map_err(|e| fail(format_args!("cannot write {}: {e}", shown())))?;
    let mut reporter: Box<dyn Reporter> = match shard {
        Some((header, places)) if format == Format::Shard => {
            // Values unmasked: readable by its owner alone.
            if let Some(f) = &file {
                f.restrict().map_err(|e| fail(format_args!("cannot write {}: {e}", shown())))?;
            }
            let w = crate::report::shard::ShardWriter::new(out, &header, places)
                .map_err(|e| fail(format_args!("cannot write {}: {e}", shown())))?;
            Box::new(w)
        }
        _ => make_reporter(format, out, opts, rules),
    };
    let result = run(reporter.as_mut(), baselines);
    // The reporter holds the buffered writer: dropping it flushes into the
    // file, whose first error, if any, stops the commit.
    drop(reporter);
    match result {
        Ok(s) => {
            if let Some(f) = file {
                f.commit().map_err(|e| fail(format_args!("cannot write {}: {e}", shown())))?;
            }
            Ok(Some(s))
        }
        Err(e) if is_broken_pipe(&e) => Ok(None),
        Err(e) => Err(fail(format_args!("cannot write {}: {e}", shown()))),
    }
}

/// Writes the baseline whole (temporary file, then rename).
fn save_baseline(w: &baseline::Writer, path: &Path) -> io::Result<()> {
    let mut file = AtomicOutput::create(path)?;
    w.write(&mut file)?;
    file.commit()
}

/// What one side of a `diff` holds: findings by fingerprint (first
/// occurrence) and the errors met.
type Side = (std::collections::BTreeMap<String, Finding>, Vec<String>);

/// Scans every capture under `path`. `Err`: nothing could be read there
/// (a wrong path, no capture, a file that cannot be opened).
fn collect(path: &Path, cfg: &ScanConfig, jobs: usize) -> Result<Side, String> {
    if scan::merge::is_shard_side(path) {
        return collect_shards(path, cfg);
    }
    let found = scan::discover(&[path.to_path_buf()]);
    warn_skipped(&found);
    if let Some(e) = found.errors.first() {
        return Err(error_line(e));
    }
    if found.inputs.is_empty() {
        return Err(format!("{}: no capture to read", path.display()));
    }
    let mut side: Side = Default::default();
    scan::run(&found.inputs, cfg, jobs, |event| side_event(&mut side, event));
    Ok(side)
}

/// A side's leaks (first occurrence by fingerprint) and errors, event by
/// event.
fn side_event(side: &mut Side, event: Event) -> bool {
    match event {
        Event::Finding(f) => {
            side.0.entry(f.fingerprint()).or_insert(f);
        }
        Event::End(rep) => side.1.extend(rep.errors.iter().map(error_line)),
        Event::Begin(_) | Event::Request(_) | Event::Shown(_) => {}
    }
    true
}

/// A side given as shard files (a shard file, or a folder of them): the
/// leaks of the run they make up. Shards scanned with other rules than
/// this diff's cannot be compared; missing shards are errors.
fn collect_shards(path: &Path, cfg: &ScanConfig) -> Result<Side, String> {
    let set = scan::merge::ShardSet::open(&[path.to_path_buf()])?;
    if set.header.mode != "scan" {
        return Err(format!("{}: shards of `requests`, not of `scan`", path.display()));
    }
    if set.header.rules != cfg.engine.rules.digest() {
        return Err(format!(
            "{}: its shards were scanned with other rules than this diff's (give diff the same --rules)",
            path.display()
        ));
    }
    for w in &set.warnings {
        warn(w);
    }
    let errors = set.header.discovery.errors.iter().chain(&set.problems).map(error_line).collect();
    let mut side: Side = (Default::default(), errors);
    set.run(|event| side_event(&mut side, event), warn);
    Ok(side)
}

/// Leaks in the order a reader wants them: the most severe first, then
/// by destination, rule and field.
fn by_severity(list: &mut [&Finding]) {
    list.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.host.cmp(&b.host))
            .then_with(|| a.rule.cmp(&b.rule))
            .then_with(|| a.field.cmp(&b.field))
    });
}

fn diff(a: DiffArgs) -> ExitCode {
    let engine = match a.detection.engine() {
        Ok(e) => e,
        Err(code) => return code,
    };
    // diff prints nothing until both sides are scanned: no progress line.
    let cfg = match a.limits.config(engine, Mode::Scan, None) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if matches!(a.format, Format::Sqlite | Format::Html | Format::Shard) {
        return fail(
            "diff writes text, jsonl or sarif (for a database or a page, scan each side with --format sqlite or html)",
        );
    }
    let outputs: Vec<Output> = a.output.as_deref().map(|path| Output { option: "-o", path }).into_iter().collect();
    let sides = [("a capture compared", a.old.clone()), ("a capture compared", a.new.clone())];
    if let Err(e) = check_outputs(&outputs, sides) {
        return fail(e);
    }
    let j = jobs(a.jobs);
    // A side that cannot be read is an error, and nothing is listed: an
    // unreadable OLD would make every leak look new.
    let (old, mut errors) = match collect(&a.old, &cfg, j) {
        Ok(side) => side,
        Err(e) => return fail(format_args!("old side: {e}")),
    };
    let (new, new_errors) = match collect(&a.new, &cfg, j) {
        Ok(side) => side,
        Err(e) => return fail(format_args!("new side: {e}")),
    };
    errors.extend(new_errors);
    for e in &errors {
        eprintln!("teleaudit: {e}");
    }
    let mut added: Vec<&Finding> = new.iter().filter(|(k, _)| !old.contains_key(*k)).map(|(_, f)| f).collect();
    let mut gone: Vec<&Finding> = old.iter().filter(|(k, _)| !new.contains_key(*k)).map(|(_, f)| f).collect();
    by_severity(&mut added);
    by_severity(&mut gone);
    let unchanged = new.len() - added.len();
    let opts = ReportOptions { show_values: a.show_values, color: false, details: false };
    // Hosts, field paths and capture names may hold a value (an IMEI as
    // a JSON key, in a host name): every value of either side is masked
    // wherever it shows, and the text is escaped for the terminal.
    let mut p = crate::report::Privacy::new(opts);
    for f in old.values().chain(new.values()) {
        p.learn(f);
    }
    let (mut out, file) = match output(&a.output) {
        Ok(o) => o,
        Err(e) => return fail(format_args!("cannot write the output: {e}")),
    };
    let written = (|| -> io::Result<()> {
        match a.format {
            Format::Sarif => {
                // The new leaks as results, grouped by capture (each an
                // artifact).
                let mut list = added.clone();
                list.sort_by(|a, b| a.capture.cmp(&b.capture));
                let mut r = SarifReporter::new(&mut out, opts, cfg.engine.rules.rules.clone());
                let mut capture: Option<&str> = None;
                for f in list {
                    if capture != Some(&*f.capture) {
                        r.begin(&f.capture)?;
                        capture = Some(&f.capture);
                    }
                    r.finding(f)?;
                }
                r.finish(&Summary::default())
            }
            // Refused above.
            Format::Sqlite | Format::Html | Format::Shard => Ok(()),
            Format::Jsonl => {
                for (t, list) in [("new", &added), ("gone", &gone)] {
                    for f in list.iter() {
                        let mut v = crate::report::jsonl::finding_json(f, &p);
                        v["type"] = serde_json::json!(t);
                        v["fingerprint"] = serde_json::json!(f.fingerprint());
                        writeln!(out, "{v}")?;
                    }
                }
                let s = serde_json::json!({"type": "diff_summary", "new": added.len(), "gone": gone.len(), "unchanged": unchanged, "errors": errors.len()});
                writeln!(out, "{s}")
            }
            Format::Text => {
                for (title, list) in [("new leaks", &added), ("gone leaks", &gone)] {
                    writeln!(out, "{title} ({}):", list.len())?;
                    for f in list.iter() {
                        writeln!(
                            out,
                            "  {:<6} {:<20} {:<14} {} {}:{} = {}  ({} frame {})",
                            f.severity.as_str(),
                            f.rule,
                            f.kind,
                            p.line(f.host.as_deref().unwrap_or("-")),
                            f.location.as_str(),
                            p.line(f.field.as_deref().unwrap_or("-")),
                            p.line(&p.value(&f.value)),
                            p.line(&f.capture),
                            f.frame
                        )?;
                    }
                }
                writeln!(
                    out,
                    "{} new, {} gone, {unchanged} unchanged; {} errors",
                    added.len(),
                    gone.len(),
                    errors.len()
                )
            }
        }
    })();
    let written = written.and_then(|()| out.flush());
    drop(out);
    match written {
        Err(e) if is_broken_pipe(&e) => return ExitCode::from(EXIT_CLEAN),
        Err(e) => return fail(format_args!("cannot write the output: {e}")),
        Ok(()) => {}
    }
    if let Some(f) = file
        && let Err(e) = f.commit()
    {
        return fail(format_args!("cannot write the output: {e}"));
    }
    let threshold = fail_threshold(a.fail_on);
    if !errors.is_empty() {
        ExitCode::from(EXIT_ERROR)
    } else if threshold.is_some_and(|t| added.iter().any(|f| f.severity >= t)) {
        ExitCode::from(EXIT_FOUND)
    } else {
        ExitCode::from(EXIT_CLEAN)
    }
}

/// Progress counters when stderr is a terminal (a person is watching)
/// that can move the cursor (not `TERM=dumb`); none on a pipe or in CI
/// logs.
fn progress_counters() -> Option<std::sync::Arc<scan::Progress>> {
    (io::stderr().is_terminal() && std::env::var_os("TERM").is_none_or(|t| t != "dumb")).then(Default::default)
}

/// Redraws one status line on stderr until `done` is set, then clears it.
fn show_progress(
    p: &scan::Progress,
    total_files: usize,
    files: &std::sync::atomic::AtomicU64,
    findings: &std::sync::atomic::AtomicU64,
    done: &std::sync::atomic::AtomicBool,
) {
    use std::sync::atomic::Ordering::Relaxed;
    let started = Instant::now();
    while !done.load(Relaxed) {
        std::thread::sleep(std::time::Duration::from_millis(200));
        let bytes = p.bytes.load(Relaxed);
        let rate = bytes as f64 / started.elapsed().as_secs_f64().max(0.001) / 1e6;
        eprint!(
            "\r\x1b[K{}/{total_files} files, {:.1} MB, {} findings, {rate:.0} MB/s",
            files.load(Relaxed),
            bytes as f64 / 1e6,
            findings.load(Relaxed)
        );
    }
    eprint!("\r\x1b[K");
}

/// Colour in a text report: `--color always` or `never` as said; `auto`
/// decides by [`auto_color`] from the environment and whether stdout is
/// a terminal. Other formats are never coloured.
fn use_color(choice: ColorChoice, format: Format, output: &Option<PathBuf>) -> bool {
    format == Format::Text
        && match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                output.is_none() && auto_color(|name| std::env::var_os(name), io::stdout().is_terminal())
            }
        }
}

/// `--color auto` on stdout, as most tools decide it (anstream's order):
/// `NO_COLOR` set and not empty turns colour off (https://no-color.org);
/// else `CLICOLOR_FORCE` set and not `0` turns it on, terminal or not;
/// else colour when stdout is a terminal, `TERM` is not `dumb` and
/// `CLICOLOR` is not `0` (https://bixense.com/clicolors/). A report
/// written with `-o` is coloured only with `--color always`.
fn auto_color(var: impl Fn(&str) -> Option<std::ffi::OsString>, terminal: bool) -> bool {
    let set = |name: &str| var(name).filter(|v| !v.is_empty());
    if set("NO_COLOR").is_some() {
        return false;
    }
    if set("CLICOLOR_FORCE").is_some_and(|v| v != "0") {
        return true;
    }
    terminal && var("TERM").is_none_or(|t| t != "dumb") && set("CLICOLOR").is_none_or(|v| v != "0")
}

fn fail_threshold(f: FailOn) -> Option<Severity> {
    match f {
        FailOn::Low => Some(Severity::Low),
        FailOn::Medium => Some(Severity::Medium),
        FailOn::High => Some(Severity::High),
        FailOn::Never => None,
    }
}

fn rules_list(extra: &[PathBuf]) -> ExitCode {
    let set = match load_rules(extra, true) {
        Ok(s) => s,
        Err(e) => return fail_all(e),
    };
    let mut out = io::stdout().lock();
    for r in &set.rules {
        let what = match &r.matcher {
            Matcher::Detector(_) | Matcher::Profile | Matcher::Pattern { .. } => r.kind.as_str(),
            Matcher::Endpoint(_) => "endpoint",
            Matcher::Decoder(_) => "decoder",
        };
        if let Err(e) =
            writeln!(out, "{:<20} {:<7} {:<15} {}  ({})", r.id, r.severity.as_str(), what, r.title, r.source)
        {
            if is_broken_pipe(&e) {
                break;
            }
            return fail(e);
        }
    }
    ExitCode::from(EXIT_CLEAN)
}

/// Checks every file and reports every problem: each error of each
/// file (stderr, `file:line:col: message`), then each rule example that
/// misbehaves; the key dictionary and OUI list of a rules folder are
/// recognised and checked as what they are.
fn rules_check(paths: &[PathBuf], builtin: bool) -> ExitCode {
    if !builtin && paths.is_empty() {
        return fail("--no-default-rules needs a PATH to check");
    }
    // Built-in rules load first so duplicate ids are caught too; those
    // of a built-in rules folder being checked come from that folder.
    let replaced: Vec<&str> = paths.iter().flat_map(|p| crate::detect::rules::builtin_files_in(p)).collect();
    let mut set = RuleSet::default();
    let mut errors: Vec<String> = Vec::new();
    if builtin {
        for (name, text) in crate::detect::rules::BUILTIN.iter().filter(|(n, _)| !replaced.contains(n)) {
            errors.extend(set.add_all(name, text).iter().map(ToString::to_string));
        }
    }
    let before = set.rules.len();
    let mut out = io::stdout().lock();
    for p in paths {
        let loaded = set.load_path(p);
        errors.extend(loaded.errors.iter().map(ToString::to_string));
        for (file, what) in &loaded.recognised {
            let _ = writeln!(out, "{}: {} OK", escape_text(file), what.as_str());
        }
    }
    errors.extend(crate::detect::check_examples(&set));
    if !errors.is_empty() {
        for e in &errors {
            eprintln!("teleaudit: {}", escape_text(e));
        }
        eprintln!("teleaudit: {} problems found", errors.len());
        return ExitCode::from(EXIT_ERROR);
    }
    let checked = if paths.is_empty() { &set.rules[..] } else { &set.rules[before..] };
    let examples: usize = checked.iter().map(|r| r.examples.len()).sum();
    let _ = writeln!(out, "{} rules OK ({examples} examples behave)", checked.len());
    ExitCode::from(EXIT_CLEAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_color_follows_the_conventions() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| std::ffi::OsString::from(v))
        };
        assert!(auto_color(env(&[]), true));
        assert!(!auto_color(env(&[]), false));
        assert!(!auto_color(env(&[("TERM", "dumb")]), true));
        assert!(auto_color(env(&[("TERM", "xterm-256color")]), true));
        assert!(!auto_color(env(&[("NO_COLOR", "1")]), true));
        assert!(auto_color(env(&[("NO_COLOR", "")]), true), "an empty NO_COLOR is unset");
        assert!(auto_color(env(&[("CLICOLOR_FORCE", "1")]), false));
        assert!(auto_color(env(&[("CLICOLOR_FORCE", "1"), ("TERM", "dumb")]), false));
        assert!(!auto_color(env(&[("CLICOLOR_FORCE", "0")]), false));
        assert!(!auto_color(env(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]), false), "NO_COLOR wins");
        assert!(!auto_color(env(&[("CLICOLOR", "0")]), true));
        let out = Some(PathBuf::from("r.txt"));
        assert!(use_color(ColorChoice::Always, Format::Text, &out));
        assert!(!use_color(ColorChoice::Always, Format::Jsonl, &None));
        assert!(!use_color(ColorChoice::Never, Format::Text, &None));
    }
}
