//! Five-field cron expressions (minute hour day-of-month month day-of-week) and their next due time at a fixed
//! UTC offset.

use crate::proto::MAX_CRON_LEN;

/// A parsed expression: one bit per allowed value of each field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cron {
    minutes: u64,
    hours: u32,
    days: u32,
    months: u16,
    weekdays: u8,
    /// Day-of-month and day-of-week both restricted: a day matches when either does (as in every cron).
    either_day: bool,
}

const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
/// How many days ahead a next due time is looked for (covers a 29 February within any 8 years).
const HORIZON_DAYS: i64 = 8 * 366;
const MINUTE_MS: i64 = 60_000;

impl Cron {
    pub(crate) fn parse(s: &str) -> Result<Cron, String> {
        if s.len() > MAX_CRON_LEN {
            return Err(format!("a cron expression is at most {MAX_CRON_LEN} characters"));
        }
        let fields: Vec<&str> = s.split_whitespace().collect();
        let [mi, h, dom, mon, dow] = fields.as_slice() else {
            return Err("a cron expression has 5 fields: minute hour day-of-month month day-of-week".into());
        };
        let minutes = field(mi, "minute", 0, 59, &[])?;
        let hours = field(h, "hour", 0, 23, &[])?;
        let days = field(dom, "day-of-month", 1, 31, &[])?;
        let months = field(mon, "month", 1, 12, &MONTHS)?;
        // 7 is Sunday too.
        let mut weekdays = field(dow, "day-of-week", 0, 7, &WEEKDAYS)?;
        if weekdays & (1 << 7) != 0 {
            weekdays = (weekdays | 1) & 0x7f;
        }
        let restricted = |f: &str| !f.starts_with('*');
        Ok(Cron {
            minutes,
            hours: u32::try_from(hours).map_err(|e| e.to_string())?,
            days: u32::try_from(days).map_err(|e| e.to_string())?,
            months: u16::try_from(months).map_err(|e| e.to_string())?,
            weekdays: u8::try_from(weekdays).map_err(|e| e.to_string())?,
            either_day: restricted(dom) && restricted(dow),
        })
    }

    /// The first due time strictly after `after_ms`, with the fields read at UTC + `offset_min`; `None` when the
    /// expression never matches (30 February) within the horizon.
    pub(crate) fn next_after(&self, after_ms: u64, offset_min: i32) -> Option<u64> {
        let offset = i64::from(offset_min) * MINUTE_MS;
        let local = i64::try_from(after_ms).ok()?.checked_add(offset)?;
        let first_minute = local.div_euclid(MINUTE_MS) + 1;
        let first_day = first_minute.div_euclid(1440);
        for day in first_day..first_day + HORIZON_DAYS {
            if !self.day_matches(day) {
                continue;
            }
            for h in 0..24i64 {
                if self.hours & (1 << h) == 0 {
                    continue;
                }
                for m in 0..60i64 {
                    let minute = day * 1440 + h * 60 + m;
                    if self.minutes & (1 << m) != 0 && minute >= first_minute {
                        return u64::try_from(minute * MINUTE_MS - offset).ok();
                    }
                }
            }
        }
        None
    }

    fn day_matches(&self, day: i64) -> bool {
        let (_, month, dom) = civil(day);
        if self.months & (1 << month) == 0 {
            return false;
        }
        // 1970-01-01 was a Thursday.
        let weekday = (day + 4).rem_euclid(7);
        let dom_ok = self.days & (1 << dom) != 0;
        let dow_ok = self.weekdays & (1 << weekday) != 0;
        if self.either_day { dom_ok || dow_ok } else { dom_ok && dow_ok }
    }
}

/// One field: `*`, `N`, `A-B`, any of them with `/STEP`, comma-separated; `names` stand for `lo`, `lo + 1`, ….
fn field(s: &str, what: &str, lo: u32, hi: u32, names: &[&str]) -> Result<u64, String> {
    let bad = || format!("the {what} field {s:?} is not valid cron ({lo}-{hi}, *, lists, ranges, steps)");
    let value = |v: &str| -> Result<u32, String> {
        let lower = v.to_ascii_lowercase();
        if let Some(i) = names.iter().position(|n| *n == lower) {
            return Ok(lo + u32::try_from(i).map_err(|_| bad())?);
        }
        let n: u32 = v.parse().map_err(|_| bad())?;
        if (lo..=hi).contains(&n) { Ok(n) } else { Err(bad()) }
    };
    let mut bits = 0u64;
    for item in s.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, st)) => (r, st.parse::<u32>().ok().filter(|st| (1..=hi.max(1)).contains(st)).ok_or_else(bad)?),
            None => (item, 1),
        };
        let (a, b) = if range == "*" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a)?, value(b)?)
        } else {
            let a = value(range)?;
            // `N/STEP` means from N to the end.
            (a, if item.contains('/') { hi } else { a })
        };
        if a > b {
            return Err(bad());
        }
        let mut v = a;
        while v <= b {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok(bits)
}

/// (year, month 1-12, day 1-31) of a day counted from 1970-01-01.
fn civil(day: i64) -> (i64, u32, u32) {
    // Shift to a calendar whose years start on 1 March, so the leap day is the last day of the year.
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, u32::try_from(m).unwrap_or(1), u32::try_from(d).unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-23 (a Monday) 17:30:00 UTC.
    const T: u64 = 1_795_455_000_000;

    fn next(expr: &str, after: u64, offset: i32) -> Option<u64> {
        Cron::parse(expr).expect(expr).next_after(after, offset)
    }

    #[test]
    fn calendar_days_and_weekdays() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(59), (1970, 3, 1));
        assert_eq!(civil(11_016), (2000, 2, 29));
        assert_eq!(civil(i64::try_from(T).unwrap() / 86_400_000), (2026, 11, 23));
    }

    #[test]
    fn next_due_times() {
        assert_eq!(next("* * * * *", T, 0), Some(T + 60_000));
        assert_eq!(next("* * * * *", T + 1, 0), Some(T + 60_000));
        assert_eq!(next("0 * * * *", T, 0), Some(T + 30 * 60_000));
        assert_eq!(next("*/15 * * * *", T, 0), Some(T + 15 * 60_000));
        assert_eq!(next("30 17 * * *", T, 0), Some(T + 86_400_000), "strictly after");
        // 09:00 at UTC+2 is 07:00 UTC the next day.
        let day = T - (17 * 60 + 30) * 60_000;
        assert_eq!(next("0 9 * * *", T, 120), Some(day + 86_400_000 + 7 * 3_600_000));
        assert_eq!(next("0 9 * * MON-FRI", T, 0), Some(day + 86_400_000 + 9 * 3_600_000), "Tuesday");
        assert_eq!(next("0 9 * * sun", T, 0), Some(day + 6 * 86_400_000 + 9 * 3_600_000));
        assert_eq!(next("0 9 * * 7", T, 0), next("0 9 * * 0", T, 0));
        assert_eq!(next("0 0 1 jan *", T, 0), Some(1_798_761_600_000), "2027-01-01");
        assert_eq!(next("0 0 29 2 *", T, 0), Some(1_835_395_200_000), "2028-02-29");
        assert_eq!(next("0 0 30 2 *", T, 0), None);
        // Day-of-month or day-of-week when both are restricted: 1 December (a Tuesday) or the next Sunday.
        assert_eq!(next("0 0 1 * sun", T, 0), Some(day + 6 * 86_400_000));
    }

    #[test]
    fn bad_expressions_are_refused() {
        for bad in [
            "",
            "* * * *",
            "* * * * * *",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "* * * 13 *",
            "* * * * 8",
            "*/0 * * * *",
            "5-1 * * * *",
            "a * * * *",
            "1,,2 * * * *",
            "-1 * * * *",
            &"1,".repeat(70),
        ] {
            assert!(Cron::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Cron::parse("0,30 8-18/2 1-15 */3 mon,wed").is_ok());
    }

    #[test]
    fn any_short_input_parses_or_is_refused_without_panicking() {
        // Every 5-field combination of these tokens, at a few offsets: parse never panics, next_after either finds
        // a time strictly ahead or none.
        let tokens = ["*", "0", "59", "7", "*/1", "*/60", "1-0", "0-59/59", "sun-sat", "31", "x", "", "-", "/", ","];
        let mut n = 0u64;
        for (i, a) in tokens.iter().enumerate() {
            for b in tokens.iter().skip(i % 3) {
                let expr = format!("{a} {b} {b} {a} {b}");
                if let Ok(c) = Cron::parse(&expr) {
                    for offset in [-840, 0, 840] {
                        if let Some(t) = c.next_after(T, offset) {
                            assert!(t > T, "{expr}");
                        }
                    }
                    n += 1;
                }
            }
        }
        assert!(n > 0);
    }
}
