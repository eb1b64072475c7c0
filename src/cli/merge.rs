//! `teleaudit merge`: the one report of a sharded run. The shard files'
//! events go through the same path as a scan's ([`super::pump`]: the
//! baselines, display filters, summary and reporters), in the run's input
//! order, so the report is the one a single machine would have written,
//! whatever the number of shards; so is the exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{
    Baselines, ColorChoice, EXIT_CLEAN, EXIT_ERROR, FailOn, FilterArgs, Format, Output, check_outputs, display_filter,
    fail, load_rules, pump, report, save_baseline, scan_exit, use_color, warn, warn_skipped_of,
};
use crate::baseline::{self, Baseline};
use crate::report::{ReportOptions, Summary};
use crate::scan::merge::ShardSet;

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Shard files (`scan --shard I/N --format shard -o FILE`), or folders
    /// holding them (their other files are passed over, with a warning).
    #[arg(required = true)]
    shards: Vec<PathBuf>,
    /// The extra rule files or folders the shards were scanned with: their
    /// digest must be the shards' (SARIF describes each rule).
    #[arg(long = "rules", value_name = "PATH")]
    rules: Vec<PathBuf>,
    /// The shards were scanned without the built-in rules.
    #[arg(long)]
    no_default_rules: bool,
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
    /// Text report: list every request with its findings too.
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

pub fn merge(a: MergeArgs) -> ExitCode {
    let set = match ShardSet::open(&a.shards) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let rules = match load_rules(&a.rules, !a.no_default_rules) {
        Ok(r) => r,
        Err(errors) => return super::fail_all(errors),
    };
    let header = &set.header;
    if rules.digest() != header.rules {
        return fail(
            "the shards were scanned with other rules than these (their digests differ): give merge the \
             --rules and --no-default-rules the scans had",
        );
    }
    let requests = header.mode == "requests";
    if requests {
        let reporting = a.filter.any() || a.baseline.is_some() || a.write_baseline.is_some() || a.details;
        if !matches!(a.format, Format::Text | Format::Jsonl) || reporting {
            return fail("shards of `requests` merge into its listing: --format text or jsonl, no finding options");
        }
    }
    if a.format == Format::Shard {
        return fail("merge writes a report (text, jsonl, sarif, html, sqlite), not another shard file");
    }
    let all_requests = header.config.get("all_requests").and_then(serde_json::Value::as_bool) == Some(true);
    if all_requests && !matches!(a.format, Format::Jsonl | Format::Sqlite) {
        return fail("the shards were scanned with --all-requests: merge them to --format jsonl or sqlite");
    }
    let mut outputs = Vec::new();
    outputs.extend(a.output.as_deref().map(|path| Output { option: "-o", path }));
    outputs.extend(a.write_baseline.as_deref().map(|path| Output { option: "--write-baseline", path }));
    let shard_files = a.shards.iter().map(|p| ("a shard file", p.clone()));
    let baseline_read = a.baseline.iter().map(|p| ("the baseline", p.clone()));
    let checked = check_outputs(&outputs, shard_files)
        .and_then(|()| check_outputs(&outputs[..usize::from(a.output.is_some())], baseline_read));
    if let Err(e) = checked {
        return fail(e);
    }
    let mut baselines = Baselines { filter: display_filter(&a.filter, &rules), ..Baselines::default() };
    if let Some(p) = &a.baseline {
        match Baseline::load(p) {
            Ok(b) => baselines.suppress = Some(b),
            Err(e) => return fail(e),
        }
    }
    if a.write_baseline.is_some() {
        baselines.write = Some(baseline::Writer::default());
    }
    let opts = ReportOptions {
        show_values: a.show_values,
        color: use_color(a.color, a.format, &a.output),
        details: a.details,
    };
    for w in &set.warnings {
        warn(w);
    }
    let d = &header.discovery;
    warn_skipped_of(&d.warnings, d.warnings_omitted);
    let summary = Summary {
        not_captures_skipped: d.skipped,
        not_captures: d.not_captures,
        not_capture_names: d.not_capture_names.clone(),
        ..Summary::default()
    };
    let mut errors = d.errors.clone();
    errors.extend(set.problems.iter().cloned());
    let summary = match report(a.format, &a.output, opts, &rules, None, &mut baselines, |r, b| {
        pump(errors, summary, None, r, b, |on_event| {
            let t = set.run(on_event, warn);
            Some((t.elapsed_secs, t.peak_memory_bytes))
        })
    }) {
        Ok(Some(s)) => s,
        Ok(None) => return ExitCode::from(EXIT_CLEAN),
        Err(code) => return code,
    };
    if requests {
        return ExitCode::from(if summary.errors > 0 { EXIT_ERROR } else { EXIT_CLEAN });
    }
    if let (Some(path), Some(w)) = (&a.write_baseline, &baselines.write)
        && let Err(e) = save_baseline(w, path)
    {
        return fail(format_args!("cannot write the baseline {}: {e}", path.display()));
    }
    scan_exit(&summary, if a.write_baseline.is_some() { FailOn::Never } else { a.fail_on })
}
