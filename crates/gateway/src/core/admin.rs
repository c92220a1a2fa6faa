//! The operator's commands (from the venue's admin server), taken in turn with the sessions' requests: trading
//! status of an instrument and mass cancels go to the sequencer like any command (journaled, replayed, released
//! in order); a kill switch refuses an account's or a session's new orders until it is released and cancels
//! their live orders when engaged.
//!
//! Kill switches are the gateway's own state, not journaled: a restart releases them (the operator engages them
//! again); the mass cancel that came with one is journaled and stays done.

use engine::{Command, MassCancelScope};

use super::state::{AdminCommand, AdminDone, Gateway, KillTarget};
use crate::origin::Origin;

impl Gateway {
    /// Carries out an operator's command; an unknown instrument, account or session is refused with a reason.
    pub fn admin(&mut self, command: AdminCommand) -> Result<AdminDone, String> {
        match command {
            AdminCommand::SetStatus { symbol, status } => {
                let instrument = self.instrument_named(&symbol)?;
                let seq = self.submit_now(Command::SetStatus { instrument, status })?;
                Ok(AdminDone {
                    seq: Some(seq),
                    text: format!("{symbol}: trading status {status:?} submitted as command {seq}"),
                })
            }
            AdminCommand::MassCancelInstrument { symbol } => {
                let instrument = self.instrument_named(&symbol)?;
                let scope = MassCancelScope::Instrument(instrument);
                let seq = self.submit_now(Command::MassCancel(scope))?;
                Ok(AdminDone {
                    seq: Some(seq),
                    text: format!("{symbol}: mass cancel submitted as command {seq}"),
                })
            }
            AdminCommand::Kill { target, engaged } => self.kill(target, engaged),
            AdminCommand::Ping => Ok(AdminDone {
                seq: None,
                text: "the gateway thread takes input".into(),
            }),
        }
    }

    /// The kill switch's refusal of a new order from `session` for `account`, if one is engaged.
    pub(super) fn kill_refusal(&self, session: usize, account: &str) -> Option<String> {
        if self.killed.accounts.contains(account) {
            return Some(format!(
                "kill switch engaged for account {account}: new orders refused until the operator releases it"
            ));
        }
        self.killed.sessions.contains(&session).then(|| {
            "kill switch engaged for this session: new orders refused until the operator releases it".into()
        })
    }

    /// Submits a venue command at once and returns the number the sequencer gave it.
    fn submit_now(&mut self, command: Command) -> Result<u64, String> {
        self.submit(command, Origin::Venue, None);
        self.submit_pending()
            .map_err(|e| format!("the sequencer refused the command: {e}"))?;
        Ok(self.submitted_seq)
    }

    fn instrument_named(&self, symbol: &str) -> Result<engine::InstrumentId, String> {
        self.symbols
            .get(symbol)
            .copied()
            .ok_or_else(|| format!("unknown symbol {symbol}"))
    }

    fn kill(&mut self, target: KillTarget, engaged: bool) -> Result<AdminDone, String> {
        let (scope, name) = match &target {
            KillTarget::Account(name) => {
                let known = self.account_by_name.contains_key(name)
                    || self.sessions.iter().any(|s| s.info.accounts.contains(name));
                if !known {
                    return Err(format!("unknown account {name}"));
                }
                if engaged {
                    self.killed.accounts.insert(name.clone());
                } else {
                    self.killed.accounts.remove(name);
                }
                let id = self.account_by_name.get(name).copied();
                (id.map(MassCancelScope::Account), format!("account {name}"))
            }
            KillTarget::Session(id) => {
                let Some(&index) = self.session_by_id.get(id) else {
                    return Err(format!("unknown session {id}"));
                };
                if engaged {
                    self.killed.sessions.insert(index);
                } else {
                    self.killed.sessions.remove(&index);
                }
                // A session the engine never saw has no orders (and must not be numbered here: the number
                // would not be journaled with its name).
                let engine_id = self.sessions[index].engine_id;
                (
                    engine_id.map(MassCancelScope::Session),
                    format!("session {id}"),
                )
            }
        };
        if !engaged {
            return Ok(AdminDone {
                seq: None,
                text: format!("kill switch released for {name}"),
            });
        }
        let Some(scope) = scope else {
            return Ok(AdminDone {
                seq: None,
                text: format!("kill switch engaged for {name} (no orders to cancel)"),
            });
        };
        let seq = self.submit_now(Command::MassCancel(scope))?;
        Ok(AdminDone {
            seq: Some(seq),
            text: format!("kill switch engaged for {name}: mass cancel submitted as command {seq}"),
        })
    }
}
