//! The live page: `GET /` serves one HTML file with its JavaScript (built into the binary, no build step);
//! `GET /ws?symbol=S` is its WebSocket, on which the server pushes a JSON snapshot whenever the market or the
//! sessions change (at most [`PUSH_INTERVAL_MIN`] apart, and at least every [`PUSH_INTERVAL_MAX`] for the
//! metrics). The page never polls; it is read-only.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::AdminState;
use super::api::InstrumentView;
use crate::metrics::Metrics;

/// The page (HTML, CSS and JavaScript in one file).
pub const PAGE_HTML: &str = include_str!("page.html");
/// Price levels shown per side.
pub const LADDER_LEVELS: usize = 10;
/// Trades shown on the tape.
pub const TAPE_ROWS: usize = 30;
/// Pushes are at least this far apart (changes in between are coalesced).
pub const PUSH_INTERVAL_MIN: Duration = Duration::from_millis(100);
/// A push at least this often, for the headline metrics.
pub const PUSH_INTERVAL_MAX: Duration = Duration::from_secs(1);

/// `GET /`.
pub async fn index() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        PAGE_HTML,
    )
        .into_response()
}

#[derive(Debug, serde::Deserialize)]
pub struct PageQuery {
    symbol: Option<String>,
}

/// `GET /ws?symbol=S`.
pub async fn websocket(
    State(state): State<Arc<AdminState>>,
    Query(query): Query<PageQuery>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let metrics = Arc::clone(&state.metrics);
    upgrade.on_upgrade(move |socket| feed(socket, metrics, query.symbol))
}

async fn feed(mut socket: WebSocket, metrics: Arc<Metrics>, symbol: Option<String>) {
    let mut changes = metrics.changes.subscribe();
    loop {
        let text = snapshot(&metrics, symbol.as_deref()).to_string();
        if socket.send(Message::Text(text.into())).await.is_err() {
            return;
        }
        tokio::time::sleep(PUSH_INTERVAL_MIN).await;
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { return },
            _ = tokio::time::sleep(PUSH_INTERVAL_MAX) => {}
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

/// What the page shows, as JSON: the chosen instrument's ladder, the tape, every instrument's status, the
/// sessions and the headline metrics.
pub fn snapshot(metrics: &Metrics, symbol: Option<&str>) -> serde_json::Value {
    let market = metrics.market.lock().expect("market lock");
    let chosen = symbol
        .and_then(|s| market.instrument(s))
        .or_else(|| market.instruments.first());
    let ladder = chosen.map(|i| {
        let level = |(p, q): (&i64, &i64)| serde_json::json!([i.price(*p), i.qty(*q)]);
        serde_json::json!({
            "symbol": i.spec.symbol,
            "bids": i.bids.iter().rev().take(LADDER_LEVELS).map(level).collect::<Vec<_>>(),
            "asks": i.asks.iter().take(LADDER_LEVELS).map(level).collect::<Vec<_>>(),
        })
    });
    let tape: Vec<_> = market.tape.iter().rev().take(TAPE_ROWS).cloned().collect();
    let instruments: Vec<_> = market.instruments.iter().map(InstrumentView::of).collect();
    let trades: u64 = market.instruments.iter().map(|i| i.trades).sum();
    let open_orders = market.open_order_count();
    drop(market);
    let sessions: Vec<_> = metrics.sessions.iter().map(|s| s.view()).collect();
    let logged_on = metrics.sessions.iter().filter(|s| s.is_logged_on()).count();
    let orders: u64 = metrics.sessions.iter().map(|s| s.orders_received()).sum();
    let rejects: u64 = metrics.counters.rejects().iter().map(|(_, _, n)| n).sum();
    serde_json::json!({
        "requested": symbol,
        "ladder": ladder,
        "tape": tape,
        "instruments": instruments,
        "sessions": sessions,
        "metrics": {
            "orders_received": orders,
            "trades": trades,
            "open_orders": open_orders,
            "rejects": rejects,
            "commands_released": metrics.released_commands(),
            "sessions_logged_on": logged_on,
            "sessions_configured": metrics.sessions.len(),
            "ready": metrics.started.load(Ordering::Relaxed) && metrics.core_alive.load(Ordering::Relaxed),
        },
    })
}
