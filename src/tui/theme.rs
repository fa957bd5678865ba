//! The visual system, defined once: six colour roles and ten icons (seed final-vision §13), with `NO_COLOR` and an
//! ASCII fallback. Pure: the TUI paints with `style`, the CLI's text output with `ansi`, both from the same table.

use std::sync::OnceLock;

use ratatui::style::{Color, Modifier, Style};

/// A semantic colour role; no other colours are used anywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Primary,
    Success,
    Error,
    Warning,
    Muted,
    Dim,
}

#[allow(dead_code, reason = "seam: every icon exists; not all are used yet")]
/// The ten icons. Each state is also carried by text and position, so the glyph alone never decides legibility.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Icon {
    /// `✔` done.
    Ok,
    /// `✘` failed.
    Fail,
    /// `⚠` needs attention.
    Warn,
    /// `▶` running / working.
    Play,
    /// `▸` the next action, the selected row.
    Next,
    /// `•` a list item, idle.
    Bullet,
    /// `◆` a mesh.
    Mesh,
    /// `█` a bar, the cursor block.
    Block,
    /// `◉` connected / online.
    On,
    /// `◎` disconnected / offline.
    Off,
}

impl Icon {
    /// Every icon, in the seed's order.
    #[cfg(test)]
    pub(crate) const ALL: [Icon; 10] = [
        Icon::Ok,
        Icon::Fail,
        Icon::Warn,
        Icon::Play,
        Icon::Next,
        Icon::Bullet,
        Icon::Mesh,
        Icon::Block,
        Icon::On,
        Icon::Off,
    ];

    /// The Unicode glyph (all in the Basic Multilingual Plane, one cell wide).
    pub(crate) const fn glyph(self) -> &'static str {
        match self {
            Icon::Ok => "✔",
            Icon::Fail => "✘",
            Icon::Warn => "⚠",
            Icon::Play => "▶",
            Icon::Next => "▸",
            Icon::Bullet => "•",
            Icon::Mesh => "◆",
            Icon::Block => "█",
            Icon::On => "◉",
            Icon::Off => "◎",
        }
    }

    /// The ASCII stand-in for terminals without UTF-8; one cell wide like the glyph, so layouts do not move.
    pub(crate) const fn ascii(self) -> &'static str {
        match self {
            Icon::Ok => "+",
            Icon::Fail => "x",
            Icon::Warn => "!",
            Icon::Play => ">",
            Icon::Next => ">",
            Icon::Bullet => "*",
            Icon::Mesh => "#",
            Icon::Block => "|",
            Icon::On => "o",
            Icon::Off => "-",
        }
    }
}

/// How this process paints: colour or not (`NO_COLOR`), Unicode icons or ASCII.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Theme {
    pub color: bool,
    pub unicode: bool,
}

impl Default for Theme {
    fn default() -> Self {
        Self { color: true, unicode: true }
    }
}

impl Theme {
    /// From the environment snapshot: `NO_COLOR` turns colour off; `CLAUDEMESH_ASCII=1` or a locale that is set
    /// and not UTF-8 (`C`, `POSIX`, `en_US.ISO-8859-1`) turns the icons to ASCII. No locale at all counts as UTF-8:
    /// every terminal we support defaults to it.
    pub(crate) fn detect(no_color: bool, ascii: bool, ctype_locale: Option<&str>) -> Self {
        let utf8_locale = ctype_locale.is_none_or(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("utf-8") || l.contains("utf8")
        });
        Self { color: !no_color, unicode: !ascii && utf8_locale }
    }

    /// The glyph for `icon` under this theme.
    pub(crate) fn icon(self, icon: Icon) -> &'static str {
        if self.unicode { icon.glyph() } else { icon.ascii() }
    }

    /// The ratatui style of a role. Without colour, emphasis survives as bold (primary, success, error, warning)
    /// or nothing (muted, dim), so the icon and the text carry the state.
    pub(crate) fn style(self, role: Role) -> Style {
        if !self.color {
            return match role {
                Role::Primary | Role::Success | Role::Error | Role::Warning => {
                    Style::new().add_modifier(Modifier::BOLD)
                }
                Role::Muted | Role::Dim => Style::new(),
            };
        }
        match role {
            Role::Primary => Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            Role::Success => Style::new().fg(Color::Green),
            Role::Error => Style::new().fg(Color::Red),
            Role::Warning => Style::new().fg(Color::Yellow),
            Role::Muted => Style::new().fg(Color::DarkGray),
            Role::Dim => Style::new().add_modifier(Modifier::DIM),
        }
    }
}

/// The SGR sequence of a role for plain text output (the CLI's printer decides whether a stream gets colour).
pub(crate) const fn ansi(role: Role) -> &'static str {
    match role {
        Role::Primary => "\x1b[1;36m",
        Role::Success => "\x1b[32m",
        Role::Error => "\x1b[31m",
        Role::Warning => "\x1b[33m",
        Role::Muted => "\x1b[90m",
        Role::Dim => "\x1b[2m",
    }
}

static CURRENT: OnceLock<Theme> = OnceLock::new();

/// Chooses the theme for this process (at start-up, beside `i18n::init`). Later calls are ignored.
pub(crate) fn init(theme: Theme) {
    let _ = CURRENT.set(theme);
}

/// The theme chosen by `init` (colour and Unicode before that).
pub(crate) fn current() -> Theme {
    CURRENT.get().copied().unwrap_or_default()
}

/// The glyph for `icon` in this process's theme (`theme::icon(Icon::On)`).
pub(crate) fn icon(icon: Icon) -> &'static str {
    current().icon(icon)
}

#[allow(dead_code, reason = "API for CLI output and screens outside a Look")]
/// The style of `role` in this process's theme (`theme::style(Role::Success)`).
pub(crate) fn style(role: Role) -> Style {
    current().style(role)
}

#[cfg(test)]
mod tests {
    use super::*;
    use unicode_width::UnicodeWidthStr;

    #[test]
    fn every_icon_and_its_fallback_is_one_cell_and_fallbacks_are_ascii() {
        for icon in Icon::ALL {
            assert_eq!(icon.glyph().width(), 1, "{icon:?}");
            assert_eq!(icon.ascii().width(), 1, "{icon:?}");
            assert!(icon.ascii().is_ascii(), "{icon:?}");
        }
    }

    #[test]
    fn ascii_when_asked_or_when_the_locale_is_not_utf8() {
        assert!(Theme::detect(false, false, None).unicode);
        assert!(Theme::detect(false, false, Some("es_ES.UTF-8")).unicode);
        assert!(Theme::detect(false, false, Some("C.utf8")).unicode);
        assert!(!Theme::detect(false, false, Some("C")).unicode);
        assert!(!Theme::detect(false, false, Some("en_US.ISO-8859-1")).unicode);
        assert!(!Theme::detect(false, true, Some("en_US.UTF-8")).unicode);
        assert_eq!(Theme::detect(false, true, None).icon(Icon::Next), ">");
    }

    #[test]
    fn no_color_keeps_emphasis_without_any_colour() {
        let plain = Theme::detect(true, false, None);
        assert!(!plain.color);
        for role in [Role::Primary, Role::Success, Role::Error, Role::Warning, Role::Muted, Role::Dim] {
            let s = plain.style(role);
            assert_eq!((s.fg, s.bg), (None, None), "{role:?}");
        }
        assert!(plain.style(Role::Error).add_modifier.contains(Modifier::BOLD));
    }
}
