//! What a frame looks like beyond its state: the language and the theme, passed to every screen so a test can
//! render the same state in en and es, in colour and `NO_COLOR`, in one process.

use ratatui::style::Style;

use super::theme::{self, Icon, Role, Theme};
use crate::i18n::{self, Arg, Lang};

/// Language and theme for rendering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Look {
    pub lang: Lang,
    pub theme: Theme,
}

impl Look {
    /// This process's language (`i18n::init`) and theme (`theme::init`).
    pub(crate) fn current() -> Self {
        Self { lang: i18n::current(), theme: theme::current() }
    }

    /// The message `id` in this look's language.
    pub(crate) fn t(&self, id: &str) -> String {
        i18n::t_in(self.lang, id, &[])
    }

    /// The message `id` with arguments.
    pub(crate) fn t_args(&self, id: &str, args: &[(&str, Arg)]) -> String {
        i18n::t_in(self.lang, id, args)
    }

    /// The style of a colour role.
    pub(crate) fn style(&self, role: Role) -> Style {
        self.theme.style(role)
    }

    /// The glyph of an icon (ASCII when the theme says so).
    pub(crate) fn icon(&self, icon: Icon) -> &'static str {
        self.theme.icon(icon)
    }
}
