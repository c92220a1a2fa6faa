//! `fixvenue serve` on SIGTERM: every logged-on session gets a Logout, the store is flushed, the process exits 0;
//! the sequence numbers are there on the next start.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use fix::frame::{self, from_text};
use fix::{FrameConfig, Framed};

fn start(cfg: &std::path::Path, data: &std::path::Path) -> (std::process::Child, u16) {
    testkit::venue::start_venue(cfg, data)
}

fn recv(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<String> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    loop {
        if let Framed::Complete { len } = frame::check(buf, &FrameConfig::default()) {
            let msg: Vec<u8> = buf.drain(..len).collect();
            return Some(String::from_utf8_lossy(&msg).replace('\x01', "|"));
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn send(stream: &mut TcpStream, seq: u64, body: &str) {
    let (t, rest) = body.split_once('|').unwrap();
    let now = chrono::Utc::now().format("%Y%m%d-%H:%M:%S%.3f");
    let text = format!("{t}|49=CLIENT1|56=FIXVENUE|34={seq}|52={now}|{rest}");
    stream.write_all(&from_text(&text)).unwrap();
}

#[test]
fn sigterm_logs_sessions_out_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("signal.cfg");
    std::fs::write(
        &cfg,
        "[DEFAULT]\nBeginString=FIX.4.4\nSenderCompID=FIXVENUE\nNonStopSession=Y\nSocketAcceptPort=0\n\
         LogoutTimeout=2\n[SESSION]\nTargetCompID=CLIENT1\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let (mut child, port) = start(&cfg, &data);
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut buf = Vec::new();
    send(&mut s, 1, "35=A|98=0|108=30|");
    assert!(recv(&mut s, &mut buf).unwrap().contains("|35=A|"));
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let logout = recv(&mut s, &mut buf).expect("a Logout on SIGTERM");
    assert!(
        logout.contains("|35=5|") && logout.contains("|34=2|"),
        "{logout}"
    );
    send(&mut s, 2, "35=5|");
    assert_eq!(recv(&mut s, &mut buf), None);
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");

    // The numbers were flushed: the next Logon continues at 3.
    let (mut child, port) = start(&cfg, &data);
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut buf = Vec::new();
    send(&mut s, 3, "35=A|98=0|108=30|");
    let logon = recv(&mut s, &mut buf).unwrap();
    assert!(
        logon.contains("|35=A|") && logon.contains("|34=3|"),
        "{logon}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
