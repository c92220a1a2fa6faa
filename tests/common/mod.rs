//! Helpers shared by the integration tests that run the real `fixvenue` binary.

pub mod fix;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Starts `fixvenue serve` on a session file and data directory and returns the process and the plain port it
/// reports listening on. The venue's output keeps being drained so that it never blocks on a full pipe.
pub fn start_venue(cfg: &Path, data: &Path) -> (Child, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fixvenue"))
        .args(["serve", "--sessions"])
        .arg(cfg)
        .arg("--data-dir")
        .arg(data)
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start fixvenue");
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let port = loop {
        let line = lines
            .next()
            .expect("venue output")
            .expect("venue output line");
        if let Some(at) = line.find("listening on ") {
            let addr: String = line[at + 13..]
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
                .collect();
            break addr
                .rsplit(':')
                .next()
                .unwrap()
                .parse::<u16>()
                .expect("a port number");
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, port)
}

/// A venue process that is killed (SIGKILL) and reaped when dropped, so a failing test leaves nothing behind.
#[allow(dead_code)]
pub struct VenueProcess {
    pub child: Child,
    pub port: u16,
}

#[allow(dead_code)]
impl VenueProcess {
    pub fn start(cfg: &Path, data: &Path) -> VenueProcess {
        let (child, port) = start_venue(cfg, data);
        VenueProcess { child, port }
    }

    /// Sends `signal` (`TERM`, `KILL`) and waits for the process to end; returns its exit status.
    pub fn stop(&mut self, signal: &str) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
        self.child.wait().expect("wait for the venue")
    }
}

impl Drop for VenueProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
