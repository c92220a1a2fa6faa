//! The admin server put together at start-up: its address (venue.toml or the command line), its token, the
//! metrics registry with the venue's queues, and the gateway thread's input.

use std::sync::Arc;

use crossbeam_channel::Sender;

use super::auth::Auth;
use super::{AdminError, AdminListen, AdminServer, AdminState};
use crate::metrics::Metrics;
use crate::metrics::collector::Queues;
use crate::net::VenueHandle;
use gateway::Input;
use venue_config::AdminSettings;

/// Binds the admin server as `listen` and venue.toml's `settings` say; `None` when it is off.
pub async fn bind(
    listen: &AdminListen,
    settings: &AdminSettings,
    metrics: &Arc<Metrics>,
    venue: &VenueHandle,
    gateway: Sender<Input>,
) -> Result<Option<AdminServer>, AdminError> {
    let addr = match listen {
        AdminListen::Off => return Ok(None),
        AdminListen::At(addr) => *addr,
        AdminListen::Configured => match settings.address {
            Some(addr) => addr,
            None => return Ok(None),
        },
    };
    let token = match &settings.token_file {
        None => None,
        Some(path) => Some(Auth::read_token(path).map_err(|source| AdminError::Token {
            path: path.display().to_string(),
            source,
        })?),
    };
    if token.is_none() {
        tracing::warn!(
            "admin server: no [admin] token_file in venue.toml: every action is refused"
        );
    }
    let input = gateway.clone();
    let depths = venue.clone();
    let queues = Queues {
        gateway_input: Box::new(move || input.len() as u64),
        session_outbound: Box::new(move || depths.outbound_depths()),
    };
    let state = AdminState {
        metrics: Arc::clone(metrics),
        registry: metrics.registry(queues),
        auth: Auth::new(token, addr.ip().is_loopback()),
        gateway,
    };
    AdminServer::bind(addr, state).await.map(Some)
}
