//! The dashboard screen: header, peers pane, message stream, compose box and the line under it, plus the
//! completion popup and the mesh switcher. Renders state, turns keys into actions; no I/O. Only the rows that fit
//! are built, so a stream of 10,000 messages costs what one screen of it costs.

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::{DashAction, DashState, DeliveryState, Focus, Msg, Notice, Pane, Peer, Presence, target_and_body};
use crate::tui::action::Action;
use crate::tui::look::Look;
use crate::tui::overlay::Overlay;
use crate::tui::screen::Screen;
use crate::tui::state::{AppState, LinkState};
use crate::tui::theme::{Icon, Role};

pub(crate) struct Dashboard;

/// Tallest the compose box grows (lines of text).
const COMPOSE_MAX_LINES: u16 = 4;

impl Screen for Dashboard {
    fn render(&self, state: &AppState, frame: &mut Frame, area: Rect) {
        let look = &state.look;
        let dash = &state.dash;
        let text_lines = u16::try_from(dash.compose.lines().len()).unwrap_or(u16::MAX);
        // The compose box belongs to the message stream; a shared pane takes its room.
        let compose_h = if dash.pane == Pane::Messages { text_lines.clamp(1, COMPOSE_MAX_LINES) + 2 } else { 0 };
        let [header, body, compose, footer] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(3),
            Constraint::Length(compose_h),
            Constraint::Length(1),
        ])
        .areas(area);
        frame.render_widget(Paragraph::new(header_line(state)), header);
        let peers_w = (body.width * 2 / 5).clamp(22, 44);
        let [peers, stream] = Layout::horizontal([Constraint::Length(peers_w), Constraint::Min(10)]).areas(body);
        render_peers(look, dash, frame, peers);
        if dash.pane == Pane::Messages {
            render_stream(look, dash, frame, stream);
            render_compose(look, dash, frame, compose);
        } else {
            super::shared_view::render(look, dash, frame, stream);
        }
        frame.render_widget(Paragraph::new(footer_line(look, dash)), footer);
        if let Some(c) = &dash.completion {
            render_completion(look, c, frame, compose);
        }
        if let Some(at) = dash.switcher {
            render_switcher(look, dash, at, frame, area);
        }
    }

    fn on_key(&self, state: &AppState, key: KeyEvent) -> Option<Action> {
        let dash = &state.dash;
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        let act = |a| Some(Action::Dash(a));
        if dash.switcher.is_some() {
            return match key.code {
                KeyCode::Down | KeyCode::Char('j') => act(DashAction::SwitcherNext),
                KeyCode::Up | KeyCode::Char('k') => act(DashAction::SwitcherPrev),
                KeyCode::Enter => act(DashAction::SwitcherPick),
                KeyCode::Esc | KeyCode::Char('m') | KeyCode::Char('q') => act(DashAction::CloseSwitcher),
                _ => None,
            };
        }
        match dash.focus {
            Focus::Compose => {
                if dash.completion.is_some() {
                    match key.code {
                        KeyCode::Tab | KeyCode::Down => return act(DashAction::Complete),
                        KeyCode::Enter => return act(DashAction::AcceptCompletion),
                        KeyCode::Esc => return act(DashAction::CloseCompletion),
                        _ => {}
                    }
                }
                match key.code {
                    KeyCode::Esc => act(DashAction::Focus(Focus::Peers)),
                    KeyCode::Enter if alt => act(DashAction::Newline),
                    KeyCode::Char('j') if ctrl => act(DashAction::Newline),
                    KeyCode::Enter => act(DashAction::Send),
                    KeyCode::Tab => act(DashAction::Complete),
                    KeyCode::BackTab => act(DashAction::CycleFocus),
                    KeyCode::Char('p') if ctrl => act(DashAction::TogglePriority),
                    _ => act(DashAction::ComposeKey(key)),
                }
            }
            Focus::Query => match key.code {
                KeyCode::Esc => act(DashAction::QueryDone { run: false }),
                KeyCode::Enter => act(DashAction::QueryDone { run: true }),
                KeyCode::Backspace => act(DashAction::QueryBackspace),
                KeyCode::Char(c) if !ctrl && !alt => act(DashAction::QueryChar(c)),
                _ => None,
            },
            Focus::Filter => match key.code {
                KeyCode::Esc => act(DashAction::FilterDone { clear: true }),
                KeyCode::Enter | KeyCode::Tab => act(DashAction::FilterDone { clear: false }),
                KeyCode::Backspace => act(DashAction::FilterBackspace),
                KeyCode::Char(c) if !ctrl && !alt => act(DashAction::FilterChar(c)),
                _ => None,
            },
            Focus::Peers | Focus::Stream => {
                let stream = dash.focus == Focus::Stream;
                let shared = dash.pane != Pane::Messages;
                if let KeyCode::Char(c) = key.code
                    && let Some(pane) = Pane::from_digit(c)
                {
                    return act(DashAction::ShowPane(pane));
                }
                match key.code {
                    KeyCode::Char('/') | KeyCode::Enter if dash.pane == Pane::Memory => {
                        act(DashAction::Focus(Focus::Query))
                    }
                    KeyCode::Char('r') if shared => act(DashAction::Refresh),
                    KeyCode::Down | KeyCode::Char('j') if stream && shared => act(DashAction::RowNext),
                    KeyCode::Up | KeyCode::Char('k') if stream && shared => act(DashAction::RowPrev),
                    KeyCode::Char('c') | KeyCode::Char('i') | KeyCode::Enter if shared => None,
                    KeyCode::Char('q') => Some(Action::Quit),
                    KeyCode::Char('?') => Some(Action::PushOverlay(Overlay::Help)),
                    KeyCode::Tab => act(DashAction::CycleFocus),
                    KeyCode::Char('c') | KeyCode::Char('i') | KeyCode::Enter => act(DashAction::Focus(Focus::Compose)),
                    KeyCode::Char('/') => act(DashAction::Focus(Focus::Filter)),
                    KeyCode::Esc if !dash.filter.is_empty() => act(DashAction::FilterDone { clear: true }),
                    KeyCode::Char('m') => act(DashAction::OpenSwitcher),
                    KeyCode::Char('f') => act(DashAction::ToggleFingerprint),
                    KeyCode::Char('p') => act(DashAction::TogglePriority),
                    KeyCode::Down | KeyCode::Char('j') if stream => act(DashAction::ScrollDown(1)),
                    KeyCode::Up | KeyCode::Char('k') if stream => act(DashAction::ScrollUp(1)),
                    KeyCode::Down | KeyCode::Char('j') => act(DashAction::SelectNext),
                    KeyCode::Up | KeyCode::Char('k') => act(DashAction::SelectPrev),
                    KeyCode::PageUp => act(DashAction::ScrollUp(10)),
                    KeyCode::PageDown => act(DashAction::ScrollDown(10)),
                    KeyCode::End => act(DashAction::ScrollDown(usize::MAX)),
                    _ => None,
                }
            }
        }
    }
}

fn header_line(state: &AppState) -> Line<'static> {
    let look = &state.look;
    let dash = &state.dash;
    let link = match state.link {
        LinkState::Up => Span::styled(look.icon(Icon::On), look.style(Role::Success)),
        LinkState::Connecting | LinkState::Down => Span::styled(look.icon(Icon::Off), look.style(Role::Muted)),
    };
    let mesh = dash.mesh.clone().unwrap_or_default();
    let mut spans = vec![
        link,
        Span::raw(" "),
        Span::styled(format!("{} {mesh}", look.icon(Icon::Mesh)), look.style(Role::Primary)),
        Span::styled(
            format!("  {}", look.t_args("tui-dash-peers", &[("count", dash.peers.len().into())])),
            look.style(Role::Muted),
        ),
        Span::raw("  "),
    ];
    // The panes, numbered as their keys: the one shown stands out.
    for (i, pane) in Pane::ALL.into_iter().enumerate() {
        let role = if pane == dash.pane { Role::Primary } else { Role::Dim };
        spans.push(Span::styled(format!(" {} {}", i + 1, look.t(pane.label())), look.style(role)));
    }
    if !dash.filter.is_empty() || dash.focus == Focus::Filter {
        let cursor = if dash.focus == Focus::Filter { look.icon(Icon::Block) } else { "" };
        spans.push(Span::styled(
            format!("  {}{cursor}", look.t_args("tui-dash-filter", &[("text", dash.filter.clone().into())])),
            look.style(Role::Warning),
        ));
    }
    Line::from(spans)
}

fn presence(look: &Look, p: Presence) -> (Span<'static>, String) {
    let (icon, role, key) = match p {
        Presence::Idle => (Icon::On, Role::Success, "tui-dash-status-idle"),
        Presence::Working => (Icon::Play, Role::Primary, "tui-dash-status-working"),
        Presence::Dnd => (Icon::Warn, Role::Warning, "tui-dash-status-dnd"),
        Presence::Away => (Icon::Off, Role::Muted, "tui-dash-status-away"),
    };
    (Span::styled(look.icon(icon), look.style(role)), look.t(key))
}

/// "now", "5m ago", "3h ago", "2d ago".
pub(super) fn ago(look: &Look, now_ms: u64, then_ms: u64) -> String {
    let mins = now_ms.saturating_sub(then_ms) / 60_000;
    match mins {
        0 => look.t("tui-dash-ago-now"),
        1..=59 => look.t_args("tui-dash-ago-m", &[("n", mins.into())]),
        60..=1439 => look.t_args("tui-dash-ago-h", &[("n", (mins / 60).into())]),
        _ => look.t_args("tui-dash-ago-d", &[("n", (mins / 1440).into())]),
    }
}

pub(super) fn pane_block(look: &Look, title: String, focused: bool) -> Block<'static> {
    let role = if focused { Role::Primary } else { Role::Muted };
    Block::new().borders(Borders::TOP).border_style(look.style(role)).title(Span::styled(title, look.style(role)))
}

fn peer_lines(look: &Look, dash: &DashState, p: &Peer, selected: bool, width: usize) -> Vec<Line<'static>> {
    let (icon, label) = presence(look, p.presence);
    let marker = if selected { look.icon(Icon::Next) } else { " " };
    let name_style = if selected { look.style(Role::Primary) } else { Style::new() };
    let mine = dash.me.as_deref() == Some(p.id.as_str());
    let name = if mine { format!("{} ({})", p.name, look.t("tui-dash-you")) } else { p.name.clone() };
    let seen = if p.online || p.last_seen_ms == 0 {
        String::new()
    } else {
        format!(" · {}", ago(look, dash.now_ms, p.last_seen_ms))
    };
    let mut lines = vec![Line::from(vec![
        Span::styled(marker, look.style(Role::Primary)),
        Span::raw(" "),
        icon,
        Span::raw(" "),
        Span::styled(name, name_style),
        Span::styled(format!(" {label}{seen}"), look.style(Role::Muted)),
    ])];
    if !p.summary.is_empty() {
        lines.push(Line::styled(clip(&format!("    {}", p.summary), width), look.style(Role::Dim)));
    }
    let place = match (&p.cwd, &p.branch) {
        (Some(cwd), Some(branch)) => Some(format!("{cwd} ({branch})")),
        (Some(cwd), None) => Some(cwd.clone()),
        (None, Some(branch)) => Some(format!("({branch})")),
        (None, None) => None,
    };
    if let Some(place) = place {
        lines.push(Line::styled(clip(&format!("    {place}"), width), look.style(Role::Muted)));
    }
    if dash.fingerprint.as_deref() == Some(p.id.as_str()) {
        let (icon, role, key) = if p.verified {
            (Icon::Ok, Role::Success, "tui-dash-key-verified")
        } else {
            (Icon::Warn, Role::Warning, "tui-dash-key-unverified")
        };
        lines.push(Line::from(vec![
            Span::raw("    "),
            Span::styled(look.icon(icon), look.style(role)),
            Span::styled(clip(&format!(" {}", look.t(key)), width.saturating_sub(5)), look.style(role)),
        ]));
        lines.push(Line::styled(clip(&format!("    {}", p.fingerprint), width), look.style(Role::Primary)));
    }
    lines
}

fn render_peers(look: &Look, dash: &DashState, frame: &mut Frame, area: Rect) {
    let visible = dash.visible_peers();
    let title = format!(" {} ", look.t("tui-dash-peers-title"));
    let block = pane_block(look, title, dash.focus == Focus::Peers);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let rows = usize::from(inner.height);
    let width = usize::from(inner.width);
    if visible.is_empty() {
        let key = if dash.filter.is_empty() { "tui-dash-no-peers" } else { "tui-dash-no-match" };
        frame.render_widget(Paragraph::new(wrap(&look.t(key), width)).style(look.style(Role::Muted)), inner);
        return;
    }
    // Keep the selected peer in view: start far enough back that it sits in the upper half.
    let start = dash.selected.saturating_sub(rows / 4);
    let mut lines = Vec::with_capacity(rows);
    for (i, p) in visible.iter().enumerate().skip(start) {
        if lines.len() >= rows {
            break;
        }
        lines.extend(peer_lines(look, dash, p, i == dash.selected, width));
    }
    lines.truncate(rows);
    frame.render_widget(Paragraph::new(Text::from(lines)), inner);
}

fn state_span(look: &Look, s: DeliveryState) -> Span<'static> {
    let (icon, role, key) = match s {
        DeliveryState::Failed => (Icon::Fail, Role::Error, "tui-dash-state-failed"),
        DeliveryState::Sending => (Icon::Bullet, Role::Dim, "tui-dash-state-sending"),
        DeliveryState::Queued => (Icon::Off, Role::Muted, "tui-dash-state-queued"),
        DeliveryState::Delivered => (Icon::On, Role::Muted, "tui-dash-state-delivered"),
        DeliveryState::Surfaced => (Icon::Ok, Role::Primary, "tui-dash-state-surfaced"),
        DeliveryState::Read => (Icon::Ok, Role::Success, "tui-dash-state-read"),
        DeliveryState::Received => (Icon::Bullet, Role::Muted, "tui-dash-state-received"),
    };
    Span::styled(format!("{} {}", look.icon(icon), look.t(key)), look.style(role))
}

fn message_lines(look: &Look, dash: &DashState, m: &Msg, width: usize) -> [Line<'static>; 2] {
    let from = if m.from.is_empty() { look.t("tui-dash-you") } else { m.from.clone() };
    let to = if m.recipients.is_empty() || m.to.starts_with('@') || m.to == "*" {
        m.to.clone()
    } else {
        m.recipients.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", ")
    };
    let prio_role = match m.priority.as_str() {
        "now" => Role::Warning,
        "low" => Role::Dim,
        _ => Role::Muted,
    };
    // The state sits at the right edge so a narrow pane clips the names, never the receipt.
    let state = state_span(look, m.state);
    let left = format!("{from} → {to}");
    let meta = format!("  {}  {}", m.priority, ago(look, dash.now_ms, m.at_ms));
    let used = left.chars().count() + meta.chars().count() + state.content.chars().count();
    let (left, meta, pad) = if used < width {
        (left, meta, width - used)
    } else {
        let room = width.saturating_sub(state.content.chars().count() + 1);
        (clip(&format!("{left}{meta}"), room), String::new(), 1)
    };
    let head = Line::from(vec![
        Span::styled(left, look.style(if m.outgoing { Role::Primary } else { Role::Success })),
        Span::styled(meta, look.style(prio_role)),
        Span::raw(" ".repeat(pad)),
        state,
    ]);
    let first = m.body.lines().next().unwrap_or_default();
    let more = if m.body.lines().nth(1).is_some() { " …" } else { "" };
    let body = Line::raw(clip(&format!("  {first}{more}"), width));
    [head, body]
}

fn render_stream(look: &Look, dash: &DashState, frame: &mut Frame, area: Rect) {
    let mut title = format!(" {} ", look.t("tui-dash-stream-title"));
    if dash.scroll > 0 {
        // Scrolled up: say how much is below, and how to get back.
        title.push_str(&format!("· {} ", look.t_args("tui-dash-newer", &[("count", dash.scroll.into())])));
    }
    let block = pane_block(look, title, dash.focus == Focus::Stream).borders(Borders::TOP | Borders::LEFT);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = usize::from(inner.width);
    let per_screen = usize::from(inner.height) / 2;
    let f = dash.filter.to_lowercase();
    // Newest at the bottom: walk back from the end, skip what is scrolled past, stop when the pane is full.
    let mut shown: Vec<&Msg> = dash
        .messages
        .iter()
        .rev()
        .filter(|m| f.is_empty() || m.matches(&f))
        .skip(dash.scroll)
        .take(per_screen)
        .collect();
    if shown.is_empty() {
        let key = if dash.messages.is_empty() { "tui-dash-no-messages" } else { "tui-dash-no-match" };
        frame.render_widget(Paragraph::new(wrap(&look.t(key), width)).style(look.style(Role::Muted)), inner);
        return;
    }
    shown.reverse();
    let mut lines: Vec<Line> = Vec::with_capacity(per_screen * 2);
    for m in shown {
        lines.extend(message_lines(look, dash, m, width));
    }
    // Bottom-aligned: the newest message sits just above the compose box.
    let pad = usize::from(inner.height).saturating_sub(lines.len());
    let mut text = vec![Line::default(); pad];
    text.extend(lines);
    frame.render_widget(Paragraph::new(Text::from(text)), inner);
}

fn render_compose(look: &Look, dash: &DashState, frame: &mut Frame, area: Rect) {
    let focused = dash.focus == Focus::Compose;
    let role = if focused { Role::Primary } else { Role::Muted };
    let title = match target_and_body(dash) {
        Some((to, _)) => look.t_args("tui-dash-compose-to", &[("to", to.into())]),
        None => look.t("tui-dash-compose-title"),
    };
    let prio = look.t_args("tui-dash-priority", &[("priority", dash.priority.as_str().into())]);
    let block = Block::bordered()
        .border_style(look.style(role))
        .title(Span::styled(format!(" {title} "), look.style(role)))
        .title_bottom(Line::styled(format!(" {prio} "), look.style(Role::Muted)).right_aligned());
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if dash.compose.is_empty() {
        let hint = if focused { "tui-dash-compose-hint" } else { "tui-dash-compose-idle" };
        let mut spans = Vec::new();
        if focused {
            spans.push(Span::styled(look.icon(Icon::Block), look.style(Role::Primary)));
        }
        spans.push(Span::styled(look.t(hint), look.style(Role::Dim)));
        frame.render_widget(Paragraph::new(Line::from(spans)), inner);
        return;
    }
    let mut editor = dash.compose.clone();
    editor.set_cursor_line_style(Style::new());
    editor.set_cursor_style(if focused { look.style(Role::Primary).reversed() } else { Style::new() });
    frame.render_widget(&editor, inner);
}

fn footer_line(look: &Look, dash: &DashState) -> Line<'static> {
    match &dash.notice {
        Some(Notice::Sent) => {
            Line::styled(format!("{} {}", look.icon(Icon::Ok), look.t("tui-dash-sent")), look.style(Role::Success))
        }
        Some(Notice::Queued) => {
            Line::styled(format!("{} {}", look.icon(Icon::Warn), look.t("tui-dash-queued")), look.style(Role::Warning))
        }
        Some(Notice::Failed { reason }) => Line::styled(
            format!(
                "{} {}",
                look.icon(Icon::Fail),
                look.t_args("tui-dash-failed", &[("reason", reason.clone().into())])
            ),
            look.style(Role::Error),
        ),
        Some(Notice::Empty) => {
            Line::styled(format!("{} {}", look.icon(Icon::Warn), look.t("tui-dash-empty")), look.style(Role::Warning))
        }
        None => {
            let key = match dash.focus {
                Focus::Compose => "tui-dash-keys-compose",
                Focus::Filter => "tui-dash-keys-filter",
                Focus::Query => "tui-dash-keys-query",
                Focus::Peers | Focus::Stream if dash.pane == Pane::Memory => "tui-dash-keys-memory",
                Focus::Peers | Focus::Stream if dash.pane != Pane::Messages => "tui-dash-keys-shared",
                Focus::Peers | Focus::Stream => "tui-dash-keys",
            };
            Line::styled(look.t(key), look.style(Role::Dim))
        }
    }
}

fn render_completion(look: &Look, c: &super::Completion, frame: &mut Frame, compose: Rect) {
    let rows = c.matches.len().min(6);
    let height = u16::try_from(rows).unwrap_or(6) + 2;
    let width = c.matches.iter().map(|m| m.chars().count()).max().unwrap_or(4).clamp(8, 30) as u16 + 5;
    let y = compose.y.saturating_sub(height);
    let area = Rect { x: compose.x + 1, y, width: width.min(compose.width), height: height.min(compose.y) };
    frame.render_widget(Clear, area);
    let start = c.chosen.saturating_sub(rows.saturating_sub(1));
    let lines: Vec<Line> = c
        .matches
        .iter()
        .enumerate()
        .skip(start)
        .take(rows)
        .map(|(i, name)| {
            if i == c.chosen {
                Line::styled(format!("{} @{name}", look.icon(Icon::Next)), look.style(Role::Primary))
            } else {
                Line::raw(format!("  @{name}"))
            }
        })
        .collect();
    let block = Block::bordered().border_style(look.style(Role::Muted));
    frame.render_widget(Paragraph::new(Text::from(lines)).block(block), area);
}

fn render_switcher(look: &Look, dash: &DashState, at: usize, frame: &mut Frame, area: Rect) {
    let mut lines = vec![Line::styled(look.t("tui-dash-switcher-title"), look.style(Role::Primary)), Line::default()];
    if dash.meshes.is_empty() {
        lines.push(Line::styled(look.t("tui-dash-switcher-empty"), look.style(Role::Muted)));
    }
    let room = usize::from(area.height.saturating_sub(6)).max(1);
    let start = at.saturating_sub(room.saturating_sub(1));
    for (i, m) in dash.meshes.iter().enumerate().skip(start).take(room) {
        let current = dash.mesh.as_deref() == Some(m.slug.as_str());
        let marker = if i == at { look.icon(Icon::Next) } else { " " };
        let style = if i == at { look.style(Role::Primary) } else { Style::new() };
        let mut spans = vec![Span::styled(format!("{marker} {} {}", look.icon(Icon::Mesh), m.slug), style)];
        if current {
            spans.push(Span::styled(format!("  {}", look.t("tui-dash-switcher-current")), look.style(Role::Muted)));
        }
        lines.push(Line::from(spans));
    }
    lines.push(Line::default());
    lines.push(Line::styled(look.t("tui-dash-switcher-hint"), look.style(Role::Muted)));
    let height = u16::try_from(lines.len()).unwrap_or(u16::MAX).saturating_add(2);
    let [row] = Layout::vertical([Constraint::Length(height)]).flex(Flex::Center).areas(area);
    let [panel] = Layout::horizontal([Constraint::Max(48)]).flex(Flex::Center).areas(row);
    frame.render_widget(Clear, panel);
    let block = Block::bordered().border_style(look.style(Role::Muted));
    frame.render_widget(Paragraph::new(Text::from(lines)).block(block), panel);
}

/// At most `width` characters (a trailing `…` when cut).
pub(super) fn clip(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Word-wrapped lines of at most `width` characters.
pub(super) fn wrap(s: &str, width: usize) -> Text<'static> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in s.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(Line::raw(std::mem::take(&mut line)));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(Line::raw(line));
    }
    Text::from(lines)
}
