//! The cluster tests' nats-server: `contrib/cluster/nats-server.conf` on a free
//! port and a store of its own, restartable.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::daemon_support::{free_port, Daemon};

/// `nats-server`, or `None` (the test is skipped) unless OVERHEAR_REQUIRE_NATS is set.
pub fn nats_server_binary() -> Option<PathBuf> {
    let found = [
        "/usr/sbin/nats-server",
        "/usr/bin/nats-server",
        "/usr/local/bin/nats-server",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists());
    if found.is_none() {
        crate::skip_support::skip(
            "OVERHEAR_REQUIRE_NATS",
            "nats-server is not installed (apt-get install nats-server)",
        );
    }
    found
}

/// The passwords of the hub's and the workers' NATS users (nats-server.conf).
pub const HUB_PASSWORD: &str = "hub-secret-for-tests";
pub const WORKER_PASSWORD: &str = "worker-secret-for-tests";

pub fn nats_passwords() -> [(&'static str, &'static str); 2] {
    [
        ("NATS_HUB_PASSWORD", HUB_PASSWORD),
        ("NATS_WORKER_PASSWORD", WORKER_PASSWORD),
    ]
}

/// A nats-server with JetStream on file storage in `dir`.
pub struct Nats {
    bin: PathBuf,
    pub port: u16,
    dir: PathBuf,
    log: PathBuf,
    child: Option<Daemon>,
}

impl Nats {
    pub fn start(bin: PathBuf, dir: &Path) -> Nats {
        let mut n = Nats {
            bin,
            port: free_port(),
            dir: dir.join("nats"),
            log: dir.join("nats.log"),
            child: None,
        };
        n.restart();
        n
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts it again (after [`Nats::stop`]) on the same port and store, with
    /// `contrib/cluster/nats-server.conf` (its two users and their permissions): only
    /// the port, the address and the store directory differ.
    pub fn restart(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let contrib =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/cluster/nats-server.conf");
        let text = std::fs::read_to_string(contrib).unwrap();
        assert!(text.contains("store_dir: /data") && text.contains("\nport: 4222\n"));
        let text = text
            .replace("store_dir: /data", &format!("store_dir: {:?}", self.dir))
            .replace(
                "\nport: 4222\n",
                &format!("\nport: {}\nhost: 127.0.0.1\n", self.port),
            );
        let conf = self.dir.with_extension("conf");
        std::fs::write(&conf, text).unwrap();
        let child = Command::new(&self.bin)
            .arg("-c")
            .arg(&conf)
            .envs(nats_passwords())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(Daemon(child));
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops it the way a crash would (SIGKILL).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.0.kill();
            let _ = c.0.wait();
        }
    }
}
