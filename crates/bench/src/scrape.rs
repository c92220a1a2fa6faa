//! `fixvenue-bench scrape`: how long a Prometheus scrape of the admin server's `/metrics` takes on a venue with
//! many sessions configured. An in-process venue (its admin server on a free loopback port) with `sessions`
//! sessions `SCRAPE1..N`; the first `active` log on and each rests `orders` limit orders, so that per-session
//! message counters, the book and the histograms hold data; then `scrapes` sequential GETs of `/metrics`, each
//! timed from connect to the last byte. Prints the median, p99 and max and the size of one scrape.

use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::watch;

use fixvenue::runtime::{AdminListen, ServeOptions};
use testkit::{Client, Endpoint};

/// How long an order's acknowledgement may take before the run fails.
const ACK_WAIT: Duration = Duration::from_secs(10);

/// The options of a run.
#[derive(Debug, Clone)]
pub struct ScrapeOptions {
    pub sessions: u32,
    pub active: u32,
    pub orders: u32,
    pub scrapes: u32,
}

pub fn run(options: &ScrapeOptions) -> anyhow::Result<()> {
    anyhow::ensure!(
        options.active <= options.sessions,
        "--active {} is more than --sessions {}",
        options.active,
        options.sessions
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let dir = tempfile_dir()?;
    let result = runtime.block_on(measure(options, &dir));
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "fixvenue-bench-scrape-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros()
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

fn session_config(sessions: u32) -> String {
    let mut cfg = String::from(
        "[DEFAULT]\nBeginString=FIX.4.4\nSenderCompID=FIXVENUE\nSocketAcceptAddress=127.0.0.1\n\
         SocketAcceptPort=0\nNonStopSession=Y\nSessionRole=trading\nHeartBtIntMin=1\nHeartBtIntMax=300\n\
         LogoutTimeout=2\n",
    );
    for i in 1..=sessions {
        cfg.push_str(&format!("[SESSION]\nTargetCompID=SCRAPE{i}\n"));
    }
    cfg
}

async fn measure(options: &ScrapeOptions, dir: &std::path::Path) -> anyhow::Result<()> {
    let cfg = dir.join("sessions.cfg");
    std::fs::write(&cfg, session_config(options.sessions))?;
    let serve = ServeOptions {
        sessions: vec![cfg],
        venue: None,
        data_dir: dir.join("data"),
    };
    let (shutdown, rx) = watch::channel(false);
    let admin = AdminListen::At("127.0.0.1:0".parse()?);
    let running = fixvenue::runtime::start_with(&serve, &admin, rx).await?;
    let port = running.addrs.first().context("no listener")?.addr.port();
    let admin_port = running.admin.context("the admin server is off")?.port();
    let mut clients = Vec::new();
    for i in 1..=options.active {
        let mut c = Client::new(&format!("SCRAPE{i}"), "FIXVENUE");
        c.logon_reset(&Endpoint::local(port)).await?;
        for n in 0..options.orders {
            // Distinct prices below the reference: they rest, and the book gets many levels.
            let price = format!("{}.{:02}", 50 + (i % 40), n % 100);
            c.send(&format!(
                "35=D|11=S{i}-{n}|55=ZVZZT|54=1|60={}|38=1|40=2|44={price}|59=1|",
                testkit::blocking::in_seconds(0)
            ))
            .await?;
            c.expect_within(&format!("35=8|11=S{i}-{n}|150=0"), ACK_WAIT)
                .await?;
        }
        clients.push(c);
    }
    let scrapes = options.scrapes;
    let (times_us, bytes, series) = tokio::task::spawn_blocking(move || {
        let mut times = Vec::with_capacity(scrapes as usize);
        let (mut bytes, mut series) = (0, 0);
        for _ in 0..scrapes {
            let started = Instant::now();
            let r = testkit::http::get(admin_port, "/metrics")?;
            times.push(started.elapsed().as_micros() as u64);
            anyhow::ensure!(r.status == 200, "scrape answered {}", r.status);
            bytes = r.body.len();
            series = r.body.lines().filter(|l| !l.starts_with('#')).count();
        }
        Ok((times, bytes, series))
    })
    .await??;
    for c in &mut clients {
        c.disconnect().await;
    }
    let _ = shutdown.send(true);
    running.done.await??;
    let mut sorted = times_us.clone();
    sorted.sort_unstable();
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    let (p50, p99, max) = (at(0.5), at(0.99), *sorted.last().unwrap_or(&0));
    eprintln!(
        "scrape: {} sessions configured, {} logged on with {} orders each: {} scrapes, {bytes} bytes and \
         {series} samples each; median {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        options.sessions,
        options.active,
        options.orders,
        scrapes,
        p50 as f64 / 1e3,
        p99 as f64 / 1e3,
        max as f64 / 1e3
    );
    println!(
        "{}",
        serde_json::json!({
            "sessions": options.sessions,
            "active": options.active,
            "orders_per_session": options.orders,
            "scrapes": scrapes,
            "bytes": bytes,
            "samples": series,
            "p50_us": p50,
            "p99_us": p99,
            "max_us": max,
        })
    );
    Ok(())
}
