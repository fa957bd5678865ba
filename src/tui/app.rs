//! The app: state, router and the loop. `update` is the only place state changes; every change bumps a
//! generation, and the loop draws only when the generation moved since the last frame (no redraw when nothing
//! changed). The loop ends with an `Outcome`: quit, or hand off to `claude`.

use ratatui::Frame;
use ratatui::backend::Backend;
use ratatui::crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::action::Action;
use super::event::{DaemonEvent, Event, Events};
use super::flows::{self, Effect, Effects, FlowState};
use super::overlay::{Overlay, RECONNECTED_TICKS};
use super::router::{FlowId, Router, ScreenId, View};
use super::screen::screen_for;
use super::state::{AppState, LinkState};
use super::{dash, look::Look};

/// How the TUI ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The person left (or a signal asked us to).
    Quit,
    /// The flow reached its handoff step: exec `claude` on this mesh.
    Handoff { mesh: Option<String> },
    /// The flow reached its end without a handoff.
    Done,
}

/// State, router and the redraw bookkeeping.
pub(crate) struct App {
    pub state: AppState,
    router: Router,
    generation: u64,
    drawn: Option<u64>,
    quit: bool,
    /// Does the flows' effects; `None` in tests and the dashboard.
    effects: Option<std::sync::Arc<dyn Effects>>,
}

impl App {
    pub(crate) fn new(flow: FlowId, look: Look, flow_state: FlowState) -> Self {
        let mut state = AppState::new(look);
        state.flow = flow_state;
        state.dash.now_ms = now_ms();
        Self { state, router: Router::new(flow), generation: 0, drawn: None, quit: false, effects: None }
    }

    /// The app with the runner of the flows' effects (creating, joining, inviting).
    pub(crate) fn with_effects(mut self, effects: std::sync::Arc<dyn Effects>) -> Self {
        self.effects = Some(effects);
        self
    }

    /// The effect the flow asked for, if any (taken: each runs once).
    pub(crate) fn take_effect(&mut self) -> Option<Effect> {
        self.state.flow.pending.take()
    }

    /// What is on screen now.
    pub(crate) fn view(&self) -> View {
        self.router.view(&self.state.flow)
    }

    /// The flow's screen, under any overlay.
    pub(crate) fn screen(&self) -> ScreenId {
        self.router.screen(&self.state.flow)
    }

    /// Set once the loop should stop. A flow that starts on its handoff step ends before any frame (the
    /// returning user's zero-frame launch).
    pub(crate) fn outcome(&self) -> Option<Outcome> {
        if self.quit {
            return Some(Outcome::Quit);
        }
        match self.screen() {
            ScreenId::Handoff => Some(Outcome::Handoff { mesh: self.state.flow.mesh.clone() }),
            // A flow that ended on a modal overlay (an invalid invite) ends once it is dismissed.
            ScreenId::Done if !self.router.overlays().iter().any(Overlay::is_modal) => Some(Outcome::Done),
            _ => None,
        }
    }

    /// The state changed since the last frame (or nothing was drawn yet).
    pub(crate) fn needs_draw(&self) -> bool {
        self.drawn != Some(self.generation)
    }

    /// Draws the flow's screen, then the top overlay above it, and records the generation drawn.
    pub(crate) fn draw(&mut self, frame: &mut Frame) {
        let area = frame.area();
        screen_for(self.screen()).render(&self.state, frame, area);
        if let Some(overlay) = self.router.overlays().last() {
            overlay.render(&self.state.look, frame, area);
        }
        self.drawn = Some(self.generation);
    }

    /// Turns an event into actions and applies them.
    pub(crate) fn handle(&mut self, event: Event) {
        let action = match event {
            Event::Input(TermEvent::Key(key)) => self.on_key(key),
            Event::Input(TermEvent::Resize(..)) => Some(Action::Resize),
            Event::Input(TermEvent::Paste(text)) => self.on_paste(text),
            Event::Input(TermEvent::Mouse(_) | TermEvent::FocusGained | TermEvent::FocusLost) => None,
            Event::Daemon(e) => Some(Action::Daemon(e)),
            Event::Tick => Some(Action::Tick),
            Event::Terminate => Some(Action::Quit),
            Event::Action(action) => Some(action),
        };
        if let Some(action) = action {
            self.update(action);
        }
    }

    fn on_key(&self, key: KeyEvent) -> Option<Action> {
        if key.kind != KeyEventKind::Press {
            return None;
        }
        if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
            return Some(Action::Quit);
        }
        match self.view() {
            View::Overlay(overlay) if overlay.is_modal() => overlay.on_key(key),
            _ => screen_for(self.screen()).on_key(&self.state, key),
        }
    }

    /// A bracketed paste goes to the text input of the focused screen: the new mesh's name, the dashboard's compose
    /// box or filter (none while a modal overlay is up).
    fn on_paste(&self, text: String) -> Option<Action> {
        if matches!(self.view(), View::Overlay(overlay) if overlay.is_modal()) {
            return None;
        }
        match self.screen() {
            ScreenId::NewName => Some(Action::Flow(flows::FlowAction::Paste(text))),
            ScreenId::Dashboard => Some(Action::Dash(dash::DashAction::Paste(text))),
            _ => None,
        }
    }

    /// Applies one action: the only place state changes.
    pub(crate) fn update(&mut self, action: Action) {
        let changed = match action {
            Action::Quit => {
                self.quit = true;
                true
            }
            Action::Resize => true,
            Action::Tick => {
                let overlays = self.router.update_overlays(Overlay::tick);
                let clock = dash::update(&mut self.state.dash, dash::DashAction::Clock(now_ms()));
                overlays | clock
            }
            Action::Daemon(event) => self.on_daemon(&event),
            Action::PushOverlay(overlay) => self.router.push(overlay),
            Action::DismissOverlay => self.router.pop(),
            Action::Flow(a) => flows::update(&mut self.state.flow, a),
            Action::Dash(a) => dash::update(&mut self.state.dash, a),
        };
        if changed {
            self.generation += 1;
        }
    }

    fn on_daemon(&mut self, event: &DaemonEvent) -> bool {
        let mut changed = false;
        match event {
            DaemonEvent::Disconnected { reason } => {
                tracing::debug!(%reason, "daemon subscription lost");
                changed |= self.set_link(LinkState::Down);
                changed |= self.router.remove(|o| matches!(o, Overlay::Reconnected { .. }));
                changed |= self.router.push(Overlay::BrokerDisconnected);
            }
            DaemonEvent::Connected { .. } => {
                let was_down = self.state.link == LinkState::Down;
                changed |= self.set_link(LinkState::Up);
                if self.router.remove(|o| *o == Overlay::BrokerDisconnected) || was_down {
                    changed |= self.router.push(Overlay::Reconnected { ticks_left: RECONNECTED_TICKS });
                }
            }
            DaemonEvent::BrokerLink { connected: false } => {
                changed |= self.router.push(Overlay::BrokerDisconnected);
            }
            DaemonEvent::BrokerLink { connected: true } => {
                if self.router.remove(|o| *o == Overlay::BrokerDisconnected) {
                    changed |= self.router.push(Overlay::Reconnected { ticks_left: RECONNECTED_TICKS });
                }
            }
            DaemonEvent::Roster { .. }
            | DaemonEvent::PeerChanged { .. }
            | DaemonEvent::Message(_)
            | DaemonEvent::Receipt(_)
            | DaemonEvent::Sent(_)
            | DaemonEvent::SendResult { .. }
            | DaemonEvent::CoordResult { .. }
            | DaemonEvent::Coord { .. }
            | DaemonEvent::Meshes(_) => {}
        }
        changed |= dash::apply(&mut self.state.dash, event);
        changed
    }

    fn set_link(&mut self, link: LinkState) -> bool {
        let changed = self.state.link != link;
        self.state.link = link;
        changed
    }
}

/// Runs the loop on `terminal` until an outcome: draw if the state changed, wait for the next event, apply it.
pub(crate) async fn run<B: Backend>(
    app: &mut App,
    terminal: &mut ratatui::Terminal<B>,
    events: &mut Events,
) -> Result<Outcome, B::Error> {
    loop {
        if let Some(outcome) = app.outcome() {
            return Ok(outcome);
        }
        if app.needs_draw() {
            terminal.draw(|frame| app.draw(frame))?;
        }
        while let Some(effect) = app.take_effect() {
            flows::effects::run(effect, app.effects.clone(), events.sender());
        }
        match events.next().await {
            Some(event) => app.handle(event),
            None => return Ok(Outcome::Quit),
        }
        for request in app.state.dash.take_requests() {
            events.request(request);
        }
    }
}

/// Wall-clock milliseconds (for the dashboard's "last seen").
fn now_ms() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;
    use crate::tui::theme::Theme;
    use ratatui::backend::TestBackend;

    fn look() -> Look {
        Look { lang: Lang::En, theme: Theme::default() }
    }

    #[test]
    fn a_change_marks_the_app_dirty_and_a_no_op_does_not() {
        let mut app = App::new(FlowId::Dash, look(), FlowState::default());
        let mut terminal = ratatui::Terminal::new(TestBackend::new(40, 10)).unwrap();
        assert!(app.needs_draw());
        terminal.draw(|f| app.draw(f)).unwrap();
        assert!(!app.needs_draw());
        // Nothing to select, no overlay to tick or dismiss: no redraw.
        app.update(Action::Dash(dash::DashAction::SelectNext));
        app.update(Action::Tick);
        app.update(Action::DismissOverlay);
        assert!(!app.needs_draw());
        app.update(Action::Resize);
        assert!(app.needs_draw());
    }

    #[tokio::test]
    async fn the_loop_draws_what_changed_and_stops_on_terminate() {
        let mut app = App::new(FlowId::Dash, look(), FlowState::default());
        let mut terminal = ratatui::Terminal::new(TestBackend::new(40, 10)).unwrap();
        let mut events = Events::new();
        let tx = events.sender();
        tx.send(Event::Tick).await.unwrap();
        tx.send(Event::Daemon(DaemonEvent::Connected { mesh: "team".into() })).await.unwrap();
        tx.send(Event::Terminate).await.unwrap();
        let outcome = run(&mut app, &mut terminal, &mut events).await.unwrap();
        assert_eq!(outcome, Outcome::Quit);
        assert!(terminal.backend().to_string().contains("team"));
    }
}
