//! Where the lab finds its inputs (repo, payloads, the isola binary) and keeps its work
//! (build, canaries, run dirs). It must never place a canary or work dir inside a rootfs.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::compile::{which, Builder};
use crate::target::{self, Env, Kind, Target};

pub struct Lab {
    pub payloads: PathBuf,
    pub work: PathBuf,
    pub isola: Option<PathBuf>,
    /// Identifies this invocation (canary and run dirs live under it).
    pub run_id: String,
}

/// Finds the repository: the ancestor of the cwd holding `payloads/README.md`, else the one this
/// binary was built from.
fn find_repo() -> PathBuf {
    if let Ok(cwd) = std::env::current_dir() {
        for dir in cwd.ancestors() {
            if dir.join("payloads/README.md").exists() {
                return dir.to_path_buf();
            }
        }
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap_or_else(|_| PathBuf::from("."))
}

impl Lab {
    pub fn new(isola: Option<PathBuf>, work: PathBuf, payloads: Option<PathBuf>) -> Result<Self> {
        let repo = find_repo();
        let isola = isola.or_else(|| {
            let p = repo.join("target/release/isola");
            p.exists().then_some(p)
        });
        let isola = isola.or_else(|| which("isola"));
        // Payloads run with their cwd in their own work dir, so every path the lab hands to a
        // runtime must be absolute.
        let isola = isola.map(|p| std::fs::canonicalize(&p).with_context(|| format!("isola binary {}", p.display()))).transpose()?;
        std::fs::create_dir_all(&work)?;
        let work = std::fs::canonicalize(&work)?;
        let payloads = payloads.unwrap_or_else(|| repo.join("payloads"));
        let payloads = std::fs::canonicalize(&payloads).with_context(|| format!("payloads {}", payloads.display()))?;
        let run_id = format!("{}-{}", chrono_like_now(), std::process::id());
        Ok(Lab { payloads, work, isola, run_id })
    }

    pub fn builder(&self) -> Result<Builder> {
        Builder::new(&self.work.join("build"))
    }

    pub fn env(&self) -> Env {
        Env { isola: self.isola.clone(), work: self.work.clone() }
    }

    /// Detects the requested targets (missing ones carry the reason they are skipped).
    pub fn targets(&self, kinds: &[Kind]) -> Vec<Target> {
        let env = self.env();
        kinds.iter().map(|k| target::detect(*k, &env)).collect()
    }

    /// A fresh, empty directory for one run.
    pub fn run_dir(&self, name: &str) -> Result<PathBuf> {
        let d = self.work.join("runs").join(&self.run_id).join(name);
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d)?;
        Ok(d)
    }

    /// Host directory of one run's canaries, outside every bundle.
    pub fn canary_dir(&self, name: &str) -> PathBuf {
        self.work.join("canary").join(&self.run_id).join(name)
    }

    /// Removes this invocation's run and canary dirs.
    pub fn cleanup(&self) {
        let _ = std::fs::remove_dir_all(self.work.join("runs").join(&self.run_id));
        let _ = std::fs::remove_dir_all(self.work.join("canary").join(&self.run_id));
    }
}

/// UTC timestamp `YYYYmmddTHHMMSS` (no date crate needed).
pub fn chrono_like_now() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rem) = (secs / 86400, secs % 86400);
    let (y, m, d) = civil_from_days(days as i64);
    format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn civil_dates() {
        assert_eq!(super::civil_from_days(0), (1970, 1, 1));
        assert_eq!(super::civil_from_days(19723), (2024, 1, 1));
    }

    /// Regression: `--isola target/release/isola` (relative, as the scripts pass it) broke every
    /// isola cell once payloads ran with their cwd in their own work dir.
    #[test]
    fn relative_paths_become_absolute() {
        let work = std::env::temp_dir().join(format!("isola-lab-abs-{}", std::process::id()));
        let lab = super::Lab::new(Some("src/lab.rs".into()), work.clone(), Some("src".into())).unwrap();
        assert!(lab.isola.as_ref().unwrap().is_absolute());
        assert!(lab.isola.as_ref().unwrap().ends_with("crates/isola-lab/src/lab.rs"));
        assert!(lab.payloads.is_absolute() && lab.work.is_absolute());
        std::fs::remove_dir_all(&work).unwrap();
        assert!(super::Lab::new(Some("no/such/isola".into()), work.clone(), None).is_err(), "a missing binary is an error");
        let _ = std::fs::remove_dir_all(&work);
    }
}
