//! The scenario format: one file per scenario, one step per line.
//!
//! ```text
//! # Title of the scenario (the first comment line)
//! reset-session                  log on with 141=Y, log out: both sides start again at 1
//! reset-session {client2}        the same for another of our CompIDs
//! connect                        open a connection (another one if one is open; it becomes the current one)
//! connect {client2}              the same, sending as another CompID (with its own sequence numbers)
//! use 1                          make connection 1 (in order of opening) the current one
//! seq 7                          our next MsgSeqNum is 7
//! send-begin-string FIX.4.2 35=A|98=0|  as `send`, framed with another BeginString
//! send 35=A|98=0|108=30|         header filled in: 49, 56, 34 (the client's next number), 52 (now)
//! send-body 49={client}|35=0|.. fields as written; 8, 9 and 10 computed
//! send-raw 8=FIX.4.4|9=5|...     bytes as written (`|` is SOH), nothing computed
//! expect 35=A|108=30|!141|       the next message has these fields (`tag=*` any value, `!tag` absent)
//! expect 37=$oid|58~*tick*|      `tag=$name` any value, kept as `{$name}`; `tag~glob` (`?` one character,
//!                                `*` any run) matches the whole value
//! expect-any 2                   the next 2 messages match the next 2 `expect` lines, in any order
//! expect-nothing 1500            no message for 1500 ms
//! expect-disconnect              the venue closes the connection (messages before it fail the step)
//! disconnect                     the client closes the connection
//! wait 500                       sleep 500 ms
//! skip-heartbeats on             from now on `expect` passes over Heartbeats without TestReqID (`off` ends it)
//! ```
//! Placeholders: `{client}`, `{client2}` and `{venue}` (CompIDs), `{symbol}` (the test symbol), `{now}`,
//! `{now-N}` and `{now+N}` (UTCTimestamp N seconds away), `{seq}` (the current CompID's next MsgSeqNum,
//! consumed), `{seq+N}` (N ahead, not consumed), `{id}` (a new identifier unique across runs, for ClOrdIDs),
//! `{id:N}` (the N-th `{id}` of the scenario again), `{$name}` (a value captured by `tag=$name`).
//!
//! `tag=value` compares text, except that two decimal numbers one of which has a decimal point compare as
//! numbers (FIX's float types: 100 and 100.00 are the same price).

use std::fmt;

/// Longest scenario file, in lines.
pub const SCENARIO_LINES_MAX: usize = 1000;

/// How a `send` line is turned into bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendMode {
    /// Standard header filled in.
    Auto,
    /// Header as written; 8, 9, 10 computed.
    Body,
    /// Bytes as written.
    Raw,
}

/// The largest MsgSeqNum a `seq` step may set.
pub const SEQ_MAX: u64 = 1 << 40;

/// A field check in an `expect` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matcher {
    Equals(u32, String),
    Present(u32),
    Absent(u32),
    /// `tag=$name`: any value, kept in the variable `name`.
    Capture(u32, String),
    /// `tag~glob`: the whole value matches the pattern (`?` one character, `*` any run).
    Glob(u32, String),
}

/// Most messages one `expect-any` may take.
pub const EXPECT_ANY_MAX: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Reset the session of this CompID (placeholders allowed); `None`: the client's.
    ResetSession(Option<String>),
    /// Open a connection sending as this CompID; `None`: the client's.
    Connect(Option<String>),
    Use(usize),
    SetSeq(u64),
    Disconnect,
    SendBeginString {
        begin_string: String,
        text: String,
    },
    Send {
        mode: SendMode,
        text: String,
    },
    Expect(Vec<Matcher>),
    /// The next messages match these, one each, in any order.
    ExpectAny(Vec<Vec<Matcher>>),
    ExpectNothing {
        ms: u64,
    },
    ExpectDisconnect,
    Wait {
        ms: u64,
    },
    /// Discard whatever comes until `ms` pass in silence (at most [`crate::DRAIN_MESSAGES_MAX`] messages).
    Drain {
        ms: u64,
    },
    SkipHeartbeats(bool),
}

/// A parsed scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub title: String,
    pub steps: Vec<(usize, Step)>,
}

/// A scenario file that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ScriptError {
    pub name: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.name, self.line, self.message)
    }
}

/// Longest wait or silence a scenario may ask for, in milliseconds.
pub const WAIT_MS_MAX: u64 = 60_000;

pub fn parse(name: &str, text: &str) -> Result<Scenario, ScriptError> {
    let err = |line, message: String| ScriptError {
        name: name.to_string(),
        line,
        message,
    };
    let mut title = String::new();
    let mut steps = Vec::new();
    // An open `expect-any`: its line, how many `expect` lines it takes, those read so far.
    let mut any: Option<(usize, usize, Vec<Vec<Matcher>>)> = None;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        if line > SCENARIO_LINES_MAX {
            return Err(err(line, format!("more than {SCENARIO_LINES_MAX} lines")));
        }
        let trimmed = raw.trim();
        if let Some(comment) = trimmed.strip_prefix('#') {
            if title.is_empty() {
                title = comment.trim().to_string();
            }
            continue;
        }
        if trimmed.is_empty() {
            continue;
        }
        let (word, rest) = trimmed.split_once(' ').unwrap_or((trimmed, ""));
        let rest = rest.trim();
        let ms = |rest: &str| -> Result<u64, ScriptError> {
            rest.parse::<u64>()
                .ok()
                .filter(|&ms| ms <= WAIT_MS_MAX)
                .ok_or_else(|| {
                    err(
                        line,
                        format!("expected milliseconds up to {WAIT_MS_MAX}, found {rest:?}"),
                    )
                })
        };
        if let Some((start, count, mut sets)) = any.take() {
            if word != "expect" {
                return Err(err(
                    line,
                    format!("expect-any at line {start} needs {count} expect lines"),
                ));
            }
            sets.push(matchers(rest).map_err(|m| err(line, m))?);
            if sets.len() == count {
                steps.push((start, Step::ExpectAny(sets)));
            } else {
                any = Some((start, count, sets));
            }
            continue;
        }
        let identity = (!rest.is_empty()).then(|| rest.to_string());
        let step = match word {
            "reset-session" => Step::ResetSession(identity),
            "connect" => Step::Connect(identity),
            "expect-any" => {
                let count = rest
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=EXPECT_ANY_MAX).contains(n))
                    .ok_or_else(|| {
                        err(
                            line,
                            format!("expected a count from 1 to {EXPECT_ANY_MAX}, found {rest:?}"),
                        )
                    })?;
                any = Some((line, count, Vec::new()));
                continue;
            }
            "use" => Step::Use(rest.parse().ok().filter(|&n| n >= 1).ok_or_else(|| {
                err(
                    line,
                    format!("expected a connection number, found {rest:?}"),
                )
            })?),
            "seq" => Step::SetSeq(
                rest.parse()
                    .ok()
                    .filter(|&n| (1..=SEQ_MAX).contains(&n))
                    .ok_or_else(|| err(line, format!("expected a MsgSeqNum, found {rest:?}")))?,
            ),
            "send-begin-string" => {
                let (begin_string, text) = rest
                    .split_once(' ')
                    .ok_or_else(|| err(line, "expected a BeginString and a message".into()))?;
                if !text.starts_with("35=") || !text.ends_with('|') {
                    return Err(err(
                        line,
                        "a message starts with 35= and ends with |".into(),
                    ));
                }
                Step::SendBeginString {
                    begin_string: begin_string.to_string(),
                    text: text.to_string(),
                }
            }
            "disconnect" => Step::Disconnect,
            "send" | "send-body" | "send-raw" => {
                let mode = match word {
                    "send" => SendMode::Auto,
                    "send-body" => SendMode::Body,
                    _ => SendMode::Raw,
                };
                if mode == SendMode::Auto && !rest.starts_with("35=") {
                    return Err(err(line, "a message starts with 35=".into()));
                }
                if !rest.ends_with('|') {
                    return Err(err(line, "a message ends with |".into()));
                }
                Step::Send {
                    mode,
                    text: rest.to_string(),
                }
            }
            "expect" => Step::Expect(matchers(rest).map_err(|m| err(line, m))?),
            "expect-nothing" => Step::ExpectNothing { ms: ms(rest)? },
            "expect-disconnect" => Step::ExpectDisconnect,
            "wait" => Step::Wait { ms: ms(rest)? },
            "drain" => Step::Drain { ms: ms(rest)? },
            "skip-heartbeats" => Step::SkipHeartbeats(match rest {
                "on" => true,
                "off" => false,
                _ => return Err(err(line, format!("expected on or off, found {rest:?}"))),
            }),
            other => return Err(err(line, format!("unknown step {other:?}"))),
        };
        steps.push((line, step));
    }
    if let Some((start, count, _)) = any {
        return Err(err(start, format!("expect-any needs {count} expect lines")));
    }
    if steps.is_empty() {
        return Err(err(1, "no steps".into()));
    }
    Ok(Scenario {
        name: name.to_string(),
        title,
        steps,
    })
}

fn matchers(text: &str) -> Result<Vec<Matcher>, String> {
    let mut out = Vec::new();
    for item in text.split('|').filter(|s| !s.is_empty()) {
        let tag = |t: &str| t.parse::<u32>().map_err(|_| format!("bad tag in {item:?}"));
        let eq = item.find('=');
        let tilde = item.find('~');
        if let Some(t) = item.strip_prefix('!') {
            out.push(Matcher::Absent(tag(t)?));
        } else if let Some(at) = tilde.filter(|&t| eq.is_none_or(|e| t < e)) {
            out.push(Matcher::Glob(tag(&item[..at])?, item[at + 1..].to_string()));
        } else if let Some((t, v)) = item.split_once('=') {
            out.push(if v == "*" {
                Matcher::Present(tag(t)?)
            } else if let Some(name) = v.strip_prefix('$') {
                if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                {
                    return Err(format!("bad variable name in {item:?}"));
                }
                Matcher::Capture(tag(t)?, name.to_string())
            } else {
                Matcher::Equals(tag(t)?, v.to_string())
            });
        } else {
            return Err(format!(
                "expected tag=value, tag=*, tag=$name, tag~glob or !tag, found {item:?}"
            ));
        }
    }
    if out.is_empty() {
        return Err("expect needs at least one field".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_step() {
        let s = parse(
            "t.scn",
            "# Title\nreset-session\nconnect\nsend 35=A|98=0|\nexpect 35=A|108=*|!141|\n\
             expect-nothing 100\nwait 5\nsend-raw 8=x|\nsend-body 35=0|\nexpect-disconnect\ndisconnect\n",
        )
        .unwrap();
        assert_eq!(s.title, "Title");
        assert_eq!(s.steps.len(), 10);
        assert_eq!(
            s.steps[3].1,
            Step::Expect(vec![
                Matcher::Equals(35, "A".into()),
                Matcher::Present(108),
                Matcher::Absent(141)
            ])
        );
    }

    #[test]
    fn parses_captures_globs_identities_and_expect_any() {
        let s = parse(
            "t.scn",
            "reset-session {client2}\nconnect {client2}\nexpect 37=$oid|58~*tick*|\n\
             expect-any 2\nexpect 35=8|\n# a comment inside\nexpect 35=r|\nexpect 35=9|\n",
        )
        .unwrap();
        assert_eq!(s.steps[0].1, Step::ResetSession(Some("{client2}".into())));
        assert_eq!(s.steps[1].1, Step::Connect(Some("{client2}".into())));
        assert_eq!(
            s.steps[2].1,
            Step::Expect(vec![
                Matcher::Capture(37, "oid".into()),
                Matcher::Glob(58, "*tick*".into())
            ])
        );
        assert_eq!(
            s.steps[3],
            (
                4,
                Step::ExpectAny(vec![
                    vec![Matcher::Equals(35, "8".into())],
                    vec![Matcher::Equals(35, "r".into())]
                ])
            )
        );
        assert_eq!(s.steps.len(), 5);
        assert!(parse("t", "expect-any 2\nexpect 35=8|\n").is_err());
        assert!(parse("t", "expect-any 2\nexpect 35=8|\nwait 5\n").is_err());
        assert!(parse("t", "expect-any 0\n").is_err());
        assert!(parse("t", "expect 37=$|\n").is_err());
        assert!(parse("t", "expect 37=$a-b|\n").is_err());
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(
            parse("t", "connect\nfly\n").unwrap_err().to_string(),
            "t:2: unknown step \"fly\""
        );
        assert!(parse("t", "send 34=1|\n").is_err());
        assert!(parse("t", "expect 35\n").is_err());
        assert!(parse("t", "wait 999999999\n").is_err());
        assert!(parse("t", "# only a title\n").is_err());
    }
}
