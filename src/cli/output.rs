//! cli::output: where reports and baselines are written, safely.
//!
//! Two guards. [`check_outputs`] refuses, before anything is opened for
//! writing, an output file that is also something the run reads (a
//! capture, a key log, a rule file, a baseline, a profile) or another
//! output of the same run: `-o capture.pcap` would otherwise truncate the
//! capture before it is read. [`AtomicOutput`] writes to a temporary file
//! beside the target and renames it over the target only on
//! [`AtomicOutput::commit`], so a run that fails or is interrupted never
//! leaves a truncated or half-written report where the old one was.
//!
//! Never: write through stdout's path (stdout stays direct), or rename
//! over a target that is not a regular file (`-o /dev/null`, a FIFO: those
//! are written in place).

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// The identity of an existing file: the same file by whatever name
/// (symbolic links, `..`, hard links).
#[derive(Debug, PartialEq, Eq)]
struct FileId {
    canonical: Option<PathBuf>,
    #[cfg(unix)]
    dev_ino: (u64, u64),
}

impl FileId {
    fn of(path: &Path) -> Option<FileId> {
        let meta = fs::metadata(path).ok()?;
        #[cfg(not(unix))]
        let _ = meta;
        Some(FileId {
            canonical: fs::canonicalize(path).ok(),
            #[cfg(unix)]
            dev_ino: {
                use std::os::unix::fs::MetadataExt;
                (meta.dev(), meta.ino())
            },
        })
    }

    fn same(&self, other: &FileId) -> bool {
        #[cfg(unix)]
        if self.dev_ino == other.dev_ino {
            return true;
        }
        self.canonical.is_some() && self.canonical == other.canonical
    }
}

/// Where a path that may not exist yet would be: its folder made
/// canonical, then its name.
fn would_be(path: &Path) -> PathBuf {
    if let Ok(c) = fs::canonicalize(path) {
        return c;
    }
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    match (fs::canonicalize(parent), path.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => path.to_path_buf(),
    }
}

/// An output of the run: the option that names it and its path.
pub struct Output<'a> {
    pub option: &'static str,
    pub path: &'a Path,
}

/// Refuses outputs that are files the run reads (`reads`: what each is,
/// e.g. "an input capture", and its path) or that name the same file as
/// another output. The message says which option names which file.
pub fn check_outputs(
    outputs: &[Output<'_>],
    reads: impl IntoIterator<Item = (&'static str, PathBuf)>,
) -> Result<(), String> {
    let ids: Vec<Option<FileId>> = outputs.iter().map(|o| FileId::of(o.path)).collect();
    for (i, a) in outputs.iter().enumerate() {
        for b in &outputs[i + 1..] {
            if would_be(a.path) == would_be(b.path) {
                return Err(format!(
                    "{} and {} name the same file ({}): refusing to write both there",
                    a.option,
                    b.option,
                    a.path.display()
                ));
            }
        }
    }
    // An output that does not exist yet cannot be a file the run reads.
    if ids.iter().all(Option::is_none) {
        return Ok(());
    }
    for (what, path) in reads {
        let Some(read) = FileId::of(&path) else { continue };
        for (o, id) in outputs.iter().zip(&ids) {
            if id.as_ref().is_some_and(|id| id.same(&read)) {
                let same = if o.path == path.as_path() { String::new() } else { format!(" ({})", path.display()) };
                return Err(format!(
                    "{} {}: refusing to overwrite {what} of this run{same}; write the output elsewhere",
                    o.option,
                    o.path.display()
                ));
            }
        }
    }
    Ok(())
}

/// Distinguishes the temporary files of one process.
static NEXT_TEMP: AtomicU64 = AtomicU64::new(0);

struct Inner {
    file: File,
    /// The first write error: sticky, so a failure the caller never saw
    /// (a buffered writer flushing on drop) still stops the commit.
    failed: Option<io::ErrorKind>,
}

/// A file written in full or not at all: writes go to a temporary file in
/// the target's folder, [`AtomicOutput::commit`] renames it over the
/// target, and dropping it uncommitted removes it. Clones are handles to
/// the same file (one for the reporter, one to commit). A target that
/// exists and is not a regular file (`/dev/null`, a FIFO) is written in
/// place.
#[derive(Clone)]
pub struct AtomicOutput {
    inner: Arc<Mutex<Inner>>,
    /// `(temporary, target)`; `None` when written in place.
    rename: Option<Arc<(PathBuf, PathBuf)>>,
}

impl AtomicOutput {
    /// Creates the temporary file beside `target` (beside the file a
    /// symbolic link points to, so the link stays a link), with the
    /// permissions of the file it will replace.
    pub fn create(target: &Path) -> io::Result<AtomicOutput> {
        let existing = fs::metadata(target).ok();
        if existing.as_ref().is_some_and(|m| !m.is_file()) {
            let file = fs::OpenOptions::new().write(true).open(target)?;
            return Ok(AtomicOutput { inner: Arc::new(Mutex::new(Inner { file, failed: None })), rename: None });
        }
        let target = if existing.is_some() { fs::canonicalize(target)? } else { target.to_path_buf() };
        let dir = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let name = target.file_name().map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
        let (file, temp) = loop {
            let n = NEXT_TEMP.fetch_add(1, Ordering::Relaxed);
            let temp = dir.join(format!(".{name}.teleaudit-{}-{n}.tmp", std::process::id()));
            match fs::OpenOptions::new().write(true).create_new(true).open(&temp) {
                Ok(f) => break (f, temp),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        };
        if let Some(m) = existing {
            // Best effort: the report keeps the old file's mode.
            let _ = file.set_permissions(m.permissions());
        }
        Ok(AtomicOutput {
            inner: Arc::new(Mutex::new(Inner { file, failed: None })),
            rename: Some(Arc::new((temp, target))),
        })
    }

    /// Makes the file readable and writable by its owner alone (a shard
    /// file: identifier values unmasked). Not for a file written in
    /// place (`/dev/null`).
    pub fn restrict(&self) -> io::Result<()> {
        #[cfg(unix)]
        if self.rename.is_some() {
            use std::os::unix::fs::PermissionsExt;
            self.lock().file.set_permissions(fs::Permissions::from_mode(0o600))?;
        }
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere while writing leaves the file as it was.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Puts the written file in place of the target. Call it once the
    /// writers handed out are flushed (or dropped); fails, leaving the
    /// target as it was, if any write failed.
    pub fn commit(self) -> io::Result<()> {
        {
            let mut inner = self.lock();
            if let Some(kind) = inner.failed {
                return Err(io::Error::new(kind, "an earlier write failed"));
            }
            inner.file.flush()?;
            if self.rename.is_some() {
                inner.file.sync_all()?;
            }
        }
        if let Some(r) = &self.rename {
            fs::rename(&r.0, &r.1)?;
        }
        Ok(())
    }
}

impl Drop for AtomicOutput {
    fn drop(&mut self) {
        // The last handle of an output never committed: remove the
        // temporary file (after a commit it no longer exists).
        if let Some(r) = self.rename.take()
            && let Some((temp, _)) = Arc::into_inner(r)
        {
            let _ = fs::remove_file(temp);
        }
    }
}

impl Write for AtomicOutput {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut inner = self.lock();
        if let Some(kind) = inner.failed {
            return Err(io::Error::new(kind, "an earlier write failed"));
        }
        let r = inner.file.write(buf);
        if let Err(e) = &r
            && e.kind() != io::ErrorKind::Interrupted
        {
            inner.failed = Some(e.kind());
        }
        r
    }

    fn flush(&mut self) -> io::Result<()> {
        self.lock().file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("teleaudit-output-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).expect("temp dir");
        d
    }

    fn entries(d: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(d)
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn target_changes_only_on_commit() {
        let d = dir("commit");
        let t = d.join("report.txt");
        fs::write(&t, "old\n").expect("write");
        let mut out = AtomicOutput::create(&t).expect("create");
        out.write_all(b"new\n").expect("write");
        assert_eq!(fs::read_to_string(&t).expect("read"), "old\n");
        assert_eq!(entries(&d).len(), 2);
        out.commit().expect("commit");
        assert_eq!(fs::read_to_string(&t).expect("read"), "new\n");
        assert_eq!(entries(&d), ["report.txt"]);
    }

    #[test]
    fn dropped_uncommitted_leaves_the_target_and_no_temporary() {
        let d = dir("drop");
        let t = d.join("report.txt");
        fs::write(&t, "old\n").expect("write");
        let out = AtomicOutput::create(&t).expect("create");
        let mut handle = io::BufWriter::new(out.clone());
        handle.write_all(b"half").expect("write");
        drop(handle);
        drop(out);
        assert_eq!(fs::read_to_string(&t).expect("read"), "old\n");
        assert_eq!(entries(&d), ["report.txt"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_link_stays_a_link_and_special_files_are_written_in_place() {
        let d = dir("link");
        let real = d.join("real.txt");
        fs::write(&real, "old").expect("write");
        let link = d.join("link.txt");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        let mut out = AtomicOutput::create(&link).expect("create");
        out.write_all(b"new").expect("write");
        out.commit().expect("commit");
        assert!(fs::symlink_metadata(&link).expect("meta").file_type().is_symlink());
        assert_eq!(fs::read_to_string(&real).expect("read"), "new");
        let mut null = AtomicOutput::create(Path::new("/dev/null")).expect("open /dev/null");
        null.write_all(b"x").expect("write");
        null.commit().expect("commit");
        assert!(!fs::metadata("/dev/null").expect("meta").file_type().is_file());
    }

    #[test]
    fn outputs_that_are_inputs_or_each_other_are_refused() {
        let d = dir("check");
        let cap = d.join("a.pcap");
        fs::write(&cap, "x").expect("write");
        fn o<'a>(option: &'static str, path: &'a Path) -> Output<'a> {
            Output { option, path }
        }
        let dotted = d.join(".").join("a.pcap");
        let e = check_outputs(&[o("-o", &dotted)], [("an input capture", cap.clone())]).unwrap_err();
        assert!(e.contains("refusing to overwrite an input capture"), "{e}");
        #[cfg(unix)]
        {
            let hard = d.join("hard.pcap");
            fs::hard_link(&cap, &hard).expect("hard link");
            assert!(check_outputs(&[o("-o", &hard)], [("an input capture", cap.clone())]).is_err());
        }
        let new = d.join("new.txt");
        assert!(check_outputs(&[o("-o", &new)], [("an input capture", cap.clone())]).is_ok());
        let e = check_outputs(&[o("-o", &new), o("--write-baseline", &d.join(".").join("new.txt"))], []).unwrap_err();
        assert!(e.contains("name the same file"), "{e}");
        assert!(check_outputs(&[o("-o", &new), o("--write-baseline", &d.join("b.json"))], []).is_ok());
    }
}
