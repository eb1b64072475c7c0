//! `teleaudit merge`: the one report of a sharded run. The shard files'
//! events go through the same path as a scan's ([`super::pump`]: the
//! baselines, display filters, summary and reporters), in the run's input
//! order, so the report is the one a single machine would have written,
//! whatever the number of shards; so is the exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{
    EXIT_CLEAN, EXIT_ERROR, Format, ReportArgs, check_outputs, fail, load_rules, pump, report, warn, warn_skipped_of,
};
use crate::report::Summary;
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
    #[command(flatten)]
    report: ReportArgs,
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
    let r = &a.report;
    let requests = header.mode == "requests";
    if requests {
        let reporting = r.filter.any() || r.baseline.is_some() || r.write_baseline.is_some() || r.details;
        if !matches!(r.format, Format::Text | Format::Jsonl) || reporting {
            return fail("shards of `requests` merge into its listing: --format text or jsonl, no finding options");
        }
    }
    if r.format == Format::Shard {
        return fail("merge writes a report (text, jsonl, sarif, html, sqlite), not another shard file");
    }
    let all_requests = header.config.get("all_requests").and_then(serde_json::Value::as_bool) == Some(true);
    if all_requests && !matches!(r.format, Format::Jsonl | Format::Sqlite) {
        return fail("the shards were scanned with --all-requests: merge them to --format jsonl or sqlite");
    }
    let outputs = r.outputs();
    // The files found in folders too: `-o OUT/shard-1.jsonl OUT/` would
    // replace a shard file with the report.
    let found = crate::scan::merge::shard_files(&a.shards).map(|(f, _)| f).unwrap_or_default();
    let shard_files = a.shards.iter().cloned().chain(found.into_iter().map(|(p, _)| p)).map(|p| ("a shard file", p));
    let baseline_read = r.baseline.iter().map(|p| ("the baseline", p.clone()));
    let checked = check_outputs(&outputs, shard_files)
        .and_then(|()| check_outputs(&outputs[..usize::from(r.output.is_some())], baseline_read));
    if let Err(e) = checked {
        return fail(e);
    }
    let mut baselines = match r.baselines(&rules) {
        Ok(b) => b,
        Err(code) => return code,
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
    let summary = match report(r.format, &r.output, r.options(), &rules, None, &mut baselines, |rep, b| {
        pump(errors, summary, None, rep, b, |on_event| {
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
    r.finish(&summary, &baselines)
}
