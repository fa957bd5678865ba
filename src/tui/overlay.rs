//! Overlays: data on the router's stack (seed final-vision §10.2), drawn above the current screen. Status
//! overlays (broker disconnected, reconnected) take one line and let keys through; modal ones (help, invite
//! invalid) take the keys until dismissed. Overlays ask for navigation only by returning actions.

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Text};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::action::Action;
use super::look::Look;
use super::theme::{Icon, Role};

/// How many ticks "Reconnected." stays up (seed §2.5: auto-dismissed after about two seconds).
pub(crate) const RECONNECTED_TICKS: u8 = 2;

/// An interrupt above the current screen.
#[allow(dead_code, reason = "seam: the flows and dashboard work construct these")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Overlay {
    /// The daemon (or the broker behind it) is unreachable; reconnecting.
    BrokerDisconnected,
    /// Back after a disconnect; dismissed when `ticks_left` reaches zero.
    Reconnected { ticks_left: u8 },
    /// The invite cannot be used; `reason` is already localized.
    InviteInvalid { reason: String },
    /// The key bindings.
    Help,
}

impl Overlay {
    /// Same variant, whatever the payload (the stack holds one of each kind).
    pub(crate) fn same_kind(&self, other: &Overlay) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }

    /// Modal overlays take every key; status overlays let keys through to the screen.
    pub(crate) fn is_modal(&self) -> bool {
        matches!(self, Overlay::InviteInvalid { .. } | Overlay::Help)
    }

    /// The overlay after one tick (`None`: it goes away).
    pub(crate) fn tick(&self) -> Option<Overlay> {
        match self {
            Overlay::Reconnected { ticks_left } if *ticks_left <= 1 => None,
            Overlay::Reconnected { ticks_left } => Some(Overlay::Reconnected { ticks_left: ticks_left - 1 }),
            other => Some(other.clone()),
        }
    }

    /// The action a key asks for (modal overlays only).
    pub(crate) fn on_key(&self, key: KeyEvent) -> Option<Action> {
        match (self, key.code) {
            (Overlay::Help, KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q')) => Some(Action::DismissOverlay),
            (Overlay::InviteInvalid { .. }, KeyCode::Esc | KeyCode::Enter) => Some(Action::DismissOverlay),
            _ => None,
        }
    }

    /// Draws the overlay above whatever `area` already holds.
    pub(crate) fn render(&self, look: &Look, frame: &mut Frame, area: Rect) {
        match self {
            Overlay::BrokerDisconnected => {
                let line = Line::styled(
                    format!("{} {}", look.icon(Icon::On), look.t("tui-overlay-disconnected")),
                    look.style(Role::Warning),
                );
                status_line(frame, area, line);
            }
            Overlay::Reconnected { .. } => {
                let line = Line::styled(
                    format!("{} {}", look.icon(Icon::On), look.t("tui-overlay-reconnected")),
                    look.style(Role::Success),
                );
                status_line(frame, area, line);
            }
            Overlay::InviteInvalid { reason } => {
                let text = Text::from(vec![
                    Line::styled(format!("{} {reason}", look.icon(Icon::Fail)), look.style(Role::Error)),
                    Line::default(),
                    Line::styled(look.t("tui-overlay-dismiss"), look.style(Role::Muted)),
                ]);
                modal(frame, area, look, text);
            }
            Overlay::Help => {
                let mut lines =
                    vec![Line::styled(look.t("tui-help-title"), look.style(Role::Primary)), Line::default()];
                lines.extend(look.t("tui-help-keys").lines().map(|l| Line::raw(l.to_string())));
                lines.push(Line::default());
                lines.push(Line::styled(look.t("tui-overlay-dismiss"), look.style(Role::Muted)));
                modal(frame, area, look, Text::from(lines));
            }
        }
    }
}

/// One line at the bottom of the area.
fn status_line(frame: &mut Frame, area: Rect, line: Line<'_>) {
    let Some(y) = (area.y + area.height).checked_sub(1) else { return };
    let row = Rect { x: area.x, y, width: area.width, height: 1 };
    frame.render_widget(Clear, row);
    frame.render_widget(Paragraph::new(line), row);
}

/// A cleared, centred panel with a muted border.
fn modal(frame: &mut Frame, area: Rect, look: &Look, text: Text<'_>) {
    // Rows after wrapping inside the border, so a long reason does not push the last line out of the panel.
    let inner = usize::from(area.width.min(64).saturating_sub(2)).max(1);
    let rows: usize = text.lines.iter().map(|l| l.width().max(1).div_ceil(inner)).sum();
    let height = u16::try_from(rows).unwrap_or(u16::MAX).saturating_add(2);
    let [row] = Layout::vertical([Constraint::Length(height)]).flex(Flex::Center).areas(area);
    let [panel] = Layout::horizontal([Constraint::Max(64)]).flex(Flex::Center).areas(row);
    frame.render_widget(Clear, panel);
    let block = Block::bordered().border_style(look.style(Role::Muted));
    frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: false }).block(block), panel);
}
