//! `fixvenue bench session`: the session layer end to end over loopback.
//!
//! A venue runs in-process on an ephemeral port with its store in a fresh directory; one client logs on and
//! 1. pipelines TestRequests (each answered by a Heartbeat: decode, validate, session, store commit of the
//!    sequence numbers and the compliance log, encode), 2. pipelines NewOrderSingles (each answered by a stored
//!    BusinessMessageReject: the same plus the outgoing message store), 3. sends TestRequests one at a time and
//!    times each round trip. Every answer is checked (type, TestReqID or RefSeqNum); a missing or wrong answer
//!    fails the run.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::watch;

use fix::frame::{self, from_text};
use fix::{FrameConfig, Framed};
use session::config;

/// Messages per socket write when pipelining.
const PIPELINE_BATCH: u64 = 256;
/// How long the run waits for any one answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

struct Client {
    reader: OwnedReadHalf,
    writer: Option<OwnedWriteHalf>,
    buf: Vec<u8>,
    seq: u64,
}

fn now() -> String {
    chrono::Utc::now().format("%Y%m%d-%H:%M:%S%.3f").to_string()
}

fn field(msg: &[u8], tag: &str) -> Option<String> {
    let text = String::from_utf8_lossy(msg);
    text.split('\x01')
        .find_map(|f| f.strip_prefix(&format!("{tag}=")).map(str::to_string))
}

impl Client {
    fn frame(&mut self, body: &str) -> Vec<u8> {
        let (t, rest) = body.split_once('|').expect("body starts with 35=..|");
        let text = format!(
            "{t}|49=CLIENT1|56=FIXVENUE|34={}|52={}|{rest}",
            self.seq,
            now()
        );
        self.seq += 1;
        from_text(&text)
    }

    async fn send(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.writer
            .as_mut()
            .context("writer in use")?
            .write_all(bytes)
            .await?;
        Ok(())
    }

    async fn recv(&mut self) -> anyhow::Result<Vec<u8>> {
        loop {
            match frame::check(&self.buf, &FrameConfig::default()) {
                Framed::Complete { len } => return Ok(self.buf.drain(..len).collect()),
                Framed::Garbled { reason, .. } => {
                    bail!("the venue sent a garbled message: {reason}")
                }
                Framed::Incomplete { .. } => {}
            }
            let mut chunk = [0u8; 65536];
            let n = tokio::time::timeout(ANSWER_TIMEOUT, self.reader.read(&mut chunk))
                .await
                .context("no answer within the timeout")??;
            ensure!(n > 0, "the venue closed the connection");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Sends `n` messages made by `body(i)` from a writer task while reading and checking the answers with
    /// `check(i, answer)`; returns the time from the first write to the last answer.
    async fn pipeline(
        &mut self,
        n: u64,
        body: impl Fn(u64) -> String,
        check: impl Fn(u64, &[u8]) -> bool,
    ) -> anyhow::Result<Duration> {
        let mut batches = Vec::new();
        let mut batch = Vec::new();
        for i in 0..n {
            batch.extend_from_slice(&self.frame(&body(i)));
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
            ensure!(
                check(i, &msg),
                "wrong answer {i}: {}",
                String::from_utf8_lossy(&msg).replace('\x01', "|")
            );
        }
        let elapsed = started.elapsed();
        self.writer = Some(task.await??);
        Ok(elapsed)
    }
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
    let stream = TcpStream::connect(("127.0.0.1", port)).await?;
    stream.set_nodelay(true)?;
    let (reader, writer) = stream.into_split();
    let mut c = Client {
        reader,
        writer: Some(writer),
        buf: Vec::new(),
        seq: 1,
    };
    let logon = c.frame("35=A|98=0|108=30|");
    c.send(&logon).await?;
    ensure!(
        field(&c.recv().await?, "35").as_deref() == Some("A"),
        "no Logon answer"
    );

    let admin = c
        .pipeline(
            messages,
            |i| format!("35=1|112=T{i}|"),
            |i, m| {
                field(m, "35").as_deref() == Some("0") && field(m, "112") == Some(format!("T{i}"))
            },
        )
        .await?;
    let first = c.seq;
    let app = c
        .pipeline(
            messages,
            |i| format!("35=D|11=C{i}|21=1|55=XYZ|54=1|60={}|40=2|38=1|44=1|", now()),
            |i, m| {
                field(m, "35").as_deref() == Some("j")
                    && field(m, "45") == Some((first + i).to_string())
            },
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
            field(&answer, "112") == Some(format!("P{i}")),
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
