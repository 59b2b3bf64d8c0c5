//! Small helpers shared by several components: durations in config files, secrets,
//! the settings' validation [`Problem`], process-wide memory settings, IP networks
//! ([`cidr`]).
//!
//! Depends on no component of overhear, and never logs a secret's value.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

pub mod cidr;

/// `serde(with = "crate::util::duration")`: `"90s"`, `"2m"`, `"1h 30m"`, `"7d"`.
pub mod duration {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text).map_err(serde::de::Error::custom)
    }

    pub fn parse(text: &str) -> Result<Duration, String> {
        humantime::parse_duration(text.trim()).map_err(|e| {
            format!(
                "invalid duration {text:?} ({e}); expected e.g. \"90s\", \"15m\", \"2h\", \"7d\""
            )
        })
    }
}

/// `serde(with = "crate::util::opt_duration")` for `Option<Duration>`.
pub mod opt_duration {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let text = Option::<String>::deserialize(d)?;
        text.map(|t| duration::parse(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// Where a secret comes from: never the config file itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretRef {
    /// Name of an environment variable holding the secret.
    pub env: Option<String>,
    /// Path of a file holding the secret (trailing newline ignored).
    pub file: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("environment variable {0} is not set (it should hold the {1})")]
    MissingEnv(String, String),
    #[error("cannot read the {what} from {path}: {source}")]
    File {
        what: String,
        path: PathBuf,
        source: std::io::Error,
    },
}

impl SecretRef {
    pub fn new(env: Option<String>, file: Option<PathBuf>) -> Self {
        SecretRef { env, file }
    }

    pub fn is_set(&self) -> bool {
        self.env.is_some() || self.file.is_some()
    }

    /// Resolves the secret; `Ok(None)` when none is configured. `what` names it in errors.
    pub fn resolve(&self, what: &str) -> Result<Option<String>, SecretError> {
        if let Some(path) = &self.file {
            let text = std::fs::read_to_string(path).map_err(|source| SecretError::File {
                what: what.to_string(),
                path: path.clone(),
                source,
            })?;
            return Ok(Some(text.trim_end_matches(['\r', '\n']).to_string()));
        }
        if let Some(var) = &self.env {
            return match std::env::var(var) {
                Ok(v) => Ok(Some(v)),
                Err(_) => Err(SecretError::MissingEnv(var.clone(), what.to_string())),
            };
        }
        Ok(None)
    }
}

/// A validation problem in a component's settings, located by the dotted key it
/// concerns (`brand[1].query`) and, optionally, a byte offset inside that key's value.
/// Components report these; `crate::config` turns them into file:line:column errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub offset_in_value: Option<usize>,
    pub message: String,
}

impl Problem {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            key: key.into(),
            offset_in_value: None,
            message: message.into(),
        }
    }
}

/// Caps glibc's malloc arenas at 2 unless `MALLOC_ARENA_MAX` is set. glibc gives each
/// thread that allocates its own arena (up to 8 per core), and the daemon's tokio,
/// libtorch and sled threads each keep freed memory in theirs: after a burst of posts
/// that stayed as 50 MB of resident memory. Call at process start.
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets a tuning parameter; it is called before any other
        // thread exists.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

/// Raises the soft limit on open files to the hard one (at most 65,536): the API
/// serves hundreds of connections at once besides sled's files and the sources'
/// sockets, and the usual soft limit is 1,024. Returns the limit now in force.
pub fn raise_open_files_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed in.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return None;
        }
        let want = lim.rlim_max.min(65_536);
        if lim.rlim_cur < want {
            let raised = libc::rlimit {
                rlim_cur: want,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim = raised;
            }
        }
    }
    Some(lim.rlim_cur)
}

/// Hands memory that was freed back to the OS (glibc's `malloc_trim`). glibc returns
/// only the top of its heap by itself; tensors of every size freed in the middle of
/// it stay resident, and a daemon under a steady stream of posts grew by about 5 MB a
/// minute that way (one trim gave back 120 MB of 496). Takes a few milliseconds.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own free lists; any thread may call it.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// A duration in seconds as people read it: "30 s", "12 min", "2.0 h", "3.0 d".
pub fn pretty_secs(secs: f64) -> String {
    let s = secs.max(0.0);
    if s < 90.0 {
        format!("{s:.0} s")
    } else if s < 5400.0 {
        format!("{:.0} min", s / 60.0)
    } else if s < 172_800.0 {
        format!("{:.1} h", s / 3600.0)
    } else {
        format!("{:.1} d", s / 86_400.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_human_form() {
        assert_eq!(duration::parse("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(
            duration::parse(" 1h 30m ").unwrap(),
            Duration::from_secs(5400)
        );
        assert_eq!(
            duration::parse("7d").unwrap(),
            Duration::from_secs(7 * 86400)
        );
        let err = duration::parse("soon").unwrap_err();
        assert!(err.contains("\"soon\""), "{err}");
    }

    #[test]
    fn secrets_come_from_files_without_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "hunter2\n").unwrap();
        let s = SecretRef::new(None, Some(path));
        assert_eq!(
            s.resolve("SMTP password").unwrap().as_deref(),
            Some("hunter2")
        );
        let missing = SecretRef::new(Some("OVERHEAR_TEST_SURELY_UNSET_VAR".into()), None);
        let err = missing.resolve("SMTP password").unwrap_err().to_string();
        assert!(err.contains("OVERHEAR_TEST_SURELY_UNSET_VAR"), "{err}");
        assert_eq!(SecretRef::default().resolve("x").unwrap(), None);
    }
}
