//! `clock.*` on the broker (docs/coordination.md): one simulation clock per mesh, kept in SQLite, announced to
//! every present peer with `clock.changed` on each change.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Value, json};

use super::{Ctx, lamport, parse, part_version, set_part_version, store_err, to_value};
use crate::broker::conn::now_ms;
use crate::broker::db::StoreError;
use crate::proto::{
    Capability, ClockEmptyParams, ClockSetParams, ErrorCode, MAX_CLOCK_RATE, MAX_CLOCK_SPAN_MS, MeshClock, MeshId,
    RpcError, cmethod, encode_notification,
};

pub(super) fn migrate(c: &Connection) -> rusqlite::Result<()> {
    if part_version(c, "clock")? < 1 {
        c.execute_batch(
            "SAVEPOINT clock_v1;
            CREATE TABLE mesh_clocks(mesh_id TEXT PRIMARY KEY, base_ms INTEGER NOT NULL, set_at_ms INTEGER NOT NULL,
                rate REAL NOT NULL, paused INTEGER NOT NULL);",
        )?;
        set_part_version(c, "clock", 1)?;
        c.execute_batch("RELEASE clock_v1;")?;
    }
    Ok(())
}

/// A change to a mesh clock.
enum Change {
    Set { time_ms: i64, rate: Option<f64> },
    Pause,
    Resume,
}

pub(super) async fn handle(ctx: &Ctx<'_>, method: &str, params: Value) -> Result<Value, RpcError> {
    let params = if params.is_null() { json!({}) } else { params };
    if method != cmethod::CLOCK_GET {
        ctx.require(Capability::ClockWrite)?;
    }
    let change = match method {
        cmethod::CLOCK_GET => {
            let _: ClockEmptyParams = parse(params)?;
            let mesh = ctx.mesh.clone();
            let clock = ctx.shared.db.read(move |c| read(c, &mesh, server_now())).await.map_err(store_err)?;
            return to_value(&clock);
        }
        cmethod::CLOCK_SET => {
            let p: ClockSetParams = parse(params)?;
            check_set(&p, server_now())?;
            Change::Set { time_ms: p.time_ms, rate: p.rate }
        }
        cmethod::CLOCK_PAUSE => {
            let _: ClockEmptyParams = parse(params)?;
            Change::Pause
        }
        cmethod::CLOCK_RESUME => {
            let _: ClockEmptyParams = parse(params)?;
            Change::Resume
        }
        _ => return Err(RpcError::new(ErrorCode::MethodNotFound, format!("unknown method {method}"))),
    };
    let mesh = ctx.mesh.clone();
    let clock = ctx.shared.db.run(move |c| write(c, &mesh, &change, server_now())).await.map_err(store_err)?;
    let value = to_value(&clock)?;
    ctx.shared.hub.broadcast(ctx.mesh, None, &encode_notification(cmethod::CLOCK_CHANGED, &value));
    Ok(value)
}

fn server_now() -> i64 {
    i64::try_from(now_ms()).unwrap_or(i64::MAX)
}

fn check_set(p: &ClockSetParams, now: i64) -> Result<(), RpcError> {
    if p.time_ms.abs_diff(now) > MAX_CLOCK_SPAN_MS.unsigned_abs() {
        return Err(RpcError::new(ErrorCode::InvalidParams, "time_ms must be within 100 years of the broker's time"));
    }
    if let Some(rate) = p.rate
        && !(rate.is_finite() && rate > 0.0 && rate <= MAX_CLOCK_RATE)
    {
        return Err(RpcError::new(
            ErrorCode::InvalidParams,
            format!("rate must be more than 0 and at most {MAX_CLOCK_RATE}"),
        ));
    }
    Ok(())
}

/// (base_ms, set_at_ms, rate, paused) of a mesh; a mesh that never set its clock follows real time.
fn stored(c: &Connection, mesh: &MeshId, now: i64) -> Result<(i64, i64, f64, bool), StoreError> {
    let row = c
        .query_row(
            "SELECT base_ms, set_at_ms, rate, paused FROM mesh_clocks WHERE mesh_id = ?1",
            [mesh.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, i64>(3)? != 0)),
        )
        .optional()?;
    Ok(row.unwrap_or((now, now, 1.0, false)))
}

/// The mesh clock's reading at server time `now`.
fn at(base: i64, set_at: i64, rate: f64, paused: bool, now: i64) -> i64 {
    if paused {
        return base;
    }
    // Within the validated span and rate this stays far inside f64's exact integers.
    base.saturating_add(((now.saturating_sub(set_at)) as f64 * rate) as i64)
}

fn read(c: &Connection, mesh: &MeshId, now: i64) -> Result<MeshClock, StoreError> {
    let (base_ms, set_at_ms, rate, paused) = stored(c, mesh, now)?;
    Ok(MeshClock {
        now_ms: at(base_ms, set_at_ms, rate, paused, now),
        base_ms,
        set_at_ms,
        rate,
        paused,
        mesh_lamport: lamport::current(c, mesh)?,
        server_time_ms: now,
    })
}

fn write(c: &Connection, mesh: &MeshId, change: &Change, now: i64) -> Result<MeshClock, StoreError> {
    let (base, set_at, rate, paused) = stored(c, mesh, now)?;
    let current = at(base, set_at, rate, paused, now);
    let (base, rate, paused) = match *change {
        Change::Set { time_ms, rate: new_rate } => (time_ms, new_rate.unwrap_or(rate), paused),
        Change::Pause => (current, rate, true),
        Change::Resume => (current, rate, false),
    };
    c.execute(
        "INSERT INTO mesh_clocks(mesh_id, base_ms, set_at_ms, rate, paused) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(mesh_id) DO UPDATE SET base_ms = ?2, set_at_ms = ?3, rate = ?4, paused = ?5",
        params![mesh.as_str(), base, now, rate, i64::from(paused)],
    )?;
    read(c, mesh, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let c = Connection::open_in_memory().expect("db");
        c.execute_batch(
            "CREATE TABLE schema_parts(part TEXT PRIMARY KEY, version INTEGER NOT NULL);
             CREATE TABLE mesh_lamport(mesh_id TEXT PRIMARY KEY, lamport INTEGER NOT NULL);",
        )
        .expect("tables");
        migrate(&c).expect("migrate");
        c
    }

    #[test]
    fn set_pause_resume_and_rate() {
        let c = db();
        let m = MeshId::generate();
        let fresh = read(&c, &m, 1_000).expect("read");
        assert_eq!((fresh.now_ms, fresh.rate, fresh.paused), (1_000, 1.0, false), "follows real time");
        let set = write(&c, &m, &Change::Set { time_ms: 50_000, rate: Some(10.0) }, 2_000).expect("set");
        assert_eq!(set.now_ms, 50_000);
        assert_eq!(read(&c, &m, 2_500).expect("read").now_ms, 55_000, "ten times real time");
        let paused = write(&c, &m, &Change::Pause, 3_000).expect("pause");
        assert_eq!((paused.now_ms, paused.paused), (60_000, true));
        assert_eq!(read(&c, &m, 9_000).expect("read").now_ms, 60_000, "a paused clock stands still");
        let resumed = write(&c, &m, &Change::Resume, 10_000).expect("resume");
        assert_eq!(resumed.now_ms, 60_000);
        assert_eq!(read(&c, &m, 10_100).expect("read").now_ms, 61_000);
        assert_eq!(read(&c, &MeshId::generate(), 7).expect("read").now_ms, 7, "meshes are separate");
    }

    #[test]
    fn bad_rates_and_times_are_refused() {
        let now = 1_800_000_000_000;
        let set = |time_ms, rate| check_set(&ClockSetParams { time_ms, rate }, now);
        assert!(set(now, Some(1000.0)).is_ok());
        assert!(set(now - MAX_CLOCK_SPAN_MS, None).is_ok());
        for rate in [0.0, -1.0, 1000.5, f64::NAN, f64::INFINITY] {
            assert!(set(now, Some(rate)).is_err(), "{rate}");
        }
        assert!(set(now + MAX_CLOCK_SPAN_MS + 1, None).is_err());
        assert!(set(i64::MIN, None).is_err());
    }
}
