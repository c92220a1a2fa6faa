//! `fixvenue bench session`: the session layer end to end over loopback.
//!
//! A venue runs in-process on an ephemeral port with its store in a fresh directory; one client logs on and
//! 1. pipelines TestRequests (each answered by a Heartbeat: decode, validate, session, session log commit
//!    of the messages and sequence numbers, encode), 2. pipelines NewOrderSingles (each answered by a stored
//!    BusinessMessageReject: the same plus the outgoing message store), 3. sends TestRequests one at a time and
//!    times each round trip. Every answer is checked (type, TestReqID or RefSeqNum); a missing or wrong answer
//!    fails the run.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use bytes::BytesMut;
use chrono::Utc;
use hdrhistogram::Histogram;
use tokio::io::{AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::watch;
use tokio::time::timeout;

use session::config;
use testkit::client::Client;
use testkit::frames::FrameReader;
use testkit::msg::Msg;
use testkit::stamp::Stamp;
use testkit::stream::{Endpoint, Stream};

/// Messages per socket write when pipelining.
const PIPELINE_BATCH: u64 = 256;
/// How long the run waits for any one answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// The client's side after its Logon: its stamp, the connection's read half framed, its write half.
struct Pipe {
    stamp: Stamp,
    frames: FrameReader<ReadHalf<Stream>>,
    writer: Option<WriteHalf<Stream>>,
}

impl Pipe {
    /// `35=X|...|` as a complete message with the header stamped.
    fn frame(&mut self, body: &str) -> BytesMut {
        let mut out = BytesMut::new();
        self.stamp.put_text(&mut out, body, Utc::now());
        out
    }

    async fn send(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.writer
            .as_mut()
            .context("writer in use")?
            .write_all(bytes)
            .await?;
        Ok(())
    }

    async fn recv(&mut self) -> anyhow::Result<Msg> {
        let frame = timeout(ANSWER_TIMEOUT, self.frames.next())
            .await
            .context("no answer within the timeout")??;
        Ok(Msg::parse(frame))
    }

    /// Sends `n` messages made by `body(i)` from a writer task while reading and checking the answers with
    /// `check(i, answer)`; returns the time from the first write to the last answer.
    async fn pipeline(
        &mut self,
        n: u64,
        body: impl Fn(u64) -> String,
        check: impl Fn(u64, &Msg) -> bool,
    ) -> anyhow::Result<Duration> {
        let mut batches = Vec::new();
        let mut batch = BytesMut::new();
        for i in 0..n {
            self.stamp.put_text(&mut batch, &body(i), Utc::now());
            if (i + 1) % PIPELINE_BATCH == 0 {
                batches.push(std::mem::take(&mut batch));
            }
        }
        batches.push(batch);
        let mut writer = self.writer.take().context("writer in use")?;
        let started = Instant::now();
        let task = tokio::spawn(async move {
            for b in &batches {
                writer.write_all(b).await?;
            }
            Ok::<_, std::io::Error>(writer)
        });
        for i in 0..n {
            let msg = self.recv().await?;
            ensure!(check(i, &msg), "wrong answer {i}: {msg}");
        }
        let elapsed = started.elapsed();
        self.writer = Some(task.await??);
        Ok(elapsed)
    }
}

/// TransactTime now, to the millisecond.
fn now() -> String {
    Utc::now().format("%Y%m%d-%H:%M:%S%.3f").to_string()
}

/// Runs the benchmark and prints the figures and the `RESULT` line.
pub fn run(messages: u64, pings: u64) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("fixvenue-bench-session-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(measure(&dir, messages, pings));
    let _ = std::fs::remove_dir_all(&dir);
    let figures = result?;
    println!(
        "session layer over loopback: {messages} TestRequest/Heartbeat in {:.2} s, {messages} NewOrderSingle/BusinessMessageReject (stored) in {:.2} s",
        figures.admin.as_secs_f64(),
        figures.app.as_secs_f64()
    );
    let per_s = |d: Duration| messages as f64 / d.as_secs_f64();
    println!(
        "RESULT suite=session peer=fixvenue msgs_per_s_admin={:.0} msgs_per_s_app={:.0} rtt_us_p50={} rtt_us_p99={}",
        per_s(figures.admin),
        per_s(figures.app),
        figures.rtt.value_at_quantile(0.5),
        figures.rtt.value_at_quantile(0.99)
    );
    Ok(())
}

struct Figures {
    admin: Duration,
    app: Duration,
    rtt: Histogram<u64>,
}

async fn measure(dir: &Path, messages: u64, pings: u64) -> anyhow::Result<Figures> {
    let settings = config::parse(
        "bench-session.cfg",
        "[DEFAULT]\nBeginString=FIX.4.4\nSenderCompID=FIXVENUE\nNonStopSession=Y\nSocketAcceptPort=0\n\
         [SESSION]\nTargetCompID=CLIENT1\n",
    )?;
    let server = fixvenue::runtime::bind(&settings, dir).await?;
    let port = server.local_addrs()[0].addr.port();
    let (shutdown, rx) = watch::channel(false);
    let venue = tokio::spawn(server.run(rx));
    let mut client = Client::new("CLIENT1", "FIXVENUE");
    client.connect(&Endpoint::local(port)).await?;
    client.send("35=A|98=0|108=30|").await?;
    let logon = client.recv_raw(ANSWER_TIMEOUT).await?;
    ensure!(
        logon.is_some_and(|m| m.msg_type() == "A"),
        "no Logon answer"
    );
    let (frames, writer) = client
        .take_connection()
        .context("the venue closed the connection")?
        .split();
    let mut c = Pipe {
        stamp: client.stamp,
        frames,
        writer: Some(writer),
    };

    let admin = c
        .pipeline(
            messages,
            |i| format!("35=1|112=T{i}|"),
            |i, m| m.msg_type() == "0" && m.get(112) == Some(format!("T{i}").as_str()),
        )
        .await?;
    let first = c.stamp.next_out;
    let app = c
        .pipeline(
            messages,
            |i| format!("35=D|11=C{i}|21=1|55=XYZ|54=1|60={}|40=2|38=1|44=1|", now()),
            |i, m| m.msg_type() == "j" && m.get(45) == Some((first + i).to_string().as_str()),
        )
        .await?;
    let mut rtt = Histogram::<u64>::new(3)?;
    for i in 0..pings {
        let ping = c.frame(&format!("35=1|112=P{i}|"));
        let started = Instant::now();
        c.send(&ping).await?;
        let answer = c.recv().await?;
        rtt.record(started.elapsed().as_micros() as u64)?;
        ensure!(
            answer.get(112) == Some(format!("P{i}").as_str()),
            "wrong Heartbeat to TestRequest {i}"
        );
    }
    let logout = c.frame("35=5|");
    c.send(&logout).await?;
    let _ = c.recv().await;
    let _ = shutdown.send(true);
    venue.await??;
    Ok(Figures { admin, app, rtt })
}
