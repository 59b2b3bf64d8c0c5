//! What is at the data path is checked before it is trusted.

use overhear::store::{Store, StoreError};

fn refused(dir: &std::path::Path) -> String {
    match Store::open(dir) {
        Ok(_) => panic!("opened {}", dir.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_file_at_the_data_path_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::write(&data, "hello").unwrap();
    let msg = refused(&data);
    assert!(msg.contains("is a file"), "{msg}");
    std::fs::create_dir(dir.path().join("d2")).unwrap();
    std::fs::write(dir.path().join("d2/db"), "not a directory").unwrap();
    let msg = refused(&dir.path().join("d2"));
    assert!(
        msg.contains("refusing to open") && msg.contains("is a file"),
        "{msg}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("d2/db")).unwrap(),
        "not a directory"
    );
}

#[test]
fn a_foreign_directory_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("db")).unwrap();
    std::fs::write(dir.path().join("db/notes.txt"), "mine").unwrap();
    let msg = refused(dir.path());
    assert!(
        msg.contains("no sled database") && msg.contains("notes.txt"),
        "{msg}"
    );
    let names: Vec<_> = std::fs::read_dir(dir.path().join("db")).unwrap().collect();
    assert_eq!(names.len(), 1);
}

#[test]
fn a_sled_database_overhear_did_not_write_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = sled::open(dir.path().join("db")).unwrap();
        db.insert("someone", "else").unwrap();
        db.flush().unwrap();
    }
    let msg = refused(dir.path());
    assert!(msg.contains("not one overhear wrote"), "{msg}");
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Store::open(dir.path()).unwrap();
        s.tree("meta")
            .unwrap()
            .insert("schema_version", "99")
            .unwrap();
        s.flush().unwrap();
    }
    let err = Store::open(dir.path()).err().unwrap();
    assert!(matches!(err, StoreError::TooNew { found: 99, .. }), "{err}");
    assert!(err.to_string().contains("upgrade overhear"));
}

#[test]
fn damaged_files_are_refused_not_misread() {
    for victim in ["conf", "db"] {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Store::open(dir.path()).unwrap();
            let t = s.tree("mentions").unwrap();
            t.insert("k", "v").unwrap();
            s.flush().unwrap();
        }
        let path = dir.path().join("db").join(victim);
        let len = std::fs::metadata(&path).unwrap().len() as usize;
        let garbage: Vec<u8> = (0..len.max(64)).map(|i| (i * 7 + 13) as u8).collect();
        std::fs::write(&path, garbage).unwrap();
        let msg = refused(dir.path());
        eprintln!("{victim}: {msg}");
        assert!(
            msg.contains(&dir.path().join("db").display().to_string()),
            "{msg}"
        );
        assert!(msg.contains("damaged"), "{msg}");
    }
}

#[test]
fn a_second_process_is_told_who_holds_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let _held = Store::open(dir.path()).unwrap();
    let err = Store::open(dir.path()).err().unwrap();
    assert!(matches!(err, StoreError::Locked(_)), "{err}");
    assert!(err.to_string().contains("overhear run"), "{err}");
}

#[test]
fn read_only_commands_do_not_create_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let err = Store::open_existing(dir.path()).err().unwrap();
    assert!(matches!(err, StoreError::Missing(_)), "{err}");
    assert!(!dir.path().join("db").exists());
}

#[test]
fn a_creation_cut_short_leaves_nothing_that_blocks_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    // a crash while creating: half-made files beside the data path, an empty dir at it
    std::fs::create_dir_all(dir.path().join("db.init")).unwrap();
    std::fs::write(dir.path().join("db.init/db"), "half").unwrap();
    std::fs::create_dir_all(dir.path().join("db")).unwrap();
    let s = Store::open(dir.path()).unwrap();
    assert!(s.is_empty());
    assert!(!dir.path().join("db.init").exists());
    drop(s);
    assert!(Store::open(dir.path()).is_ok());
}
