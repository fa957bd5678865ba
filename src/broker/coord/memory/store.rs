//! Memory tables: notes, their tags, and an FTS5 index over text and tags (contentless: the text is stored once,
//! in `memories`); remember is idempotent on id and forget leaves a tombstone no later remember revives.

use rusqlite::{Connection, OptionalExtension, params, params_from_iter, types::Value as Sql};

use crate::broker::coord::lamport;
use crate::broker::db::StoreError;
use crate::proto::{ErrorCode, KeyHex, MEMORY_NOTES_MAX, MemoryNote, MeshId};

pub(super) fn migrate(c: &Connection) -> rusqlite::Result<()> {
    if super::super::part_version(c, "memory")? < 1 {
        c.execute_batch(
            "CREATE TABLE memories(rid INTEGER PRIMARY KEY, mesh_id TEXT NOT NULL, id TEXT NOT NULL,
                text TEXT NOT NULL, tags TEXT NOT NULL, author TEXT NOT NULL, author_member TEXT NOT NULL,
                author_name TEXT NOT NULL, created_at_ms INTEGER NOT NULL, lamport INTEGER NOT NULL,
                len INTEGER NOT NULL DEFAULT 0, forgotten INTEGER NOT NULL DEFAULT 0, UNIQUE(mesh_id, id));
            CREATE INDEX memories_recent ON memories(mesh_id, created_at_ms) WHERE forgotten = 0;
            CREATE TABLE memory_tags(mesh_id TEXT NOT NULL, tag TEXT NOT NULL, rid INTEGER NOT NULL,
                PRIMARY KEY(mesh_id, tag, rid)) WITHOUT ROWID;
            CREATE VIRTUAL TABLE memory_fts USING fts5(text, tags, content='', contentless_delete=1,
                tokenize='unicode61 remove_diacritics 2');
            CREATE TABLE memory_meta(mesh_id TEXT PRIMARY KEY, no INTEGER NOT NULL UNIQUE, notes INTEGER NOT NULL,
                next INTEGER NOT NULL, terms INTEGER NOT NULL);
            CREATE TABLE memory_df(no INTEGER NOT NULL, term TEXT NOT NULL, docs INTEGER NOT NULL,
                PRIMARY KEY(no, term)) WITHOUT ROWID;",
        )?;
        super::super::set_part_version(c, "memory", 1)?;
    }
    Ok(())
}

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

const NOTE_COLS: &str = "m.id, m.text, m.tags, m.author, m.author_name, m.created_at_ms, m.lamport, m.forgotten";

fn note_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<MemoryNote> {
    let tags: String = r.get(2)?;
    Ok(MemoryNote {
        id: r.get(0)?,
        text: r.get(1)?,
        tags: serde_json::from_str(&tags).unwrap_or_default(),
        author: r.get(3)?,
        author_name: r.get(4)?,
        created_at_ms: u(r.get(5)?),
        lamport: u(r.get(6)?),
        score: None,
        forgotten: r.get::<_, i64>(7)? != 0,
    })
}

/// A note with its row id and author member (for forget's permission check).
struct Stored {
    rid: i64,
    member: String,
    note: MemoryNote,
}

fn load(c: &Connection, mesh: &MeshId, id: &str) -> Result<Option<Stored>, StoreError> {
    let sql = format!("SELECT {NOTE_COLS}, m.rid, m.author_member FROM memories m WHERE m.mesh_id = ?1 AND m.id = ?2");
    Ok(c.prepare_cached(&sql)?
        .query_row(params![mesh.as_str(), id], |r| {
            Ok(Stored { note: note_from(r)?, rid: r.get(8)?, member: r.get(9)? })
        })
        .optional()?)
}

fn session_name(c: &Connection, mesh: &MeshId, session: &KeyHex) -> Result<String, StoreError> {
    let name: Option<String> = c
        .prepare_cached("SELECT name FROM peers WHERE mesh_id = ?1 AND session_key = ?2")?
        .query_row(params![mesh.as_str(), session.to_string()], |r| r.get(0))
        .optional()?;
    Ok(name.unwrap_or_default())
}

/// A mesh's notes live at row ids `no << 40 ..`, so a search reaches one mesh by a row id range.
const MESH_SHIFT: u32 = 40;

/// The mesh's number and counters: (no, notes, next, terms); None before its first note.
fn meta(c: &Connection, mesh: &MeshId) -> Result<Option<(i64, i64, i64, i64)>, StoreError> {
    Ok(c.prepare_cached("SELECT no, notes, next, terms FROM memory_meta WHERE mesh_id = ?1")?
        .query_row([mesh.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?)
}

/// Counts a note in or out of the mesh: its note and term totals, and each distinct term's document count.
fn count(c: &Connection, no: i64, mesh: &MeshId, terms: &[String], sign: i64) -> Result<(), StoreError> {
    c.prepare_cached(
        "UPDATE memory_meta SET notes = max(notes + ?2, 0), terms = max(terms + ?3, 0) WHERE mesh_id = ?1",
    )?
    .execute(params![mesh.as_str(), sign, sign * terms.len() as i64])?;
    let mut seen: Vec<&String> = terms.iter().collect();
    seen.sort_unstable();
    seen.dedup();
    let mut up = c.prepare_cached(
        "INSERT INTO memory_df(no, term, docs) VALUES (?1, ?2, max(?3, 0))
         ON CONFLICT(no, term) DO UPDATE SET docs = max(docs + ?3, 0)",
    )?;
    for t in seen {
        up.execute(params![no, t, sign])?;
    }
    Ok(())
}

/// One remember as the store applies it.
pub(super) struct Remember {
    pub mesh: MeshId,
    pub id: String,
    pub text: String,
    pub tags: Vec<String>,
    pub lamport: Option<u64>,
    pub author: KeyHex,
    pub member: KeyHex,
    pub now_ms: u64,
}

/// Stores a note; a known id answers what it holds (the note, or its tombstone) without changing it.
pub(super) fn remember(c: &Connection, r: &Remember) -> Result<MemoryNote, StoreError> {
    let stamp = lamport::stamp(c, &r.mesh, r.lamport)?;
    if let Some(s) = load(c, &r.mesh, &r.id)? {
        return Ok(s.note);
    }
    let (no, notes, next) = match meta(c, &r.mesh)? {
        Some((no, notes, next, _)) => (no, notes, next),
        None => {
            let no: i64 = c
                .prepare_cached("SELECT coalesce(max(no), 0) + 1 FROM memory_meta")?
                .query_row([], |row| row.get(0))?;
            c.prepare_cached("INSERT INTO memory_meta(mesh_id, no, notes, next, terms) VALUES (?1, ?2, 0, 0, 0)")?
                .execute(params![r.mesh.as_str(), no])?;
            (no, 0, 0)
        }
    };
    if u(notes) >= MEMORY_NOTES_MAX {
        return Err(StoreError::Rejected(
            ErrorCode::InvalidParams,
            format!("this mesh holds {MEMORY_NOTES_MAX} memories, the most it may; forget some first"),
        ));
    }
    let rid = (no << MESH_SHIFT) + next;
    c.prepare_cached("UPDATE memory_meta SET next = next + 1 WHERE mesh_id = ?1")?.execute([r.mesh.as_str()])?;
    let terms = super::rank::note_terms(&r.text, &r.tags);
    count(c, no, &r.mesh, &terms, 1)?;
    let name = session_name(c, &r.mesh, &r.author)?;
    let tags_json = serde_json::to_string(&r.tags).map_err(|e| StoreError::Unavailable(e.to_string()))?;
    c.prepare_cached(
        "INSERT INTO memories(rid, mesh_id, id, text, tags, author, author_member, author_name, created_at_ms,
            lamport, len) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        rid,
        r.mesh.as_str(),
        r.id,
        r.text,
        tags_json,
        r.author.to_string(),
        r.member.to_string(),
        name,
        i(r.now_ms),
        i(stamp),
        terms.len() as i64
    ])?;
    c.prepare_cached("INSERT INTO memory_fts(rowid, text, tags) VALUES (?1, ?2, ?3)")?.execute(params![
        rid,
        r.text,
        r.tags.join(" ")
    ])?;
    let mut tag = c.prepare_cached("INSERT OR IGNORE INTO memory_tags(mesh_id, tag, rid) VALUES (?1, ?2, ?3)")?;
    for t in &r.tags {
        tag.execute(params![r.mesh.as_str(), t, rid])?;
    }
    Ok(MemoryNote {
        id: r.id.clone(),
        text: r.text.clone(),
        tags: r.tags.clone(),
        author: r.author.to_string(),
        author_name: name,
        created_at_ms: r.now_ms,
        lamport: stamp,
        score: None,
        forgotten: false,
    })
}

/// One forget as the store applies it.
pub(super) struct Forget {
    pub mesh: MeshId,
    pub id: String,
    pub lamport: Option<u64>,
    pub by: KeyHex,
    pub by_member: KeyHex,
    /// The caller is an admin or the owner (may forget anyone's note).
    pub admin: bool,
}

/// Forgets a note: its text leaves the index and the row keeps only id, stamp and forgetter. Returns whether
/// this call forgot it (false: already forgotten) and the stamp the row holds.
pub(super) fn forget(c: &Connection, f: &Forget) -> Result<(bool, u64), StoreError> {
    let Some(s) = load(c, &f.mesh, &f.id)? else {
        return Err(StoreError::Rejected(ErrorCode::NotFound, format!("no memory {}", f.id)));
    };
    if s.note.forgotten {
        return Ok((false, s.note.lamport));
    }
    if s.member != f.by_member.to_string() && !f.admin {
        return Err(StoreError::Rejected(
            ErrorCode::Forbidden,
            "forbidden: only its author or an admin can forget this memory".into(),
        ));
    }
    let stamp = lamport::stamp(c, &f.mesh, f.lamport)?;
    let name = session_name(c, &f.mesh, &f.by)?;
    if let Some((no, ..)) = meta(c, &f.mesh)? {
        count(c, no, &f.mesh, &super::rank::note_terms(&s.note.text, &s.note.tags), -1)?;
    }
    c.prepare_cached("DELETE FROM memory_fts WHERE rowid = ?1")?.execute([s.rid])?;
    c.prepare_cached("DELETE FROM memory_tags WHERE mesh_id = ?1 AND rid = ?2")?
        .execute(params![f.mesh.as_str(), s.rid])?;
    c.prepare_cached(
        "UPDATE memories SET text = '', tags = '[]', author = ?2, author_member = ?3, author_name = ?4, lamport = ?5,
            forgotten = 1 WHERE rid = ?1",
    )?
    .execute(params![s.rid, f.by.to_string(), f.by_member.to_string(), name, i(stamp)])?;
    Ok((true, stamp))
}

/// Matches a ranked recall considers: the newest this many notes of the mesh that hold every word (all of them
/// when fewer), so a word found in most notes costs no more than a rare one.
pub(super) const CANDIDATES: u32 = 500;

/// A recall's filters, checked already.
pub(super) struct Recall {
    pub mesh: MeshId,
    /// FTS5 MATCH text (quoted words); None lists newest first.
    pub expr: Option<String>,
    /// The query's terms, for ranking.
    pub terms: Vec<String>,
    pub tags: Vec<String>,
    pub author: Option<String>,
    pub since_ms: Option<u64>,
    pub until_ms: Option<u64>,
    pub limit: u32,
}

/// The candidate scan: FTS5's matches (parameters `m`, `lo`, `hi`), newest first, each read from `memories` by
/// row id. CROSS JOIN keeps that order of loops: left to the planner, SQLite 3.54 walked every note of the mesh
/// by `memories_recent` and probed the matches (p50 9.6 ms at 100,000 notes).
fn candidates_sql(m: &str, lo: &str, hi: &str, filters: &str) -> String {
    format!(
        "SELECT m.rid, m.text, m.tags, m.len FROM
            (SELECT rowid FROM memory_fts WHERE memory_fts MATCH {m} AND rowid BETWEEN {lo} AND {hi}
             ORDER BY rowid DESC LIMIT {CANDIDATES}) f
         CROSS JOIN memories m ON m.rid = f.rowid
         WHERE m.mesh_id = ?1 AND m.forgotten = 0{filters}"
    )
}

/// Live notes matching the filters: ranked by bm25 with a query, newest first without.
pub(super) fn recall(c: &Connection, q: &Recall) -> Result<Vec<MemoryNote>, StoreError> {
    let Some((no, notes, _, terms)) = meta(c, &q.mesh)? else { return Ok(Vec::new()) };
    let mut args: Vec<Sql> = vec![Sql::Text(q.mesh.as_str().to_string())];
    let mut filters = String::new();
    let arg = |v: Sql, args: &mut Vec<Sql>| {
        args.push(v);
        format!("?{}", args.len())
    };
    for t in &q.tags {
        let n = arg(Sql::Text(t.clone()), &mut args);
        filters.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM memory_tags t WHERE t.mesh_id = ?1 AND t.tag = {n} AND t.rid = m.rid)"
        ));
    }
    if let Some(a) = &q.author {
        let n = arg(Sql::Text(a.clone()), &mut args);
        filters.push_str(&format!(" AND (m.author = {n} OR m.author_name = {n})"));
    }
    if let Some(s) = q.since_ms {
        let n = arg(Sql::Integer(i(s)), &mut args);
        filters.push_str(&format!(" AND m.created_at_ms >= {n}"));
    }
    if let Some(u) = q.until_ms {
        let n = arg(Sql::Integer(i(u)), &mut args);
        filters.push_str(&format!(" AND m.created_at_ms <= {n}"));
    }
    let Some(expr) = &q.expr else {
        let limit = arg(Sql::Integer(i64::from(q.limit)), &mut args);
        let sql = format!(
            "SELECT {NOTE_COLS} FROM memories m WHERE m.mesh_id = ?1 AND m.forgotten = 0{filters}
             ORDER BY m.created_at_ms DESC, m.rid DESC LIMIT {limit}"
        );
        let mut st = c.prepare_cached(&sql)?;
        let rows = st.query_map(params_from_iter(args), note_from)?;
        return Ok(rows.collect::<Result<_, _>>()?);
    };
    let m = arg(Sql::Text(expr.clone()), &mut args);
    let lo = arg(Sql::Integer(no << MESH_SHIFT), &mut args);
    let hi = arg(Sql::Integer(((no + 1) << MESH_SHIFT) - 1), &mut args);
    // FTS5 only finds the candidates (the mesh by row id range, newest first); ranking them is ours (rank.rs),
    // from each candidate's text, tags and stored length; only the top `limit` are read in full.
    let sql = candidates_sql(&m, &lo, &hi, &filters);
    let mut docs = std::collections::HashMap::new();
    let mut df = c.prepare_cached("SELECT docs FROM memory_df WHERE no = ?1 AND term = ?2")?;
    for t in &q.terms {
        let n: Option<i64> = df.query_row(params![no, t], |r| r.get(0)).optional()?;
        docs.insert(t.clone(), u(n.unwrap_or(0)));
    }
    let corpus = super::rank::Corpus { notes: u(notes), terms: u(terms), docs };
    let mut st = c.prepare_cached(&sql)?;
    let mut rows = st.query(params_from_iter(args))?;
    let mut scored: Vec<(f64, i64)> = Vec::new();
    while let Some(r) = rows.next()? {
        let text = r.get_ref(1)?.as_str().map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let tags = r.get_ref(2)?.as_str().map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let tags: Vec<String> = serde_json::from_str(tags).unwrap_or_default();
        let tf = super::rank::frequencies(&q.terms, text, &tags);
        scored.push((super::rank::score(&corpus, &q.terms, &tf, u(r.get(3)?)), r.get(0)?));
    }
    // Best first; among equals the newer (higher row id) first, as the candidates came.
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)));
    scored.truncate(q.limit as usize);
    let mut full = c.prepare_cached(&format!("SELECT {NOTE_COLS} FROM memories m WHERE m.rid = ?1"))?;
    scored
        .into_iter()
        .map(|(score, rid)| {
            let mut n = full.query_row([rid], note_from)?;
            n.score = Some(score);
            Ok(n)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let c = Connection::open_in_memory().expect("db");
        c.execute_batch(
            "CREATE TABLE schema_parts(part TEXT PRIMARY KEY, version INTEGER NOT NULL);
             CREATE TABLE mesh_lamport(mesh_id TEXT PRIMARY KEY, lamport INTEGER NOT NULL);
             CREATE TABLE peers(mesh_id TEXT NOT NULL, session_key TEXT NOT NULL, name TEXT NOT NULL);",
        )
        .expect("tables");
        migrate(&c).expect("migrate");
        c
    }

    fn add(c: &Connection, mesh: &MeshId, id: &str, text: &str) {
        let r = Remember {
            mesh: mesh.clone(),
            id: id.into(),
            text: text.into(),
            tags: vec!["t".into()],
            lamport: None,
            author: KeyHex([1; 32]),
            member: KeyHex([2; 32]),
            now_ms: 1,
        };
        remember(c, &r).expect("remember");
    }

    fn recall_words(c: &Connection, mesh: &MeshId, words: &str) -> Vec<String> {
        let q = Recall {
            mesh: mesh.clone(),
            expr: super::super::query::words_expr(words),
            terms: super::super::rank::terms(words).collect(),
            tags: vec![],
            author: None,
            since_ms: None,
            until_ms: None,
            limit: 20,
        };
        recall(c, &q).expect("recall").into_iter().map(|n| n.text).collect()
    }

    #[test]
    fn candidates_are_read_by_row_id_not_by_walking_the_mesh() {
        let c = db();
        let filters = " AND m.author = ?5 AND m.created_at_ms >= ?6";
        let sql = format!("EXPLAIN QUERY PLAN {}", candidates_sql("?2", "?3", "?4", filters));
        let mut st = c.prepare(&sql).expect("plan");
        let plan: Vec<String> = st
            .query_map(params!["m", "\"x\"", 1, 2, "a", 0], |r| r.get::<_, String>(3))
            .expect("plan")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert!(plan.iter().any(|p| p.starts_with("SEARCH m USING INTEGER PRIMARY KEY")), "{plan:?}");
        assert!(!plan.iter().any(|p| p.contains("memories_recent")), "{plan:?}");
    }

    #[test]
    fn the_bundled_sqlite_has_fts5_and_recall_ranks_within_one_mesh() {
        let c = db();
        let (a, b) = (MeshId::generate(), MeshId::generate());
        add(&c, &a, "aaaaaaaaaaaa", "postgres once");
        add(&c, &a, "bbbbbbbbbbbb", "postgres postgres postgres");
        add(&c, &b, "cccccccccccc", "postgres elsewhere");
        assert_eq!(recall_words(&c, &a, "postgres"), ["postgres postgres postgres", "postgres once"]);
        assert_eq!(recall_words(&c, &b, "postgres"), ["postgres elsewhere"]);
        let f = Forget {
            mesh: a.clone(),
            id: "bbbbbbbbbbbb".into(),
            lamport: None,
            by: KeyHex([1; 32]),
            by_member: KeyHex([2; 32]),
            admin: false,
        };
        assert_eq!(forget(&c, &f).ok().map(|r| r.0), Some(true));
        assert_eq!(recall_words(&c, &a, "postgres"), ["postgres once"]);
    }
}
