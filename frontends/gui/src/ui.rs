//! The widget tree: connection bar on top; in the middle the room list, the
//! shown room's topic and conversation, and who is in it; compose box and
//! status bar at the bottom; plus the controllers that turn keys and clicks
//! into [`AppState`] calls.

use druid::kurbo::Circle;
use druid::widget::prelude::*;
use druid::widget::{
    Button, Checkbox, Container, Controller, CrossAxisAlignment, Either, Flex, Label, List,
    Painter, Scroll, SizedBox, TextBox,
};
use druid::{FileDialogOptions, Insets, KbKey, LensExt, Selector, WidgetExt, WidgetId};

use crate::conversation::{Conversation, HISTORY_PAGE};
use crate::keys::{CaretToEnd, ComposeKeys, ConversationKeys};
use crate::label::TextLine;
use crate::roomlist::{self, SHOW_ROOM};
use crate::rooms::Shown;
use crate::state::{AppState, Conn};
use crate::theme;
use crate::view::{ConversationView, LOAD_OLDER};
use crate::wrap::Wrap;

/// Gives the compose box the keyboard focus.
pub const FOCUS_COMPOSE: Selector = Selector::new("chat-gui.focus-compose");
/// Pastes text into the compose box as Ctrl+V does (for a menu, or a test,
/// which has no clipboard): several lines become messages.
pub const PASTE_TEXT: Selector<String> = Selector::new("chat-gui.paste-text");
/// Gives the password field the keyboard focus.
pub const FOCUS_PASSWORD: Selector = Selector::new("chat-gui.focus-password");

/// Ids of the widgets tests and controllers address.
#[derive(Debug, Clone, Copy)]
pub struct Ids {
    /// The compose box.
    pub compose: WidgetId,
    /// The Send button.
    pub send: WidgetId,
    /// The bottom bar holding compose and Send.
    pub compose_bar: WidgetId,
    /// The column inside the bottom bar: the paste question, then the row.
    pub compose_column: WidgetId,
    /// The row inside the bottom bar.
    pub compose_row: WidgetId,
    /// The conversation view.
    pub conversation: WidgetId,
    /// The password field.
    pub password: WidgetId,
    /// The row holding the room list, the conversation and the users.
    pub middle: WidgetId,
    /// The room list's panel.
    pub room_panel: WidgetId,
    /// The scrolling list of rooms inside it.
    pub room_list: WidgetId,
    /// The row under the room list holding the join field and button.
    pub join_row: WidgetId,
    /// The join field.
    pub join_field: WidgetId,
    /// The Join button.
    pub join_button: WidgetId,
    /// The topic bar.
    pub topic: WidgetId,
    /// Who is in the shown room.
    pub users: WidgetId,
    /// The connection bar (its padding), and the wrapping row inside it.
    pub toolbar: WidgetId,
    /// The row of the connection bar that wraps.
    pub toolbar_wrap: WidgetId,
    /// "Server" and its field, kept together.
    pub server_unit: WidgetId,
    /// The server field.
    pub server: WidgetId,
    /// "Name" and its field.
    pub name_unit: WidgetId,
    /// The name field.
    pub name: WidgetId,
    /// "Password" and its field.
    pub password_unit: WidgetId,
    /// The password field's box (`password` is the text box inside it).
    pub password_box: WidgetId,
    /// The TLS box and Connect, kept together.
    pub connect_unit: WidgetId,
    /// The TLS box.
    pub tls: WidgetId,
    /// Connect / Disconnect.
    pub connect: WidgetId,
    /// "CA file", its field and its "…" button, kept together.
    pub ca_unit: WidgetId,
    /// The CA file field.
    pub ca_file: WidgetId,
    /// The "…" button that opens a file chooser for the CA file.
    pub ca_browse: WidgetId,
    /// The status bar, its padded column, and the row of the status line.
    pub status_bar: WidgetId,
    /// The padded column inside the status bar.
    pub status_column: WidgetId,
    /// The row holding the status text and the line counter.
    pub status_row: WidgetId,
    /// The status text.
    pub status_text: WidgetId,
    /// The line counter at the right of the status bar.
    pub status_lines: WidgetId,
    /// The bar asking whether to send a long paste.
    pub paste_bar: WidgetId,
    /// Its "Send all" button.
    pub paste_send: WidgetId,
}

impl Ids {
    /// Fresh ids.
    pub fn new() -> Self {
        Self {
            compose: WidgetId::next(),
            send: WidgetId::next(),
            compose_bar: WidgetId::next(),
            compose_column: WidgetId::next(),
            compose_row: WidgetId::next(),
            conversation: WidgetId::next(),
            password: WidgetId::next(),
            middle: WidgetId::next(),
            room_panel: WidgetId::next(),
            room_list: WidgetId::next(),
            join_row: WidgetId::next(),
            join_field: WidgetId::next(),
            join_button: WidgetId::next(),
            topic: WidgetId::next(),
            users: WidgetId::next(),
            toolbar: WidgetId::next(),
            toolbar_wrap: WidgetId::next(),
            server_unit: WidgetId::next(),
            server: WidgetId::next(),
            name_unit: WidgetId::next(),
            name: WidgetId::next(),
            password_unit: WidgetId::next(),
            password_box: WidgetId::next(),
            connect_unit: WidgetId::next(),
            tls: WidgetId::next(),
            connect: WidgetId::next(),
            ca_unit: WidgetId::next(),
            ca_file: WidgetId::next(),
            ca_browse: WidgetId::next(),
            status_bar: WidgetId::next(),
            status_column: WidgetId::next(),
            status_row: WidgetId::next(),
            status_text: WidgetId::next(),
            status_lines: WidgetId::next(),
            paste_bar: WidgetId::next(),
            paste_send: WidgetId::next(),
        }
    }
}

impl Default for Ids {
    fn default() -> Self {
        Self::new()
    }
}

const BAR_INSETS: Insets = Insets::uniform_xy(12.0, 10.0);

/// The whole window.
pub fn build(ids: Ids) -> impl Widget<AppState> {
    let centre = Flex::column()
        .cross_axis_alignment(CrossAxisAlignment::Fill)
        .with_child(roomlist::topic_bar(ids))
        .with_child(separator())
        .with_flex_child(
            ConversationView::new()
                .with_id(ids.conversation)
                .lens(AppState::rooms.then(Shown))
                .controller(ConversationKeys {
                    view: ids.conversation,
                }),
            1.0,
        );
    let middle = Flex::row()
        .cross_axis_alignment(CrossAxisAlignment::Fill)
        .with_child(roomlist::panel(ids))
        .with_child(separator_vertical())
        .with_flex_child(centre, 1.0)
        .with_child(separator_vertical())
        .with_child(users_panel().with_id(ids.users))
        .with_id(ids.middle);
    Flex::column()
        .cross_axis_alignment(CrossAxisAlignment::Fill)
        .with_child(connection_bar(ids))
        .with_child(separator())
        .with_flex_child(middle, 1.0)
        .with_child(separator())
        .with_child(compose_bar(ids))
        .with_child(status_bar(ids))
        .background(theme::WINDOW_BG)
        .controller(WindowCommands)
}

/// What concerns the whole window: the conversation asked for older
/// messages (the reader scrolled to the top), a room row was clicked, or
/// Alt+↑ / Alt+↓ asks for the room above or below — wherever the focus is,
/// so this sits at the top and sees keys before the focused widget.
#[derive(Debug)]
pub struct WindowCommands;

impl<W: Widget<AppState>> Controller<AppState, W> for WindowCommands {
    fn event(
        &mut self,
        child: &mut W,
        ctx: &mut EventCtx,
        event: &Event,
        data: &mut AppState,
        env: &Env,
    ) {
        match event {
            Event::Command(cmd) if cmd.is(LOAD_OLDER) => {
                data.load_older(HISTORY_PAGE);
                ctx.set_handled();
                return;
            }
            Event::Command(cmd) => {
                if let Some(id) = cmd.get(SHOW_ROOM) {
                    data.show_room_id(*id);
                    ctx.set_handled();
                    return;
                }
                // The file chooser's answer ("…" beside the CA file field).
                if let Some(file) = cmd.get(druid::commands::OPEN_FILE) {
                    data.choose_ca_file(file.path());
                    ctx.set_handled();
                    return;
                }
            }
            Event::KeyDown(key) if key.mods.alt() && !key.mods.ctrl() => {
                let step = match key.key {
                    KbKey::ArrowUp => -1,
                    KbKey::ArrowDown => 1,
                    _ => 0,
                };
                if step != 0 {
                    data.show_neighbour(step);
                    ctx.set_handled();
                    return;
                }
            }
            _ => {}
        }
        child.event(ctx, event, data, env);
    }
}

fn separator() -> impl Widget<AppState> {
    SizedBox::empty()
        .expand_width()
        .height(1.0)
        .background(theme::BORDER)
}

fn separator_vertical() -> impl Widget<AppState> {
    SizedBox::empty()
        .expand_height()
        .width(1.0)
        .background(theme::BORDER)
}

fn caption(text: &str) -> Label<AppState> {
    Label::new(text)
        .with_text_color(theme::MUTED)
        .with_text_size(13.0)
}

/// The smallest window: the connection bar wraps onto four lines, the
/// room list, the conversation and the user list share what is left.
/// `tests::every_control_is_inside_the_smallest_window` holds it to that.
pub const MIN_WINDOW: (f64, f64) = (620.0, 440.0);

/// Server, name, password, TLS and Connect. Each caption stays with its
/// field, and the row wraps when the window is too narrow for all of it,
/// so every control keeps its size and stays on screen.
fn connection_bar(ids: Ids) -> impl Widget<AppState> {
    let server = TextBox::new()
        .with_placeholder("host:port")
        .lens(AppState::server)
        .controller(OnEnter(AppState::connect))
        .disabled_if(|d: &AppState, _| !d.fields_editable())
        .fix_width(190.0)
        .with_id(ids.server);
    let name = TextBox::new()
        .with_placeholder("your name")
        .lens(AppState::name)
        .controller(OnEnter(AppState::connect))
        .disabled_if(|d: &AppState, _| !d.fields_editable())
        .fix_width(130.0)
        .with_id(ids.name);
    let password = TextBox::new()
        .with_placeholder("room password")
        .lens(AppState::password)
        .controller(OnEnter(AppState::connect))
        .controller(FocusOn {
            selector: FOCUS_PASSWORD,
            counter: |d: &AppState| d.focus_password,
        })
        .with_id(ids.password)
        .disabled_if(|d: &AppState, _| !d.fields_editable())
        .fix_width(130.0)
        .with_id(ids.password_box);
    let tls = Checkbox::new("TLS")
        .lens(AppState::tls)
        .disabled_if(|d: &AppState, _| !d.fields_editable())
        .with_id(ids.tls);
    let button = Button::dynamic(|d: &AppState, _| {
        if d.conn.is_active() {
            "Disconnect".to_owned()
        } else {
            "Connect".to_owned()
        }
    })
    .on_click(|_, d: &mut AppState, _| d.toggle_connection())
    .fix_width(108.0)
    .with_id(ids.connect);
    let ca_file = TextBox::new()
        .with_placeholder("server's certificate (PEM)")
        .lens(AppState::ca_file)
        .controller(OnEnter(AppState::connect))
        .disabled_if(|d: &AppState, _| !d.fields_editable())
        .fix_width(170.0)
        .with_id(ids.ca_file);
    let browse = Button::new("…")
        .on_click(|ctx, _: &mut AppState, _| {
            let options = FileDialogOptions::new()
                .title("The server's certificate (PEM)")
                .button_text("Trust");
            ctx.submit_command(druid::commands::SHOW_OPEN_PANEL.with(options));
        })
        .disabled_if(|d: &AppState, _| !d.fields_editable())
        .fix_width(32.0)
        .with_id(ids.ca_browse);
    let ca_unit = Flex::row()
        .with_child(caption("CA file"))
        .with_spacer(8.0)
        .with_child(ca_file)
        .with_spacer(4.0)
        .with_child(browse)
        .with_id(ids.ca_unit);
    let unit = |label: &str, field: Box<dyn Widget<AppState>>, id: WidgetId| {
        Flex::row()
            .with_child(caption(label))
            .with_spacer(8.0)
            .with_child(field)
            .with_id(id)
    };
    Wrap::new(14.0, 8.0)
        .with_child(unit("Server", server.boxed(), ids.server_unit))
        .with_child(unit("Name", name.boxed(), ids.name_unit))
        .with_child(unit("Password", password.boxed(), ids.password_unit))
        .with_child(ca_unit)
        .with_child(
            // Together: the box is read as part of what Connect does.
            Flex::row()
                .with_child(tls)
                .with_spacer(14.0)
                .with_child(button)
                .with_id(ids.connect_unit),
        )
        .with_id(ids.toolbar_wrap)
        .padding(BAR_INSETS)
        .with_id(ids.toolbar)
}

fn users_panel() -> impl Widget<AppState> {
    let header = TextLine::new(|d: &AppState| format!("ONLINE — {}", d.rooms.shown().size()))
        .with_text_color(theme::MUTED)
        .with_text_size(12.0)
        .padding(Insets::new(14.0, 12.0, 14.0, 6.0));
    let list = Scroll::new(List::new(user_row))
        .vertical()
        .lens(AppState::rooms.then(Shown).then(Conversation::users));
    Flex::column()
        .cross_axis_alignment(CrossAxisAlignment::Fill)
        .with_child(header)
        .with_flex_child(list, 1.0)
        .fix_width(170.0)
        .background(theme::PANEL_BG)
}

fn user_row() -> impl Widget<String> {
    let dot = Painter::new(|ctx, name: &String, _| {
        let size = ctx.size();
        let r = size.width.min(size.height) / 2.0;
        ctx.fill(
            Circle::new((size.width / 2.0, size.height / 2.0), r),
            &theme::name_color(name),
        );
    })
    .fix_size(8.0, 8.0);
    let label = Label::new(|name: &String, _: &Env| name.clone())
        .controller(TextColour::new(|name: &String| theme::name_color(name)));
    Flex::row()
        .with_child(dot)
        .with_spacer(8.0)
        .with_flex_child(label, 1.0)
        .padding(Insets::uniform_xy(14.0, 3.0))
}

fn compose_bar(ids: Ids) -> impl Widget<AppState> {
    let compose = TextBox::new()
        .with_placeholder("Type a message, or /help")
        .with_text_size(14.0)
        .controller(CaretToEnd::default())
        .lens(AppState::compose)
        .controller(ComposeKeys)
        .with_id(ids.compose)
        .expand_width();
    let send = Button::new("Send")
        .on_click(|ctx, d: &mut AppState, _| {
            d.submit();
            ctx.submit_command(FOCUS_COMPOSE);
        })
        .disabled_if(|d: &AppState, _| !d.can_send())
        .fix_width(80.0)
        .with_id(ids.send);
    let row = Flex::row()
        .with_flex_child(compose, 1.0)
        .with_spacer(10.0)
        .with_child(send)
        .with_id(ids.compose_row);
    Flex::column()
        .cross_axis_alignment(CrossAxisAlignment::Fill)
        .with_child(paste_bar(ids))
        .with_child(row)
        .with_id(ids.compose_column)
        .padding(BAR_INSETS)
        .with_id(ids.compose_bar)
}

/// Shown while a paste of many lines waits: what it would send, and the
/// buttons (Enter and Escape in the compose box do the same).
fn paste_bar(ids: Ids) -> impl Widget<AppState> {
    let question = TextLine::new(|d: &AppState| {
        format!("{}  Enter sends, Escape cancels.", d.paste_question())
    })
    .with_text_size(13.0)
    .wrapped();
    let send = Button::new("Send all")
        .on_click(|_, d: &mut AppState, _| d.confirm_paste())
        .with_id(ids.paste_send);
    let cancel = Button::new("Cancel").on_click(|_, d: &mut AppState, _| d.cancel_paste());
    let bar = Flex::row()
        .with_flex_child(question, 1.0)
        .with_spacer(10.0)
        .with_child(send)
        .with_spacer(8.0)
        .with_child(cancel)
        .padding(Insets::new(0.0, 0.0, 0.0, 8.0));
    Either::new(
        |d: &AppState, _| !d.pending_paste.is_empty(),
        bar,
        SizedBox::empty(),
    )
    .with_id(ids.paste_bar)
}

/// The connection's state, wrapped onto more lines rather than cut (a
/// refusal ends with the hint saying what to do), with the line counter
/// kept at the right.
fn status_bar(ids: Ids) -> impl Widget<AppState> {
    let dot = Painter::new(|ctx, d: &AppState, _| {
        let size = ctx.size();
        let colour = match &d.conn {
            Conn::Connected { lag: None, .. } => theme::OK,
            Conn::Connected { .. } => theme::MENTION_BAR,
            Conn::Connecting { .. } => theme::MENTION_BAR,
            c if c.is_trouble() => theme::ERROR,
            _ => theme::MUTED,
        };
        ctx.fill(
            Circle::new((size.width / 2.0, size.height / 2.0), size.width / 2.0),
            &colour,
        );
    })
    .fix_size(8.0, 8.0);
    let text = Label::new(|d: &AppState, _: &Env| d.status_line())
        .with_text_size(12.5)
        .with_line_break_mode(druid::widget::LineBreaking::WordWrap)
        .controller(TextColour::new(status_colour));
    let lines = Label::new(|d: &AppState, _: &Env| {
        if d.log().is_empty() {
            String::new()
        } else {
            format!("{} lines", d.log().len())
        }
    })
    .with_text_size(12.0)
    .with_text_color(theme::MUTED)
    .with_id(ids.status_lines);
    let warning = Either::new(
        |d: &AppState, _| d.insecure_warning().is_some(),
        Label::new(|d: &AppState, _: &Env| d.insecure_warning().unwrap_or_default().to_owned())
            .with_text_size(12.5)
            .with_text_color(theme::ERROR)
            .with_line_break_mode(druid::widget::LineBreaking::WordWrap)
            .padding(Insets::new(0.0, 0.0, 0.0, 4.0)),
        SizedBox::empty(),
    );
    let loading = Label::new(|d: &AppState, _: &Env| {
        if d.loading_older() {
            "loading older messages…  ".to_owned()
        } else {
            String::new()
        }
    })
    .with_text_size(12.0)
    .with_text_color(theme::MUTED);
    Container::new(
        Flex::column()
            .cross_axis_alignment(CrossAxisAlignment::Fill)
            .with_child(warning)
            .with_child(
                Flex::row()
                    .cross_axis_alignment(CrossAxisAlignment::Start)
                    .with_child(dot.padding(Insets::new(0.0, 4.0, 0.0, 0.0)))
                    .with_spacer(8.0)
                    .with_flex_child(text.expand_width().with_id(ids.status_text), 1.0)
                    .with_spacer(8.0)
                    .with_child(loading)
                    .with_child(lines)
                    .with_id(ids.status_row),
            )
            .with_id(ids.status_column)
            .padding(Insets::uniform_xy(12.0, 5.0)),
    )
    .background(theme::PANEL_BG)
    .controller(Countdown::default())
    .with_id(ids.status_bar)
}

/// Ticks the "reconnecting in N s" countdown once a second.
#[derive(Debug, Default)]
struct Countdown {
    timer: Option<druid::TimerToken>,
}

impl<W: Widget<AppState>> Controller<AppState, W> for Countdown {
    fn event(
        &mut self,
        child: &mut W,
        ctx: &mut EventCtx,
        event: &Event,
        data: &mut AppState,
        env: &Env,
    ) {
        if let Event::Timer(token) = event {
            if Some(*token) == self.timer {
                self.timer = None;
                if data.tick(chat_core::protocol::now_millis()) {
                    self.timer = Some(ctx.request_timer(std::time::Duration::from_secs(1)));
                }
                ctx.set_handled();
                return;
            }
        }
        child.event(ctx, event, data, env);
    }

    fn update(
        &mut self,
        child: &mut W,
        ctx: &mut UpdateCtx,
        old: &AppState,
        data: &AppState,
        env: &Env,
    ) {
        let started = matches!(data.conn, Conn::Reconnecting { .. })
            && !matches!(old.conn, Conn::Reconnecting { .. });
        if started && self.timer.is_none() {
            self.timer = Some(ctx.request_timer(std::time::Duration::from_secs(1)));
        }
        child.update(ctx, old, data, env);
    }
}

/// Takes the keyboard focus when `counter` rises (after a wrong password).
struct FocusOn {
    selector: Selector,
    counter: fn(&AppState) -> u64,
}

impl<W: Widget<AppState>> Controller<AppState, W> for FocusOn {
    fn event(
        &mut self,
        child: &mut W,
        ctx: &mut EventCtx,
        event: &Event,
        data: &mut AppState,
        env: &Env,
    ) {
        if let Event::Command(cmd) = event {
            if cmd.is(self.selector) {
                ctx.request_focus();
                ctx.set_handled();
                return;
            }
        }
        child.event(ctx, event, data, env);
    }

    fn update(
        &mut self,
        child: &mut W,
        ctx: &mut UpdateCtx,
        old: &AppState,
        data: &AppState,
        env: &Env,
    ) {
        if (self.counter)(old) != (self.counter)(data) {
            ctx.submit_command(self.selector.to(ctx.widget_id()));
        }
        child.update(ctx, old, data, env);
    }
}

/// Enter in a one-line field does `action` (connect, join…) instead of
/// reaching the field.
pub(crate) struct OnEnter(pub(crate) fn(&mut AppState));

impl std::fmt::Debug for OnEnter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OnEnter")
    }
}

impl<W: Widget<AppState>> Controller<AppState, W> for OnEnter {
    fn event(
        &mut self,
        child: &mut W,
        ctx: &mut EventCtx,
        event: &Event,
        data: &mut AppState,
        env: &Env,
    ) {
        if let Event::KeyDown(key) = event {
            if key.key == KbKey::Enter {
                (self.0)(data);
                ctx.set_handled();
                return;
            }
        }
        child.event(ctx, event, data, env);
    }
}

/// Keeps a label's text colour in step with its data: a user's name in
/// their colour, the status line red when something is wrong. The colour is
/// recomputed on every update but set (and laid out) only when it changes.
struct TextColour<T> {
    colour: fn(&T) -> druid::Color,
    current: Option<druid::Color>,
}

impl<T> TextColour<T> {
    fn new(colour: fn(&T) -> druid::Color) -> Self {
        Self {
            colour,
            current: None,
        }
    }

    /// Sets the colour for `data`; whether it changed.
    fn apply(&mut self, child: &mut Label<T>, data: &T) -> bool {
        let colour = (self.colour)(data);
        if self.current.as_ref() == Some(&colour) {
            return false;
        }
        child.set_text_color(colour);
        self.current = Some(colour);
        true
    }
}

impl<T> std::fmt::Debug for TextColour<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextColour")
            .field("current", &self.current)
            .finish()
    }
}

impl<T: Data> Controller<T, Label<T>> for TextColour<T> {
    fn lifecycle(
        &mut self,
        child: &mut Label<T>,
        ctx: &mut LifeCycleCtx,
        event: &LifeCycle,
        data: &T,
        env: &Env,
    ) {
        if let LifeCycle::WidgetAdded = event {
            self.apply(child, data);
        }
        child.lifecycle(ctx, event, data, env);
    }

    fn update(&mut self, child: &mut Label<T>, ctx: &mut UpdateCtx, old: &T, data: &T, env: &Env) {
        if self.apply(child, data) {
            ctx.request_layout();
        }
        child.update(ctx, old, data, env);
    }
}

/// Red status text when something is wrong.
fn status_colour(d: &AppState) -> druid::Color {
    if d.conn.is_trouble() {
        theme::ERROR
    } else {
        theme::TEXT
    }
}

/// What the widget tests of this module and of `roomlist` share: a
/// harness over the whole window, and ways to change the data, press keys
/// and click as a user would.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::state::testing::{joined, recording_outbox, Sent};
    use druid::debug_state::DebugState;
    use druid::tests::harness::Harness;
    use druid::{
        Command, KeyEvent, Modifiers, MouseButton, MouseButtons, MouseEvent, Point, Rect,
        SingleUse, Size, Target, Vec2,
    };

    pub(crate) type Change = Box<dyn FnOnce(&mut AppState)>;

    /// Changes the data from a test, as the network side would.
    pub(crate) const APPLY: Selector<SingleUse<Change>> = Selector::new("chat-gui.test.apply");

    pub(crate) struct Apply;

    impl<W: Widget<AppState>> Controller<AppState, W> for Apply {
        fn event(
            &mut self,
            child: &mut W,
            ctx: &mut EventCtx,
            event: &Event,
            data: &mut AppState,
            env: &Env,
        ) {
            if let Event::Command(cmd) = event {
                if let Some(change) = cmd.get(APPLY).and_then(SingleUse::take) {
                    change(data);
                    ctx.set_handled();
                    return;
                }
            }
            child.event(ctx, event, data, env);
        }
    }

    pub(crate) fn apply(
        harness: &mut Harness<AppState>,
        change: impl FnOnce(&mut AppState) + 'static,
    ) {
        let change: Change = Box::new(change);
        harness.submit_command(Command::new(APPLY, SingleUse::new(change), Target::Global));
    }

    pub(crate) fn connect(harness: &mut Harness<AppState>, me: &str) -> Sent {
        let (outbox, sent) = recording_outbox();
        let me = me.to_owned();
        apply(harness, move |d| {
            d.connect();
            let generation = d.generation;
            d.apply(generation, joined(outbox, &me, &["bob"]));
        });
        sent
    }

    pub(crate) fn key(harness: &mut Harness<AppState>, mods: Modifiers, key: KbKey) {
        harness.event(Event::KeyDown(KeyEvent::for_test(mods, key)));
    }

    pub(crate) fn mouse(pos: Point, button: MouseButton) -> MouseEvent {
        MouseEvent {
            pos,
            window_pos: pos,
            buttons: MouseButtons::new().with(button),
            mods: Modifiers::empty(),
            count: 1,
            focus: false,
            button,
            wheel_delta: Vec2::ZERO,
        }
    }

    pub(crate) fn click(harness: &mut Harness<AppState>, pos: Point) {
        harness.event(Event::MouseMove(mouse(pos, MouseButton::None)));
        harness.event(Event::MouseDown(mouse(pos, MouseButton::Left)));
        let mut up = mouse(pos, MouseButton::Left);
        up.buttons = MouseButtons::new();
        harness.event(Event::MouseUp(up));
    }

    /// The centre of the Send button in window coordinates: the origins of
    /// every widget pod from the bottom bar down to the button.
    pub(crate) fn send_button_centre(harness: &mut Harness<AppState>, ids: Ids) -> Point {
        window_rect(
            harness,
            &[
                ids.compose_bar,
                ids.compose_column,
                ids.compose_row,
                ids.send,
            ],
        )
        .center()
    }

    /// Where the last widget of `path` is in the window: `path` names
    /// every widget pod from a child of the window's root down to it
    /// (each pod's origin is relative to its parent's).
    pub(crate) fn window_rect(harness: &mut Harness<AppState>, path: &[WidgetId]) -> Rect {
        let mut origin = Point::ORIGIN;
        for id in path {
            origin += harness.get_state(*id).layout_rect().origin().to_vec2();
        }
        let size = path
            .last()
            .map_or(Size::ZERO, |id| harness.get_state(*id).layout_rect().size());
        Rect::from_origin_size(origin, size)
    }

    pub(crate) fn find<'a>(state: &'a DebugState, name: &str) -> Option<&'a DebugState> {
        if state.display_name == name {
            return Some(state);
        }
        state.children.iter().find_map(|c| find(c, name))
    }

    pub(crate) fn view_state(harness: &mut Harness<AppState>, ids: Ids, key: &str) -> String {
        let state = harness.get_debug_state(ids.conversation);
        let view = find(&state, "ConversationView").expect("the view's debug state");
        view.other_values.get(key).cloned().unwrap_or_default()
    }

    pub(crate) fn harness(
        state: AppState,
        size: Size,
        test: impl FnMut(&mut Harness<AppState>, Ids),
    ) {
        let ids = Ids::new();
        let mut test = test;
        Harness::create_with_render(
            state,
            build(ids)
                .controller(Apply)
                .env_scope(|env, _| theme::configure(env)),
            size,
            |h| {
                h.send_initial_events();
                h.just_layout();
                test(h, ids);
            },
            |_| {},
        );
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;
    use crate::state::testing::{
        history_end, joined, recording_outbox_with_history, replayed, said,
    };
    use crate::view::{COPY, JUMP_TO_BOTTOM, SELECT_ALL};
    use chat_core::Input;
    use druid::tests::harness::Harness;
    use druid::{Modifiers, MouseButton, Point, Size, Vec2};

    #[test]
    fn connecting_focuses_compose_and_enter_sends_and_keeps_focus() {
        // Key events reach only the focused widget, so "Enter sent it" proves
        // where the focus is.
        let state = AppState::new("127.0.0.1:8001", "alice");
        harness(state, Size::new(800.0, 500.0), |h, _ids| {
            apply(h, |d| d.compose = "too early".into());
            key(h, Modifiers::empty(), KbKey::Enter);
            assert_eq!(h.data().compose, "too early", "nothing focused yet");
            let sent = connect(h, "alice");
            apply(h, |d| d.compose = "hello world".into());
            key(h, Modifiers::empty(), KbKey::Enter);
            assert_eq!(*sent.lock().unwrap(), [Input::Say("hello world".into())]);
            assert_eq!(h.data().compose, "");
            apply(h, |d| d.compose = "/me waves".into());
            key(h, Modifiers::empty(), KbKey::Enter);
            assert_eq!(
                sent.lock().unwrap().last(),
                Some(&Input::Me("waves".into())),
                "focus kept after sending"
            );
            // Enter on an empty box sends nothing.
            key(h, Modifiers::empty(), KbKey::Enter);
            assert_eq!(sent.lock().unwrap().len(), 2);
        });
    }

    #[test]
    fn send_button_is_enabled_only_when_connected_with_text() {
        harness(
            AppState::new("127.0.0.1:8001", "alice"),
            Size::new(800.0, 500.0),
            |h, ids| {
                let sent = connect(h, "alice");
                h.just_layout();
                let centre = send_button_centre(h, ids);
                apply(h, |d| d.compose = "via the button".into());
                click(h, centre);
                assert_eq!(
                    *sent.lock().unwrap(),
                    [Input::Say("via the button".into())],
                    "an enabled Send sends (and the click lands on it)"
                );
                assert_eq!(h.data().compose, "");
                apply(h, |d| d.compose = "by keyboard".into());
                key(h, Modifiers::empty(), KbKey::Enter);
                assert_eq!(
                    sent.lock().unwrap().last(),
                    Some(&Input::Say("by keyboard".into())),
                    "focus back in the box after clicking Send"
                );
                click(h, centre);
                assert_eq!(
                    sent.lock().unwrap().len(),
                    2,
                    "disabled while the box is empty"
                );
                apply(h, |d| {
                    d.compose = "typed".into();
                    d.disconnect();
                });
                click(h, centre);
                // disconnect() sent a quit; nothing else.
                assert_eq!(sent.lock().unwrap().last(), Some(&Input::Quit(None)));
                assert_eq!(sent.lock().unwrap().len(), 3, "disabled while disconnected");
                assert_eq!(h.data().compose, "typed");
            },
        );
    }

    #[test]
    fn conversation_follows_stays_put_and_counts_new_lines() {
        let state = AppState::new("127.0.0.1:8001", "alice");
        harness(state, Size::new(800.0, 400.0), |h, ids| {
            connect(h, "alice");
            apply(h, |d| {
                for i in 0..100 {
                    d.on_event(&said("bob", &format!("line {i}")));
                }
            });
            h.just_layout();
            assert_eq!(view_state(h, ids, "follow"), "true");
            let bottom: f64 = view_state(h, ids, "offset").parse().unwrap();
            assert!(bottom > 0.0, "100 lines overflow the view");
            // Scroll up with the wheel over the conversation.
            let mut wheel = mouse(Point::new(200.0, 150.0), MouseButton::None);
            wheel.wheel_delta = Vec2::new(0.0, -300.0);
            h.event(Event::Wheel(wheel));
            assert_eq!(view_state(h, ids, "follow"), "false");
            let up: f64 = view_state(h, ids, "offset").parse().unwrap();
            assert!((bottom - up - 300.0).abs() < 1.0);
            apply(h, |d| {
                for i in 0..3 {
                    d.on_event(&said("bob", &format!("new {i}")));
                }
            });
            h.just_layout();
            assert_eq!(
                view_state(h, ids, "offset").parse::<f64>().unwrap(),
                up,
                "stays put"
            );
            assert_eq!(view_state(h, ids, "unseen"), "3");
            h.paint();
            h.submit_command(JUMP_TO_BOTTOM.to(ids.conversation));
            assert_eq!(view_state(h, ids, "follow"), "true");
            assert_eq!(view_state(h, ids, "unseen"), "0");
            assert!(view_state(h, ids, "offset").parse::<f64>().unwrap() > bottom);
        });
    }

    #[test]
    fn scrollback_cap_applies_to_the_view() {
        let state = AppState::new("127.0.0.1:8001", "alice").with_scrollback(50);
        harness(state, Size::new(800.0, 400.0), |h, ids| {
            apply(h, |d| {
                for i in 0..500 {
                    d.on_event(&said("bob", &format!("line {i}")));
                }
            });
            h.just_layout();
            h.paint();
            assert_eq!(view_state(h, ids, "rows"), "50");
            assert_eq!(h.data().log().len(), 50);
        });
    }

    #[test]
    fn lines_can_be_selected_and_copied() {
        harness(
            AppState::new("127.0.0.1:8001", "alice"),
            Size::new(800.0, 400.0),
            |h, ids| {
                apply(h, |d| {
                    d.on_event(&said("bob", "first"));
                    d.on_event(&said("carol", "second"));
                });
                h.just_layout();
                h.submit_command(SELECT_ALL.to(ids.conversation));
                h.submit_command(COPY.to(ids.conversation));
                let copied = view_state(h, ids, "copied");
                let lines: Vec<&str> = copied.lines().collect();
                assert_eq!(lines.len(), 2);
                assert!(
                    lines[0].starts_with('[') && lines[0].ends_with("] <bob> first"),
                    "{copied}"
                );
                assert!(lines[1].ends_with("] <carol> second"), "{copied}");
            },
        );
    }

    /// Where `line` is on screen, if visible.
    fn screen_y(h: &mut Harness<AppState>, ids: Ids, line: &str) -> Option<f64> {
        view_state(h, ids, "visible").lines().find_map(|v| {
            let (y, text) = v.split_once('|')?;
            (text == line).then(|| y.parse().ok()).flatten()
        })
    }

    fn wheel(h: &mut Harness<AppState>, dy: f64) {
        let mut wheel = mouse(Point::new(200.0, 150.0), MouseButton::None);
        wheel.wheel_delta = Vec2::new(0.0, dy);
        h.event(Event::Wheel(wheel));
    }

    #[test]
    fn scrolling_to_the_top_asks_for_older_messages_and_keeps_the_view() {
        let state = AppState::new("127.0.0.1:8001", "alice");
        harness(state, Size::new(800.0, 400.0), |h, ids| {
            let (outbox, _sent, asked) = recording_outbox_with_history();
            apply(h, move |d| {
                d.connect();
                let generation = d.generation;
                d.apply(generation, joined(outbox, "alice", &["bob"]));
                for seq in 100..150 {
                    d.on_event(&replayed(seq, "bob", &format!("m{seq}")));
                }
            });
            h.just_layout();
            assert_eq!(view_state(h, ids, "follow"), "true");
            // Part of the way up: no request.
            wheel(h, -200.0);
            assert!(asked.lock().unwrap().is_empty());
            // All the way up: one request, for messages before the oldest.
            wheel(h, -100_000.0);
            assert_eq!(view_state(h, ids, "offset"), "0");
            assert_eq!(*asked.lock().unwrap(), [(Some(100), HISTORY_PAGE)]);
            assert!(h.data().loading_older());
            // Scrolling on at the top while it loads asks nothing more.
            wheel(h, -100.0);
            assert_eq!(asked.lock().unwrap().len(), 1);
            h.paint();
            let before = screen_y(h, ids, "<bob> m100").expect("m100 on screen");
            apply(h, |d| {
                for seq in 60..100 {
                    d.on_event(&replayed(seq, "carol", &format!("m{seq}")));
                }
                d.on_event(&history_end(40, true));
            });
            h.just_layout();
            h.paint();
            // The line that was being read has not moved; the older lines
            // are above it, out of sight until the reader scrolls up.
            assert_eq!(screen_y(h, ids, "<bob> m100"), Some(before));
            assert_eq!(screen_y(h, ids, "<carol> m60"), None);
            assert_eq!(view_state(h, ids, "follow"), "false");
            let offset: f64 = view_state(h, ids, "offset").parse().unwrap();
            assert!(offset > 0.0);
            // Up again: the next page, before the new oldest.
            wheel(h, -offset - 10.0);
            assert_eq!(
                asked.lock().unwrap().last(),
                Some(&(Some(60), HISTORY_PAGE))
            );
            apply(h, |d| d.on_event(&history_end(0, false)));
            h.just_layout();
            wheel(h, -100_000.0);
            assert_eq!(asked.lock().unwrap().len(), 2, "the beginning was reached");
            assert_eq!(view_state(h, ids, "rows"), h.data().log().len().to_string());
        });
    }
}
