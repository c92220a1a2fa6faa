//! Session schedules: is a session open at `now`, and when did its current period start?
//!
//! A period is one stretch from StartTime to EndTime (daily) or from StartDay StartTime to EndDay EndTime
//! (weekly), in the configured fixed offset. Sequence numbers reset when a Logon falls in a new period.
//! NonStopSession=Y has one period that never ends.

use chrono::{DateTime, Datelike, NaiveDateTime, TimeDelta, Utc};

use super::config::Schedule;

/// The current period, when the session is open at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// Start of the period (Unix seconds, UTC); 0 for a non-stop session.
    pub start_s: i64,
    /// End of the period, `None` for a non-stop session.
    pub end: Option<DateTime<Utc>>,
}

/// The period containing `now`, or `None` when the session is closed.
pub fn period(schedule: &Schedule, now: DateTime<Utc>) -> Option<Period> {
    let Schedule::Window {
        start,
        end,
        zone,
        days,
    } = *schedule
    else {
        return Some(Period {
            start_s: 0,
            end: None,
        });
    };
    let local = zone.local(now);
    // The most recent period start at or before `local`, then its end.
    let (start_local, end_local) = match days {
        None => {
            let mut s = local.date().and_time(start);
            if s > local {
                s -= TimeDelta::days(1);
            }
            let mut e = s.date().and_time(end);
            if e <= s {
                e += TimeDelta::days(1);
            }
            (s, e)
        }
        Some((start_day, end_day)) => {
            let back =
                (7 + local.weekday().num_days_from_monday() - start_day.num_days_from_monday()) % 7;
            let mut s: NaiveDateTime =
                (local.date() - TimeDelta::days(i64::from(back))).and_time(start);
            if s > local {
                s -= TimeDelta::days(7);
            }
            let ahead = (7 + end_day.num_days_from_monday() - start_day.num_days_from_monday()) % 7;
            let mut e = (s.date() + TimeDelta::days(i64::from(ahead))).and_time(end);
            if e <= s {
                e += TimeDelta::days(7);
            }
            (s, e)
        }
    };
    if local >= end_local {
        return None;
    }
    Some(Period {
        start_s: zone.to_utc(start_local).timestamp(),
        end: Some(zone.to_utc(end_local)),
    })
}

#[cfg(test)]
mod tests {
    use super::super::config::Zone;
    use super::*;
    use chrono::{FixedOffset, NaiveTime, TimeZone, Weekday};

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn window(start: &str, end: &str, offset_h: i32, days: Option<(Weekday, Weekday)>) -> Schedule {
        Schedule::Window {
            start: NaiveTime::parse_from_str(start, "%H:%M:%S").unwrap(),
            end: NaiveTime::parse_from_str(end, "%H:%M:%S").unwrap(),
            zone: Zone::Fixed(FixedOffset::east_opt(offset_h * 3600).unwrap()),
            days,
        }
    }

    #[test]
    fn non_stop_is_always_open_in_one_period() {
        let p = period(&Schedule::NonStop, at(2026, 11, 22, 3, 0)).unwrap();
        assert_eq!(
            p,
            Period {
                start_s: 0,
                end: None
            }
        );
    }

    #[test]
    fn daily_window() {
        let s = window("08:00:00", "17:00:00", 0, None);
        assert_eq!(period(&s, at(2026, 11, 23, 7, 59)), None);
        let p = period(&s, at(2026, 11, 23, 8, 0)).unwrap();
        assert_eq!(p.start_s, at(2026, 11, 23, 8, 0).timestamp());
        assert_eq!(p.end, Some(at(2026, 11, 23, 17, 0)));
        assert_eq!(period(&s, at(2026, 11, 23, 17, 0)), None);
    }

    #[test]
    fn overnight_window_with_an_offset() {
        // 22:00 to 06:00 at +02:00 is 20:00 to 04:00 UTC.
        let s = window("22:00:00", "06:00:00", 2, None);
        let p = period(&s, at(2026, 11, 23, 3, 0)).unwrap();
        assert_eq!(p.start_s, at(2026, 11, 22, 20, 0).timestamp());
        assert_eq!(period(&s, at(2026, 11, 23, 4, 0)), None);
        assert_eq!(
            period(&s, at(2026, 11, 23, 20, 0)).unwrap().start_s,
            at(2026, 11, 23, 20, 0).timestamp()
        );
    }

    #[test]
    fn weekly_window() {
        // Sunday 22:00 to Friday 21:00 UTC. 2026-11-22 is a Sunday.
        let s = window(
            "22:00:00",
            "21:00:00",
            0,
            Some((Weekday::Sun, Weekday::Fri)),
        );
        assert_eq!(period(&s, at(2026, 11, 22, 21, 0)), None);
        let p = period(&s, at(2026, 11, 25, 12, 0)).unwrap();
        assert_eq!(p.start_s, at(2026, 11, 22, 22, 0).timestamp());
        assert_eq!(p.end, Some(at(2026, 11, 27, 21, 0)));
        assert_eq!(period(&s, at(2026, 11, 28, 12, 0)), None);
    }

    #[test]
    fn a_named_zone_follows_daylight_saving() {
        // 09:30 to 16:00 New York time: 13:30 UTC in July (EDT), 14:30 UTC in December (EST).
        let s = Schedule::Window {
            start: NaiveTime::from_hms_opt(9, 30, 0).unwrap(),
            end: NaiveTime::from_hms_opt(16, 0, 0).unwrap(),
            zone: Zone::Named(chrono_tz::America::New_York),
            days: None,
        };
        let july = period(&s, at(2026, 7, 1, 13, 30)).unwrap();
        assert_eq!(july.start_s, at(2026, 7, 1, 13, 30).timestamp());
        assert_eq!(july.end, Some(at(2026, 7, 1, 20, 0)));
        assert_eq!(period(&s, at(2026, 12, 1, 14, 29)), None);
        assert_eq!(
            period(&s, at(2026, 12, 1, 14, 30)).unwrap().start_s,
            at(2026, 12, 1, 14, 30).timestamp()
        );
    }

    #[test]
    fn same_start_and_end_is_a_full_day() {
        let s = window("05:00:00", "05:00:00", 0, None);
        let p = period(&s, at(2026, 11, 23, 4, 0)).unwrap();
        assert_eq!(p.start_s, at(2026, 11, 22, 5, 0).timestamp());
    }
}
