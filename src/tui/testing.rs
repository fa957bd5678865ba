//! Test harness (tests only). Snapshots: `assert_screen_snapshots` / `assert_app_snapshots` render at 80×24 and
//! 120×40, in colour and `NO_COLOR`, in en and es (eight insta snapshots under `snapshots/`, text plus the style
//! runs, so a colour change shows in review). Flows: `FlowDriver` feeds synthetic events to an `App` and records
//! the sequence of views.

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::{Color, Modifier, Style};

use super::action::Action;
use super::app::{App, Outcome};
use super::event::Event;
use super::flows::{Effect, FlowState};
use super::look::Look;
use super::router::{FlowId, View};
use super::screen::Screen;
use super::state::AppState;
use super::theme::Theme;
use crate::i18n::Lang;

/// The two sizes every screen is checked at.
pub(crate) const SIZES: [(u16, u16); 2] = [(80, 24), (120, 40)];

/// en and es, each in colour and without (`NO_COLOR`), with the variant's name.
pub(crate) fn looks() -> [(&'static str, Look); 4] {
    let look = |lang, color| Look { lang, theme: Theme { color, unicode: true } };
    [
        ("en-color", look(Lang::En, true)),
        ("en-nocolor", look(Lang::En, false)),
        ("es-color", look(Lang::Es, true)),
        ("es-nocolor", look(Lang::Es, false)),
    ]
}

/// Snapshots `screen` drawn from `make_state(look)` in all eight variants, as `<name>@<w>x<h>-<lang>-<color>`.
pub(crate) fn assert_screen_snapshots(name: &str, make_state: impl Fn(Look) -> AppState, screen: &dyn Screen) {
    for_each_variant(name, |look, terminal| {
        let state = make_state(look);
        terminal.draw(|frame| screen.render(&state, frame, frame.area())).map(drop)
    });
}

/// Snapshots a whole app (screen plus overlays) built by `make_app(look)` in all eight variants.
pub(crate) fn assert_app_snapshots(name: &str, make_app: impl Fn(Look) -> App) {
    for_each_variant(name, |look, terminal| {
        let mut app = make_app(look);
        terminal.draw(|frame| app.draw(frame)).map(drop)
    });
}

/// `assert_app_snapshots` at other sizes (e.g. the smallest supported, 60×20).
pub(crate) fn assert_app_snapshots_at(name: &str, sizes: &[(u16, u16)], make_app: impl Fn(Look) -> App) {
    for_each_variant_at(name, sizes, |look, terminal| {
        let mut app = make_app(look);
        terminal.draw(|frame| app.draw(frame)).map(drop)
    });
}

fn for_each_variant(
    name: &str,
    draw: impl FnMut(Look, &mut Terminal<TestBackend>) -> Result<(), std::convert::Infallible>,
) {
    for_each_variant_at(name, &SIZES, draw);
}

fn for_each_variant_at(
    name: &str,
    sizes: &[(u16, u16)],
    mut draw: impl FnMut(Look, &mut Terminal<TestBackend>) -> Result<(), std::convert::Infallible>,
) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for &(w, h) in sizes {
            for (variant, look) in looks() {
                let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test backend");
                draw(look, &mut terminal).expect("draw");
                let snapshot = format!("{name}@{w}x{h}-{variant}");
                insta::assert_snapshot!(snapshot.as_str(), dump(terminal.backend().buffer()));
            }
        }
    });
}

/// The buffer as text (trailing blanks trimmed), then every run of non-default style as
/// `row col..col fg bg +MODIFIERS`.
pub(crate) fn dump(buffer: &Buffer) -> String {
    let area = buffer.area;
    let mut text = String::new();
    let mut styles = String::new();
    for y in area.top()..area.bottom() {
        let mut line = String::new();
        let mut run: Option<(u16, u16, Style)> = None;
        for x in area.left()..area.right() {
            let cell = &buffer[(x, y)];
            line.push_str(cell.symbol());
            let style = Style::new().fg(cell.fg).bg(cell.bg).add_modifier(cell.modifier);
            run = match run {
                Some((start, _, s)) if s == style => Some((start, x, s)),
                Some(done) => {
                    styles.push_str(&style_run(y, done));
                    Some((x, x, style))
                }
                None => Some((x, x, style)),
            };
        }
        if let Some(done) = run {
            styles.push_str(&style_run(y, done));
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    format!("{text}--- styles ---\n{styles}")
}

fn style_run(y: u16, (start, end, style): (u16, u16, Style)) -> String {
    let reset = |c: Option<Color>| c.is_none_or(|c| c == Color::Reset);
    if reset(style.fg) && reset(style.bg) && style.add_modifier == Modifier::empty() {
        return String::new();
    }
    let color = |c: Option<Color>| c.filter(|c| *c != Color::Reset).map_or("-".to_string(), |c| format!("{c:?}"));
    let mods = if style.add_modifier.is_empty() { String::new() } else { format!(" +{:?}", style.add_modifier) };
    format!("{y} {start}..{end} {} {}{mods}\n", color(style.fg), color(style.bg))
}

/// Drives an `App` with synthetic events and records each distinct view it shows, and the effects the flow asked
/// for (taken as the loop would, never run: a test reports their results with `action`).
pub(crate) struct FlowDriver {
    pub app: App,
    views: Vec<View>,
    effects: Vec<Effect>,
}

impl FlowDriver {
    pub(crate) fn new(flow: FlowId, state: FlowState) -> Self {
        let look = Look { lang: Lang::En, theme: Theme::default() };
        let app = App::new(flow, look, state);
        let views = vec![app.view()];
        let mut driver = Self { app, views, effects: Vec::new() };
        driver.take_effects();
        driver
    }

    /// A key press.
    pub(crate) fn key(&mut self, code: KeyCode) -> &mut Self {
        self.event(Event::Input(TermEvent::Key(KeyEvent::new(code, KeyModifiers::NONE))))
    }

    /// Any event, as the loop would hand it over.
    pub(crate) fn event(&mut self, event: Event) -> &mut Self {
        self.app.handle(event);
        self.record();
        self
    }

    /// An action, as a screen would emit it.
    pub(crate) fn action(&mut self, action: Action) -> &mut Self {
        self.app.update(action);
        self.record();
        self
    }

    fn take_effects(&mut self) {
        while let Some(effect) = self.app.take_effect() {
            self.effects.push(effect);
        }
    }

    /// Every effect the flow asked for so far, in order.
    pub(crate) fn effects(&self) -> &[Effect] {
        &self.effects
    }

    fn record(&mut self) {
        self.take_effects();
        let view = self.app.view();
        if self.views.last() != Some(&view) {
            self.views.push(view);
        }
    }

    /// Every distinct view so far, the first one included.
    pub(crate) fn views(&self) -> &[View] {
        &self.views
    }

    pub(crate) fn outcome(&self) -> Option<Outcome> {
        self.app.outcome()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::event::DaemonEvent;
    use crate::tui::overlay::Overlay;
    use crate::tui::router::ScreenId;

    #[test]
    fn dump_lists_text_then_style_runs() {
        let mut buffer = Buffer::empty(ratatui::layout::Rect::new(0, 0, 4, 1));
        buffer.set_string(0, 0, "ab", Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD));
        assert_eq!(dump(&buffer), "ab\n--- styles ---\n0 0..1 Cyan - +BOLD\n");
    }

    #[test]
    fn dashboard_shows_disconnected_then_reconnected_then_nothing() {
        let mut d = FlowDriver::new(FlowId::Dash, FlowState::default());
        d.event(Event::Daemon(DaemonEvent::Connected { mesh: "team".into() }))
            .event(Event::Daemon(DaemonEvent::Disconnected { reason: "closed".into() }))
            .event(Event::Daemon(DaemonEvent::Disconnected { reason: "refused".into() }))
            .event(Event::Daemon(DaemonEvent::Connected { mesh: "team".into() }))
            .event(Event::Tick)
            .event(Event::Tick);
        assert_eq!(
            d.views(),
            [
                View::Screen(ScreenId::Dashboard),
                View::Overlay(Overlay::BrokerDisconnected),
                View::Overlay(Overlay::Reconnected { ticks_left: 2 }),
                View::Overlay(Overlay::Reconnected { ticks_left: 1 }),
                View::Screen(ScreenId::Dashboard),
            ]
        );
        assert_eq!(d.outcome(), None);
        d.key(KeyCode::Char('q'));
        assert_eq!(d.outcome(), Some(Outcome::Quit));
    }
}
