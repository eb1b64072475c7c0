//! Hostile HTTP (issue 11, "nothing lost in silence"): malformed body
//! lengths, Transfer-Encoding shapes, a multipart body past the part
//! limit, and the text-stream reproducer of the `packets` fuzz target.

mod support;

use std::path::PathBuf;

use support::hostile_http as hh;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Writes `bytes` to `rel` when `TELEAUDIT_WRITE_SEEDS` is set; else the
/// file kept in the repository must be what the generator makes.
fn kept_file(rel: &str, bytes: &[u8]) {
    let path = root().join(rel);
    if std::env::var_os("TELEAUDIT_WRITE_SEEDS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
    }
    let kept = std::fs::read(&path).unwrap_or_else(|e| panic!("{rel}: {e} (TELEAUDIT_WRITE_SEEDS=1 writes it)"));
    assert!(kept == bytes, "{rel} differs from its generator (TELEAUDIT_WRITE_SEEDS=1 rewrites it)");
}

/// The reproducer of the text-stream overflow is kept where
/// `fuzz_reproducers_stay_fixed` replays it, and replays cleanly.
#[test]
fn text_stream_gap_reproducer_is_kept_and_replays() {
    let input = hh::text_stream_snaplen_gaps();
    kept_file("tests/fuzz-regressions/packets/text-stream-snaplen-gaps", &input);
    teleaudit::harness::packets(&input);
}
