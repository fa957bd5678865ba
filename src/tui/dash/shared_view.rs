//! The shared panes on screen: the mesh's state (key, value, version, writer), its tasks (state, title, claimer)
//! and the memory search (query line, ranked notes). Renders `SharedPanes`; only the rows that fit are built.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Borders, Paragraph};

use super::view::{ago, clip, pane_block, wrap};
use super::{DashState, Focus, Pane};
use crate::tui::look::Look;
use crate::tui::theme::{Icon, Role};

/// Renders the shared pane `dash.pane` into `area`.
pub(super) fn render(look: &Look, dash: &DashState, frame: &mut Frame, area: Rect) {
    let shared = &dash.shared;
    let pane = dash.pane;
    let count = shared.rows(pane);
    let mut title = format!(" {} ", look.t_args(title_key(pane), &[("count", count.into())]));
    if let Some(age) = shared.stale_ms(pane) {
        title.push_str(&format!("· {} ", look.t_args("tui-dash-cached", &[("secs", (age / 1000).into())])));
    }
    let block = pane_block(look, title, dash.focus == Focus::Stream || dash.focus == Focus::Query)
        .borders(Borders::TOP | Borders::LEFT);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = usize::from(inner.width);
    let mut lines: Vec<Line<'static>> = Vec::new();
    if pane == Pane::Memory {
        lines.push(query_line(look, dash, width));
    }
    if let Some(reason) = shared.error(pane) {
        lines.push(Line::styled(
            clip(
                &format!(
                    "{} {}",
                    look.icon(Icon::Fail),
                    look.t_args("tui-dash-shared-failed", &[("reason", reason.into())])
                ),
                width,
            ),
            look.style(Role::Error),
        ));
    }
    let room = usize::from(inner.height).saturating_sub(lines.len());
    if count == 0 {
        let key = if !shared.is_loaded(pane) {
            "tui-dash-loading"
        } else {
            match pane {
                Pane::State => "tui-dash-no-state",
                Pane::Tasks => "tui-dash-no-tasks",
                _ if shared.searched.as_deref().is_some_and(|q| !q.is_empty()) => "tui-dash-no-memories-match",
                _ => "tui-dash-no-memories",
            }
        };
        lines.extend(wrap(&look.t(key), width).lines.into_iter().map(|l| l.style(look.style(Role::Muted))));
        frame.render_widget(Paragraph::new(Text::from(lines)), inner);
        return;
    }
    // Keep the selected row in view.
    let start = shared.selected.saturating_sub(room.saturating_sub(1));
    let selected = |i: usize| i == shared.selected && dash.focus == Focus::Stream;
    match pane {
        Pane::State => {
            let key_w = shared.state.iter().map(|r| r.key.chars().count()).max().unwrap_or(0).clamp(4, width / 4);
            let rows: Vec<_> = shared.state.iter().enumerate().skip(start).take(room).collect();
            let metas: Vec<String> = rows
                .iter()
                .map(|(_, r)| format!("v{} {} {}", r.version, r.writer, ago(look, dash.now_ms, r.at_ms)))
                .collect();
            let meta_w = metas.iter().map(|m| m.chars().count()).max().unwrap_or(0).min(width / 2);
            for ((i, r), meta) in rows.into_iter().zip(metas) {
                let value_w = width.saturating_sub(key_w + 5 + meta_w);
                lines.push(Line::from(vec![
                    marker(look, selected(i)),
                    Span::styled(format!("{:<key_w$} ", clip(&r.key, key_w)), row_style(look, selected(i))),
                    Span::raw(format!("{:<value_w$} ", clip(&r.value, value_w))),
                    Span::styled(format!("{:>meta_w$}", clip(&meta, meta_w)), look.style(Role::Muted)),
                ]));
            }
        }
        Pane::Tasks => {
            let rows: Vec<_> = shared.tasks.iter().enumerate().skip(start).take(room).collect();
            let whos: Vec<String> = rows.iter().map(|(_, t)| task_who(look, t)).collect();
            let who_w = whos.iter().map(|w| w.chars().count()).max().unwrap_or(0).min(20);
            // The id is what `task claim ID` takes: shown whenever there is room for a readable title too.
            let show_id = width >= 56;
            let id_w = if show_id { 14 } else { 0 };
            for ((i, t), who) in rows.into_iter().zip(whos) {
                let (icon, role) = match t.state.as_str() {
                    "claimed" => (Icon::Play, Role::Primary),
                    "done" => (Icon::Ok, Role::Success),
                    "cancelled" => (Icon::Fail, Role::Dim),
                    _ if t.blocked > 0 => (Icon::Warn, Role::Warning),
                    _ => (Icon::Off, Role::Muted),
                };
                let tags = if t.tags.is_empty() { String::new() } else { format!(" #{}", t.tags.join(" #")) };
                let title_w = width.saturating_sub(4 + who_w + 1 + id_w);
                let mut spans = vec![
                    marker(look, selected(i)),
                    Span::styled(format!("{} ", look.icon(icon)), look.style(role)),
                    Span::styled(
                        format!("{:<title_w$} ", clip(&format!("{}{tags}", t.title), title_w)),
                        row_style(look, selected(i)),
                    ),
                    Span::styled(format!("{:<who_w$}", clip(&who, who_w)), look.style(role)),
                ];
                if show_id {
                    spans.push(Span::styled(format!("  {}", t.id), look.style(Role::Dim)));
                }
                lines.push(Line::from(spans));
            }
        }
        Pane::Memory | Pane::Messages => {
            let rows: Vec<_> = shared.memories.iter().enumerate().skip(start).take(room).collect();
            let metas: Vec<String> =
                rows.iter().map(|(_, m)| format!("{} {}", m.author, ago(look, dash.now_ms, m.at_ms))).collect();
            let meta_w = metas.iter().map(|m| m.chars().count()).max().unwrap_or(0).min(width / 2);
            for ((i, m), meta) in rows.into_iter().zip(metas) {
                let tags = if m.tags.is_empty() { String::new() } else { format!(" #{}", m.tags.join(" #")) };
                let text_w = width.saturating_sub(3 + meta_w);
                lines.push(Line::from(vec![
                    marker(look, selected(i)),
                    Span::styled(
                        format!("{:<text_w$} ", clip(&format!("{}{tags}", m.text), text_w)),
                        row_style(look, selected(i)),
                    ),
                    Span::styled(format!("{:>meta_w$}", clip(&meta, meta_w)), look.style(Role::Muted)),
                ]));
            }
        }
    }
    frame.render_widget(Paragraph::new(Text::from(lines)), inner);
}

/// "claimed by bob", "blocked by 1", "open", "done", "cancelled".
fn task_who(look: &Look, t: &super::shared::TaskRow) -> String {
    match (&t.claimed_by, t.state.as_str()) {
        (Some(name), "claimed") => look.t_args("tui-dash-task-claimed", &[("name", name.clone().into())]),
        (_, "open") if t.blocked > 0 => look.t_args("tui-dash-task-blocked", &[("count", t.blocked.into())]),
        (_, "done") => look.t("tui-dash-task-done"),
        (_, "cancelled") => look.t("tui-dash-task-cancelled"),
        _ => look.t("tui-dash-task-open"),
    }
}

fn title_key(pane: Pane) -> &'static str {
    match pane {
        Pane::State => "tui-dash-state-title",
        Pane::Tasks => "tui-dash-tasks-title",
        Pane::Memory | Pane::Messages => "tui-dash-memory-title",
    }
}

fn marker(look: &Look, selected: bool) -> Span<'static> {
    Span::styled(format!("{} ", if selected { look.icon(Icon::Next) } else { " " }), look.style(Role::Primary))
}

fn row_style(look: &Look, selected: bool) -> Style {
    if selected { look.style(Role::Primary) } else { Style::new() }
}

/// "Search: flaky tests█" — the cursor only while the search is edited.
fn query_line(look: &Look, dash: &DashState, width: usize) -> Line<'static> {
    let editing = dash.focus == Focus::Query;
    let query = &dash.shared.query;
    let mut spans = vec![Span::styled(look.t("tui-dash-search"), look.style(Role::Muted)), Span::raw(" ")];
    if query.is_empty() && !editing {
        spans.push(Span::styled(look.t("tui-dash-search-hint"), look.style(Role::Dim)));
    } else {
        spans.push(Span::styled(clip(query, width.saturating_sub(10)), look.style(Role::Primary)));
    }
    if editing {
        spans.push(Span::styled(look.icon(Icon::Block), look.style(Role::Primary)));
    }
    Line::from(spans)
}
