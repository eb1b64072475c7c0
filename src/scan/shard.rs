//! Sharded batch scans: `--shard I/N` keeps the discovered inputs whose
//! path, relative to the root it was found under, hashes to `I` among
//! `N` (FNV-1a of the path with `/` separators, modulo `N`). The rule
//! depends on nothing but that relative path, so every node of a cluster
//! computes the same split whatever the folder is mounted as, and adding a
//! file moves no other. `--shard auto` takes `I/N` from a Slurm job array
//! (`SLURM_ARRAY_TASK_ID` less `SLURM_ARRAY_TASK_MIN`, of
//! `SLURM_ARRAY_TASK_COUNT`), `--shard auto/N` from a Kubernetes Indexed
//! Job (`JOB_COMPLETION_INDEX`, of `N` completions).
//!
//! Paths that could not be read go to the shard their path hashes to, so
//! each is reported once across the shards; files skipped as not captures
//! (counts and names) are reported by shard 0 alone.

use std::path::{Component, Path, PathBuf};

use super::Discovery;

/// One shard of `count`, `index` counted from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// Parses `I/N`, `auto` or `auto/N`; `env` reads the environment.
    pub fn parse(spec: &str, env: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
        let number = |what: &str, s: &str| -> Result<u64, String> {
            s.trim().parse::<u64>().map_err(|_| format!("--shard {spec}: {what} `{s}` is not a whole number"))
        };
        let shard = match spec.split_once('/') {
            Some(("auto", n)) => {
                let count = number("the shard count", n)?;
                let Some(i) = env("JOB_COMPLETION_INDEX") else {
                    return Err(format!(
                        "--shard {spec}: JOB_COMPLETION_INDEX is not set (a Kubernetes Indexed Job sets it)"
                    ));
                };
                Shard { index: number("JOB_COMPLETION_INDEX", &i)?, count }
            }
            Some((i, n)) => Shard { index: number("the shard index", i)?, count: number("the shard count", n)? },
            None if spec == "auto" => {
                let (Some(id), Some(count)) = (env("SLURM_ARRAY_TASK_ID"), env("SLURM_ARRAY_TASK_COUNT")) else {
                    return Err(
                        "--shard auto: SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT are not set (a Slurm job \
                                array sets them; for a Kubernetes Indexed Job give --shard auto/N)"
                            .to_string(),
                    );
                };
                let min = env("SLURM_ARRAY_TASK_MIN").map_or(Ok(0), |m| number("SLURM_ARRAY_TASK_MIN", &m))?;
                let id = number("SLURM_ARRAY_TASK_ID", &id)?;
                let Some(index) = id.checked_sub(min) else {
                    return Err(format!("--shard auto: SLURM_ARRAY_TASK_ID {id} is below SLURM_ARRAY_TASK_MIN {min}"));
                };
                Shard { index, count: number("SLURM_ARRAY_TASK_COUNT", &count)? }
            }
            None => return Err(format!("--shard {spec}: expected I/N (0 <= I < N), auto or auto/N")),
        };
        if shard.count == 0 || shard.index >= shard.count {
            return Err(format!("--shard {spec}: the index must be below the count ({shard})"));
        }
        Ok(shard)
    }

    /// Does the input at `rel` (relative to its root) belong here?
    pub fn owns(&self, rel: &str) -> bool {
        self.of(rel) == self.index
    }

    /// The shard (of `count`) the input at `rel` belongs to.
    pub fn of(&self, rel: &str) -> u64 {
        fnv1a(rel.as_bytes()) % self.count
    }

    /// Keeps what belongs to this shard of what was discovered under
    /// `roots` (the paths given on the command line).
    pub fn apply(&self, d: &mut Discovery, roots: &[PathBuf]) {
        d.inputs.retain(|i| self.owns(&relative(&i.path, roots)));
        d.errors.retain(|e| self.owns(&relative(Path::new(&e.capture), roots)));
        if self.index != 0 {
            d.skipped = 0;
            d.warnings.clear();
            d.warnings_omitted = 0;
            d.not_captures = 0;
            d.not_capture_names.clear();
        }
    }
}

/// `path` relative to the first of `roots` it is under (a root that is
/// the file itself gives its name), with `/` separators.
pub fn relative(path: &Path, roots: &[PathBuf]) -> String {
    let rel = roots
        .iter()
        .find_map(|r| path.strip_prefix(r).ok().filter(|p| !p.as_os_str().is_empty()))
        .unwrap_or_else(|| path.file_name().map_or(path, Path::new));
    let parts: Vec<String> = rel
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    parts.join("/")
}

/// FNV-1a, 64 bits: fixed, so every node computes the same split.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn specs_parse_from_the_command_line_and_the_engines() {
        assert_eq!(Shard::parse("2/5", env(&[])), Ok(Shard { index: 2, count: 5 }));
        for bad in ["5/5", "1/0", "x/3", "3", "-1/3", "auto/x"] {
            assert!(Shard::parse(bad, env(&[])).is_err(), "{bad}");
        }
        let slurm = [("SLURM_ARRAY_TASK_ID", "7"), ("SLURM_ARRAY_TASK_MIN", "4"), ("SLURM_ARRAY_TASK_COUNT", "4")];
        assert_eq!(Shard::parse("auto", env(&slurm)), Ok(Shard { index: 3, count: 4 }));
        assert!(Shard::parse("auto", env(&[])).is_err());
        let k8s = [("JOB_COMPLETION_INDEX", "0")];
        assert_eq!(Shard::parse("auto/3", env(&k8s)), Ok(Shard { index: 0, count: 3 }));
        assert!(Shard::parse("auto/3", env(&[("JOB_COMPLETION_INDEX", "3")])).is_err());
    }

    #[test]
    fn every_path_is_in_exactly_one_shard_and_adding_one_moves_none() {
        let paths: Vec<String> = (0..500).map(|i| format!("site-{}/day-{i}.pcap", i % 7)).collect();
        for n in 1..=7 {
            let shards: Vec<Shard> = (0..n).map(|index| Shard { index, count: n }).collect();
            for p in &paths {
                assert_eq!(shards.iter().filter(|s| s.owns(p)).count(), 1, "{p} with {n} shards");
            }
        }
        // Adding a file to the folder keeps every other where it was.
        let s = Shard { index: 1, count: 3 };
        let discovery = |names: &[String]| Discovery {
            inputs: names
                .iter()
                .map(|n| super::super::Input { path: PathBuf::from("/c").join(n), display: n.clone() })
                .collect(),
            ..Discovery::default()
        };
        let roots = [PathBuf::from("/c")];
        let mut before = discovery(&paths);
        s.apply(&mut before, &roots);
        let mut more = paths.clone();
        more.insert(250, "site-3/new.pcap".to_string());
        let mut after = discovery(&more);
        s.apply(&mut after, &roots);
        after.inputs.retain(|i| i.display != "site-3/new.pcap");
        assert_eq!(before.inputs, after.inputs);
        // Spread: 500 paths in 4 shards, none nearly empty.
        for index in 0..4 {
            let n = paths.iter().filter(|p| Shard { index, count: 4 }.owns(p)).count();
            assert!((80..=170).contains(&n), "shard {index}: {n}");
        }
    }

    #[test]
    fn paths_are_taken_relative_to_their_root() {
        let roots = [PathBuf::from("/mnt/a/captures"), PathBuf::from("one.pcap")];
        assert_eq!(relative(Path::new("/mnt/a/captures/x/y.pcap"), &roots), "x/y.pcap");
        assert_eq!(relative(Path::new("one.pcap"), &roots), "one.pcap");
        // Another mount point, the same relative path.
        let other = [PathBuf::from("/scratch/captures")];
        assert_eq!(relative(Path::new("/scratch/captures/x/y.pcap"), &other), "x/y.pcap");
    }
}
