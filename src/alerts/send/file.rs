//! The file transport's write: one `.eml` per email in the mail folder, durable
//! before the sender marks the alert sent.
//!
//! The message goes to a hidden temporary name (mode 0600), is fsynced, renamed to
//! `ID.eml` and the folder is fsynced, so that after a power cut an alert marked sent
//! has its whole file, and a reader of the folder never sees half a message.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rand::Rng;

/// Writes `bytes` as a new `.eml` file in `dir`; returns its path once it is durable.
pub(super) fn write_eml(dir: &Path, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let id: [u8; 16] = rand::thread_rng().gen();
    let name = hex::encode(id);
    let tmp = dir.join(format!(".{name}.eml.tmp"));
    let path = dir.join(format!("{name}.eml"));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(path)
}
