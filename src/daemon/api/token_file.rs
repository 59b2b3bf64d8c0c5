//! The API token the daemon makes for itself when the config names none, like
//! bitcoind's cookie file: `data_dir/api-token`, 64 hex characters, mode 0600.
//!
//! The daemon makes it on its first start ([`ensure`]) and keeps it across restarts;
//! the CLI on the same machine, run by a user who can read the data directory,
//! sends it ([`read`]), so `overhear mentions ack` and `overhear user add` work with
//! no set-up while every other local user and process gets 401. Delete the file and
//! restart the daemon to change it.
//!
//! It is written whole or not at all: to a temporary file first (0600 from its
//! creation), synced, then linked into place, which fails rather than replace a file
//! another process made meanwhile.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The file's name in the data directory.
pub const FILE_NAME: &str = "api-token";

/// Why the token file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    #[error("cannot write the API token file {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot read the API token file {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error(
        "the API token file {} can be read by other users (mode {mode:o}): run `chmod 600 {}`, \
         or delete it and restart (a new token is made)",
        path.display(),
        path.display()
    )]
    Readable { path: PathBuf, mode: u32 },
    #[error(
        "the API token file {} does not hold a token (at least 16 characters): delete it and \
         restart (a new token is made)",
        path.display()
    )]
    NotAToken { path: PathBuf },
}

/// Where the token file of `data_dir` is.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE_NAME)
}

/// The token in `data_dir/api-token`, made (with the data directory) if there is
/// none. Refuses a file other users can read.
pub fn ensure(data_dir: &Path) -> Result<String, TokenFileError> {
    let file = path(data_dir);
    match read_checked(&file) {
        Ok(Some(t)) => return Ok(t),
        Ok(None) => {}
        Err(e) => return Err(e),
    }
    let write = |source| TokenFileError::Write {
        path: file.clone(),
        source,
    };
    fs::create_dir_all(data_dir).map_err(write)?;
    let token = crate::store::users::random_token();
    let tmp = data_dir.join(format!(".{FILE_NAME}.{}.tmp", std::process::id()));
    let made = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(format!("{token}\n").as_bytes())?;
        f.sync_all()?;
        fs::hard_link(&tmp, &file)
    })();
    let _ = fs::remove_file(&tmp);
    match made {
        Ok(()) => {
            if let Ok(dir) = fs::File::open(data_dir) {
                let _ = dir.sync_all();
            }
            tracing::info!(file = %file.display(), "made an API token for the CLI and scripts on this machine (no [daemon] api_token_env or api_token_file set)");
            Ok(token)
        }
        // another process made it first: use theirs
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            read_checked(&file)?.ok_or_else(|| TokenFileError::NotAToken { path: file.clone() })
        }
        Err(e) => Err(write(e)),
    }
}

/// The token in `data_dir/api-token`; `None` when there is no such file.
pub fn read(data_dir: &Path) -> Result<Option<String>, TokenFileError> {
    read_file(&path(data_dir))
}

fn read_file(file: &Path) -> Result<Option<String>, TokenFileError> {
    match fs::read_to_string(file) {
        Ok(text) => token_in(&text)
            .map(Some)
            .ok_or_else(|| TokenFileError::NotAToken {
                path: file.to_path_buf(),
            }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(TokenFileError::Read {
            path: file.to_path_buf(),
            source,
        }),
    }
}

/// As [`read`], refusing a file that other users can read.
fn read_checked(file: &Path) -> Result<Option<String>, TokenFileError> {
    let meta = match fs::metadata(file) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(TokenFileError::Read {
                path: file.to_path_buf(),
                source,
            })
        }
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(TokenFileError::Readable {
            path: file.to_path_buf(),
            mode,
        });
    }
    read_file(file)
}

fn token_in(text: &str) -> Option<String> {
    let t = text.trim();
    (t.chars().count() >= super::MIN_TOKEN_LEN).then(|| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_private_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let first = ensure(&data).unwrap();
        assert_eq!(first.len(), 64);
        let mode = fs::metadata(path(&data)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(ensure(&data).unwrap(), first, "kept across restarts");
        assert_eq!(read(&data).unwrap().as_deref(), Some(first.as_str()));
        // no temporary file is left behind
        let names: Vec<_> = fs::read_dir(&data)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(FILE_NAME)]);
    }

    #[test]
    fn a_file_others_can_read_or_an_empty_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path();
        assert_eq!(read(data).unwrap(), None);
        ensure(data).unwrap();
        fs::set_permissions(path(data), fs::Permissions::from_mode(0o644)).unwrap();
        let e = ensure(data).unwrap_err().to_string();
        assert!(e.contains("chmod 600") && e.contains("644"), "{e}");
        fs::write(path(data), "\n").unwrap();
        fs::set_permissions(path(data), fs::Permissions::from_mode(0o600)).unwrap();
        let e = ensure(data).unwrap_err().to_string();
        assert!(e.contains("does not hold a token"), "{e}");
    }
}
