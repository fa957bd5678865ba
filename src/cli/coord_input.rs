//! What the coordination verbs take from the command line, checked before any I/O: keys, values, tags, ids,
//! stream names, capabilities and times (RFC 3339, `HH:MM` local, durations ago), with the limits of
//! docs/coordination.md.

use std::time::Duration;

use serde_json::Value;

use crate::proto::{Capability, CoordId};

use super::error::CliError;

/// Largest state value or stream datum, as compact JSON.
pub(crate) const MAX_VALUE_BYTES: usize = 16 * 1024;
/// Largest memory text.
pub(crate) const MAX_NOTE_BYTES: usize = 8 * 1024;
const MAX_KEY_BYTES: usize = 256;
const MAX_TAGS: usize = 16;
const MAX_TAG_CHARS: usize = 64;
const MAX_TITLE_CHARS: usize = 200;
const MAX_STREAM_CHARS: usize = 64;
const MAX_SUMMARY_CHARS: usize = 500;

/// How `state set` and `stream publish` read their VALUE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueMode {
    /// JSON when it parses as JSON, else the text as a string.
    Auto,
    /// Must be JSON.
    Json,
    /// Always the text as a string.
    Text,
}

/// VALUE as JSON per `mode`, at most 16 KiB as compact JSON.
pub(crate) fn value(raw: &str, mode: ValueMode) -> Result<Value, CliError> {
    let v = match mode {
        ValueMode::Text => Value::String(raw.to_string()),
        ValueMode::Json => serde_json::from_str(raw).map_err(|e| {
            CliError::invalid("err-coord-not-json").arg("detail", e.to_string()).hint("hint-coord-json")
        })?,
        ValueMode::Auto => serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string())),
    };
    let bytes = v.to_string().len();
    if bytes > MAX_VALUE_BYTES {
        return Err(CliError::invalid("err-coord-value-too-large")
            .arg("bytes", bytes)
            .arg("max", MAX_VALUE_BYTES)
            .hint("hint-shorten"));
    }
    Ok(v)
}

/// A state key: 1-256 bytes of `[A-Za-z0-9._:/-]`.
pub(crate) fn key(raw: &str) -> Result<String, CliError> {
    let ok = !raw.is_empty()
        && raw.len() <= MAX_KEY_BYTES
        && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:/-".contains(&b));
    if ok { Ok(raw.to_string()) } else { Err(CliError::invalid("err-coord-bad-key").arg("key", raw)) }
}

/// A key prefix: empty, or what a key may hold.
pub(crate) fn prefix(raw: Option<&str>) -> Result<Option<String>, CliError> {
    match raw {
        None | Some("") => Ok(None),
        Some(p) => key(p).map(Some),
    }
}

/// Tags: at most 16 of 1-64 characters of `[a-z0-9._:-]`.
pub(crate) fn tags(raw: &[String]) -> Result<Vec<String>, CliError> {
    if raw.len() > MAX_TAGS {
        return Err(CliError::invalid("err-coord-too-many-tags").arg("max", MAX_TAGS));
    }
    for t in raw {
        let ok = !t.is_empty()
            && t.chars().count() <= MAX_TAG_CHARS
            && t.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._:-".contains(&b));
        if !ok {
            return Err(CliError::invalid("err-coord-bad-tag").arg("tag", t.as_str()));
        }
    }
    Ok(raw.to_vec())
}

/// A memory or task id (12 characters of a-z and 2-7).
pub(crate) fn id(raw: &str) -> Result<String, CliError> {
    CoordId::try_from(raw.trim().to_string())
        .map(String::from)
        .map_err(|_| CliError::invalid("err-coord-bad-id").arg("id", raw).hint("hint-coord-id"))
}

/// Words joined with spaces, trimmed, 1..=`max` characters (`what` names the argument in the error).
pub(crate) fn words(raw: &[String], max: usize, what: &'static str) -> Result<String, CliError> {
    let s = raw.join(" ").trim().to_string();
    let n = s.chars().count();
    if n == 0 || n > max {
        return Err(CliError::invalid("err-coord-bad-length").arg("what", what).arg("max", max));
    }
    Ok(s)
}

/// A memory's text: 1 byte to 8 KiB.
pub(crate) fn note(raw: &[String]) -> Result<String, CliError> {
    let s = raw.join(" ").trim().to_string();
    if s.is_empty() || s.len() > MAX_NOTE_BYTES {
        return Err(CliError::invalid("err-coord-bad-length").arg("what", "TEXT").arg("max", MAX_NOTE_BYTES));
    }
    Ok(s)
}

/// A task title (1-200 characters).
pub(crate) fn title(raw: &[String]) -> Result<String, CliError> {
    words(raw, MAX_TITLE_CHARS, "TITLE")
}

/// A context summary (1-500 characters).
pub(crate) fn summary(raw: &[String]) -> Result<String, CliError> {
    words(raw, MAX_SUMMARY_CHARS, "SUMMARY")
}

/// A stream name: 1-64 characters of `[a-z0-9._-]`.
pub(crate) fn stream_name(raw: &str) -> Result<String, CliError> {
    let ok = !raw.is_empty()
        && raw.len() <= MAX_STREAM_CHARS
        && raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if ok { Ok(raw.to_string()) } else { Err(CliError::invalid("err-coord-bad-stream").arg("name", raw)) }
}

/// Capability names (`state-write` …), each known.
pub(crate) fn caps(raw: &[String]) -> Result<Vec<String>, CliError> {
    raw.iter()
        .map(|c| {
            Capability::parse(c.trim()).map(|c| c.as_str().to_string()).ok_or_else(|| {
                let all: Vec<&str> = Capability::ALL.iter().map(|c| c.as_str()).collect();
                CliError::invalid("err-coord-bad-cap").arg("cap", c.as_str()).arg("valid", all.join(", "))
            })
        })
        .collect()
}

/// A 5-field cron expression (fields are checked by the broker).
pub(crate) fn cron(raw: &str) -> Result<String, CliError> {
    let fields: Vec<&str> = raw.split_whitespace().collect();
    if fields.len() != 5 || raw.len() > 256 {
        return Err(CliError::invalid("err-coord-bad-cron").arg("cron", raw).hint("hint-coord-cron"));
    }
    Ok(fields.join(" "))
}

/// Unix milliseconds of an RFC 3339 time (`2026-11-23T18:00:00Z`, `…+01:00`, fractions allowed).
pub(crate) fn rfc3339_ms(raw: &str) -> Option<u64> {
    let s = raw.trim();
    let (date, rest) = s.split_at_checked(10)?;
    let mut d = date.split('-');
    let (y, mo, da) = (d.next()?.parse::<i64>().ok()?, d.next()?.parse::<u32>().ok()?, d.next()?.parse::<u32>().ok()?);
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let zone_at = rest.find(['Z', 'z', '+', '-'])?;
    let (clock, zone) = rest.split_at(zone_at);
    let mut c = clock.split(':');
    let h = c.next()?.parse::<u32>().ok()?;
    let mi = c.next()?.parse::<u32>().ok()?;
    let (sec, frac_ms) = match c.next() {
        None => (0, 0),
        Some(sec) => {
            let (whole, frac) = sec.split_once('.').unwrap_or((sec, ""));
            let ms: String = frac.chars().chain("000".chars()).take(3).collect();
            (whole.parse::<u32>().ok()?, if frac.is_empty() { 0 } else { ms.parse::<u64>().ok()? })
        }
    };
    if c.next().is_some() || !(1..=12).contains(&mo) || !(1..=31).contains(&da) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let offset_min: i64 = match zone {
        "Z" | "z" => 0,
        z => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let (zh, zm) = z.get(1..)?.split_once(':')?;
            sign * (zh.parse::<i64>().ok()? * 60 + zm.parse::<i64>().ok()?)
        }
    };
    let days = days_from_civil(y, mo, da);
    let secs = days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(sec) - offset_min * 60;
    u64::try_from(secs).ok().map(|s| s * 1000 + frac_ms)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The next Unix millisecond, after `now_ms`, at which the local wall clock (UTC + `offset_min`) shows `HH:MM`.
pub(crate) fn next_local_hhmm(raw: &str, now_ms: u64, offset_min: i32) -> Option<u64> {
    let (h, m) = raw.trim().split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let (h, m) = (h.parse::<u64>().ok()?, m.parse::<u64>().ok()?);
    if h > 23 || m > 59 {
        return None;
    }
    let offset_ms = i64::from(offset_min) * 60_000;
    let local_now = i64::try_from(now_ms).ok()? + offset_ms;
    let local_midnight = local_now - local_now.rem_euclid(86_400_000);
    let mut at = local_midnight + i64::try_from((h * 3600 + m * 60) * 1000).ok()?;
    if at <= local_now {
        at += 86_400_000;
    }
    u64::try_from(at - offset_ms).ok()
}

/// `--at TIME`: RFC 3339 or `HH:MM` local; must be in the future.
pub(crate) fn at_ms(raw: &str, now_ms: u64, offset_min: i32) -> Result<u64, CliError> {
    let at = rfc3339_ms(raw).or_else(|| next_local_hhmm(raw, now_ms, offset_min));
    match at {
        Some(at) if at > now_ms => Ok(at),
        Some(_) => Err(CliError::invalid("err-coord-time-past").arg("time", raw)),
        None => Err(CliError::invalid("err-coord-bad-time").arg("time", raw).hint("hint-coord-time")),
    }
}

/// `--since DUR|TIME`: a duration ago (`2h`, `7d`) or an RFC 3339 time, as Unix milliseconds.
pub(crate) fn since_ms(raw: &str, now_ms: u64) -> Result<u64, CliError> {
    if let Some(at) = rfc3339_ms(raw) {
        return Ok(at);
    }
    match humantime::parse_duration(raw.trim()) {
        Ok(d) => Ok(now_ms.saturating_sub(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))),
        Err(_) => Err(CliError::invalid("err-coord-bad-since").arg("since", raw).hint("hint-coord-time")),
    }
}

/// `clock set TIME`: RFC 3339, Unix milliseconds, or `now`.
pub(crate) fn clock_time_ms(raw: &str, now_ms: u64) -> Result<u64, CliError> {
    let raw = raw.trim();
    if raw == "now" {
        return Ok(now_ms);
    }
    raw.parse::<u64>()
        .ok()
        .or_else(|| rfc3339_ms(raw))
        .ok_or_else(|| CliError::invalid("err-coord-bad-time").arg("time", raw).hint("hint-coord-time"))
}

/// A clock rate: above 0, at most 1000.
pub(crate) fn rate(raw: f64) -> Result<f64, CliError> {
    if raw.is_finite() && raw > 0.0 && raw <= 1000.0 {
        Ok(raw)
    } else {
        Err(CliError::invalid("err-coord-bad-rate").arg("rate", raw.to_string()))
    }
}

/// This machine's UTC offset in minutes now (`date +%z`, which honours `TZ`); 0 when it cannot be told.
pub(crate) fn local_utc_offset_min() -> i32 {
    let out = std::process::Command::new("date").arg("+%z").stderr(std::process::Stdio::null()).output();
    out.ok().and_then(|o| parse_offset(String::from_utf8_lossy(&o.stdout).trim())).unwrap_or(0)
}

/// `+0130` / `-0800` as minutes.
fn parse_offset(s: &str) -> Option<i32> {
    if s.len() != 5 {
        return None;
    }
    let sign = match s.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let h: i32 = s.get(1..3)?.parse().ok()?;
    let m: i32 = s.get(3..5)?.parse().ok()?;
    (h <= 14 && m < 60).then_some(sign * (h * 60 + m))
}

/// The current git branch of the working directory, if it is a repository on a branch.
pub(crate) fn git_branch() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["symbolic-ref", "--short", "-q", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let branch = String::from_utf8_lossy(&out.stdout).trim().to_string();
    // Detached HEAD fails (no branch); a branch without commits yet still has its name.
    (out.status.success() && !branch.is_empty() && branch.len() <= 256).then_some(branch)
}

/// A duration in milliseconds (for `--in`).
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_json_when_they_parse_else_strings() {
        assert_eq!(value("42", ValueMode::Auto).unwrap(), json!(42));
        assert_eq!(value(r#"{"a":[1]}"#, ValueMode::Auto).unwrap(), json!({"a": [1]}));
        assert_eq!(value("hello world", ValueMode::Auto).unwrap(), json!("hello world"));
        assert_eq!(value("42", ValueMode::Text).unwrap(), json!("42"));
        assert!(value("hello", ValueMode::Json).is_err());
        assert!(value(&"x".repeat(MAX_VALUE_BYTES + 1), ValueMode::Auto).is_err());
    }

    #[test]
    fn keys_tags_ids_and_names_follow_the_contract() {
        assert!(key("deploy/prod:lock-1.a_b").is_ok());
        for bad in ["", "has space", "ü", &"k".repeat(257)] {
            assert!(key(bad).is_err(), "{bad}");
        }
        assert!(tags(&["ci".into(), "v1.2:x-y_z".into()]).is_ok());
        assert!(tags(&["Upper".into()]).is_err());
        assert!(tags(&vec!["t".to_string(); 17]).is_err());
        assert!(id("abcdefgh2345").is_ok());
        assert!(id("abc").is_err());
        assert!(stream_name("build-log.v2").is_ok());
        assert!(stream_name("Build").is_err());
        assert_eq!(caps(&["state-write".into()]).unwrap(), vec!["state-write"]);
        assert!(caps(&["root".into()]).is_err());
        assert_eq!(cron(" 0 9  * * 1-5 ").unwrap(), "0 9 * * 1-5");
        assert!(cron("0 9 * *").is_err());
    }

    #[test]
    fn rfc3339_times_parse_with_zones_and_fractions() {
        assert_eq!(rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(rfc3339_ms("2026-11-23T18:00:00Z"), Some(1_795_456_800_000));
        assert_eq!(rfc3339_ms("2026-11-23T19:00:00+01:00"), Some(1_795_456_800_000));
        assert_eq!(rfc3339_ms("2026-11-23T18:00:00.250Z"), Some(1_795_456_800_250));
        assert_eq!(rfc3339_ms("2000-02-29T00:00Z"), Some(951_782_400_000));
        for bad in ["", "18:00", "2026-13-01T00:00:00Z", "2026-11-23T18:00:00", "2026-11-23"] {
            assert_eq!(rfc3339_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn hh_mm_means_the_next_such_local_time() {
        let now = rfc3339_ms("2026-11-23T18:30:00Z").unwrap();
        assert_eq!(next_local_hhmm("19:00", now, 0), rfc3339_ms("2026-11-23T19:00:00Z"));
        assert_eq!(next_local_hhmm("09:00", now, 0), rfc3339_ms("2026-11-24T09:00:00Z"));
        // UTC+2: local 20:30 now, so 21:00 local is 19:00 UTC today.
        assert_eq!(next_local_hhmm("21:00", now, 120), rfc3339_ms("2026-11-23T19:00:00Z"));
        assert_eq!(next_local_hhmm("25:00", now, 0), None);
        assert_eq!(next_local_hhmm("9", now, 0), None);
        assert!(at_ms("2000-01-01T00:00:00Z", now, 0).is_err());
    }

    #[test]
    fn since_takes_durations_and_times() {
        let now = 10 * 3_600_000;
        assert_eq!(since_ms("2h", now).unwrap(), 8 * 3_600_000);
        assert_eq!(since_ms("1970-01-01T01:00:00Z", now).unwrap(), 3_600_000);
        assert!(since_ms("yesterday-ish", now).is_err());
        assert_eq!(clock_time_ms("now", 5).unwrap(), 5);
        assert_eq!(clock_time_ms("1234", 5).unwrap(), 1234);
        assert!(rate(f64::NAN).is_err());
        assert!(rate(0.0).is_err());
        assert_eq!(rate(2.5).unwrap(), 2.5);
    }

    #[test]
    fn utc_offsets_parse() {
        assert_eq!(parse_offset("+0130"), Some(90));
        assert_eq!(parse_offset("-0800"), Some(-480));
        assert_eq!(parse_offset("0800"), None);
    }
}
