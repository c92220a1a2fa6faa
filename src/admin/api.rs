//! The read-only endpoints: `/health`, `/ready`, `/metrics` and the JSON API.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_decimal::Decimal;

use super::AdminState;
use super::actions::ask_gateway;
use crate::metrics::market::{InstrumentState, status_name};
use crate::metrics::session::SessionView;
use crate::metrics::text::{OPENMETRICS_TEXT, PROMETHEUS_TEXT, to_prometheus_text};
use gateway::AdminCommand;

/// How long `/ready` waits for the gateway thread to answer.
pub const READY_GATEWAY_WAIT: Duration = Duration::from_secs(2);

/// `GET /health`: the process is up and serving.
pub async fn health() -> &'static str {
    "ok\n"
}

/// `GET /ready`: the journal was replayed, the listeners are up, the sequencer releases and the gateway thread
/// answers. 503 with the reasons otherwise.
pub async fn ready(State(state): State<Arc<AdminState>>) -> Response {
    let mut problems = Vec::new();
    if !state.metrics.started.load(Ordering::Relaxed) {
        problems.push("starting: journal replay or listeners not done".to_string());
    }
    if !state.metrics.core_alive.load(Ordering::Relaxed) {
        problems.push("the sequencer stopped releasing batches".to_string());
    }
    if let Err(e) = ask_gateway(&state, AdminCommand::Ping, READY_GATEWAY_WAIT).await {
        problems.push(format!("gateway thread: {e}"));
    }
    if problems.is_empty() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        let body = serde_json::json!({ "ready": false, "problems": problems });
        (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
    }
}

/// `GET /metrics`: OpenMetrics when the scraper's Accept names it (Prometheus does), else the Prometheus text
/// format.
pub async fn metrics(State(state): State<Arc<AdminState>>, headers: HeaderMap) -> Response {
    let mut text = String::with_capacity(64 * 1024);
    if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &state.registry) {
        tracing::error!("encoding the metrics failed: {e}");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let openmetrics = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/openmetrics-text"));
    if openmetrics {
        ([(header::CONTENT_TYPE, OPENMETRICS_TEXT)], text).into_response()
    } else {
        (
            [(header::CONTENT_TYPE, PROMETHEUS_TEXT)],
            to_prometheus_text(&text),
        )
            .into_response()
    }
}

/// `GET /api/sessions`.
pub async fn sessions(State(state): State<Arc<AdminState>>) -> Json<Vec<SessionView>> {
    Json(state.metrics.sessions.iter().map(|s| s.view()).collect())
}

/// One instrument in the API.
#[derive(Debug, serde::Serialize)]
pub struct InstrumentView {
    pub symbol: String,
    pub status: &'static str,
    pub best_bid: Option<Level>,
    pub best_offer: Option<Level>,
    pub last_trade: Option<Level>,
    pub volume: Decimal,
    pub trades: u64,
}

/// A price and a quantity.
#[derive(Debug, serde::Serialize)]
pub struct Level {
    pub price: Decimal,
    pub qty: Decimal,
}

impl InstrumentView {
    pub fn of(i: &InstrumentState) -> InstrumentView {
        let level = |(p, q): (i64, i64)| Level {
            price: i.price(p),
            qty: i.qty(q),
        };
        InstrumentView {
            symbol: i.spec.symbol.clone(),
            status: status_name(i.status),
            best_bid: i.best_bid().map(level),
            best_offer: i.best_ask().map(level),
            last_trade: i.last_price_ticks.map(|p| level((p, i.last_qty_lots))),
            volume: i.qty(i.volume_lots as i64),
            trades: i.trades,
        }
    }
}

/// `GET /api/instruments`.
pub async fn instruments(State(state): State<Arc<AdminState>>) -> Json<Vec<InstrumentView>> {
    let market = state.metrics.market.lock().expect("market lock");
    Json(market.instruments.iter().map(InstrumentView::of).collect())
}

/// `GET /api/accounts/{account}/orders`: the account's open orders, oldest first.
pub async fn open_orders(
    State(state): State<Arc<AdminState>>,
    Path(account): Path<String>,
) -> Response {
    if account.len() > fix::limits::ACCOUNT_BYTES_MAX {
        return (StatusCode::BAD_REQUEST, "account name too long\n").into_response();
    }
    let market = state.metrics.market.lock().expect("market lock");
    Json(serde_json::json!({
        "account": account,
        "orders": market.open_orders(&account),
        "untracked_orders": market.orders_untracked,
    }))
    .into_response()
}
