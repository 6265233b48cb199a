//! The widget tree: connection bar on top, conversation and who-is-online in
//! the middle, compose box and status bar at the bottom; plus the
//! controllers that turn keys and clicks into [`AppState`] calls.

use druid::kurbo::Circle;
use druid::widget::prelude::*;
use druid::widget::{
    Button, Container, Controller, CrossAxisAlignment, Flex, Label, List, Painter, Scroll,
    SizedBox, TextBox,
};
use druid::{Insets, KbKey, Selector, WidgetExt, WidgetId};

use crate::state::{AppState, Conn};
use crate::theme;
use crate::view::ConversationView;

/// Gives the compose box the keyboard focus.
pub const FOCUS_COMPOSE: Selector = Selector::new("chat-gui.focus-compose");

/// Ids of the widgets tests and controllers address.
#[derive(Debug, Clone, Copy)]
pub struct Ids {
    /// The compose box.
    pub compose: WidgetId,
    /// The Send button.
    pub send: WidgetId,
    /// The bottom bar holding compose and Send.
    pub compose_bar: WidgetId,
    /// The row inside the bottom bar.
    pub compose_row: WidgetId,
    /// The conversation view.
    pub conversation: WidgetId,
}

impl Ids {
    /// Fresh ids.
    pub fn new() -> Self {
        Self {
            compose: WidgetId::next(),
            send: WidgetId::next(),
            compose_bar: WidgetId::next(),
            compose_row: WidgetId::next(),
            conversation: WidgetId::next(),
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
    let middle = Flex::row()
        .cross_axis_alignment(CrossAxisAlignment::Fill)
        .with_flex_child(
            ConversationView::new()
                .with_id(ids.conversation)
                .lens(AppState::log),
            1.0,
        )
        .with_child(separator_vertical())
        .with_child(users_panel());
    Flex::column()
        .cross_axis_alignment(CrossAxisAlignment::Fill)
        .with_child(connection_bar())
        .with_child(separator())
        .with_flex_child(middle, 1.0)
        .with_child(separator())
        .with_child(compose_bar(ids))
        .with_child(status_bar())
        .background(theme::WINDOW_BG)
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

fn connection_bar() -> impl Widget<AppState> {
    let server = TextBox::new()
        .with_placeholder("host:port")
        .lens(AppState::server)
        .controller(EnterConnects)
        .disabled_if(|d: &AppState, _| !d.fields_editable())
        .fix_width(190.0);
    let name = TextBox::new()
        .with_placeholder("your name")
        .lens(AppState::name)
        .controller(EnterConnects)
        .disabled_if(|d: &AppState, _| !d.fields_editable())
        .fix_width(150.0);
    let button = Button::dynamic(|d: &AppState, _| {
        if d.conn.is_active() {
            "Disconnect".to_owned()
        } else {
            "Connect".to_owned()
        }
    })
    .on_click(|_, d: &mut AppState, _| d.toggle_connection())
    .fix_width(108.0);
    Flex::row()
        .with_child(caption("Server"))
        .with_spacer(8.0)
        .with_child(server)
        .with_spacer(16.0)
        .with_child(caption("Name"))
        .with_spacer(8.0)
        .with_child(name)
        .with_spacer(16.0)
        .with_child(button)
        .with_flex_spacer(1.0)
        .padding(BAR_INSETS)
}

fn users_panel() -> impl Widget<AppState> {
    let header = Label::new(|d: &AppState, _: &Env| format!("ONLINE — {}", d.users.len()))
        .with_text_color(theme::MUTED)
        .with_text_size(12.0)
        .padding(Insets::new(14.0, 12.0, 14.0, 6.0));
    let list = Scroll::new(List::new(user_row))
        .vertical()
        .lens(AppState::users);
    Flex::column()
        .cross_axis_alignment(CrossAxisAlignment::Fill)
        .with_child(header)
        .with_flex_child(list, 1.0)
        .fix_width(180.0)
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
    let label = Label::new(|name: &String, _: &Env| name.clone()).controller(NameColour);
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
    Flex::row()
        .with_flex_child(compose, 1.0)
        .with_spacer(10.0)
        .with_child(send)
        .with_id(ids.compose_row)
        .padding(BAR_INSETS)
        .with_id(ids.compose_bar)
}

fn status_bar() -> impl Widget<AppState> {
    let dot = Painter::new(|ctx, d: &AppState, _| {
        let size = ctx.size();
        let colour = match &d.conn {
            Conn::Connected { .. } => theme::OK,
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
    let text = Label::new(|d: &AppState, _: &Env| d.conn.describe())
        .with_text_size(12.5)
        .controller(StatusColour);
    let lines = Label::new(|d: &AppState, _: &Env| {
        if d.log.is_empty() {
            String::new()
        } else {
            format!("{} lines", d.log.len())
        }
    })
    .with_text_size(12.0)
    .with_text_color(theme::MUTED);
    Container::new(
        Flex::row()
            .with_child(dot)
            .with_spacer(8.0)
            .with_flex_child(text, 1.0)
            .with_child(lines)
            .padding(Insets::uniform_xy(12.0, 5.0)),
    )
    .background(theme::PANEL_BG)
}

/// Enter sends; the box keeps (or, after connecting, takes) the focus.
#[derive(Debug)]
pub struct ComposeKeys;

impl<W: Widget<AppState>> Controller<AppState, W> for ComposeKeys {
    fn event(
        &mut self,
        child: &mut W,
        ctx: &mut EventCtx,
        event: &Event,
        data: &mut AppState,
        env: &Env,
    ) {
        match event {
            Event::KeyDown(key) if key.key == KbKey::Enter && !key.mods.shift() => {
                data.submit();
                ctx.set_handled();
                return;
            }
            Event::Command(cmd) if cmd.is(FOCUS_COMPOSE) => {
                ctx.request_focus();
                ctx.set_handled();
                return;
            }
            _ => {}
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
        if old.focus_compose != data.focus_compose {
            // Focus can only be requested while handling an event.
            ctx.submit_command(FOCUS_COMPOSE.to(ctx.widget_id()));
        }
        child.update(ctx, old, data, env);
    }
}

/// Enter in the server or name field connects.
#[derive(Debug)]
struct EnterConnects;

impl<W: Widget<AppState>> Controller<AppState, W> for EnterConnects {
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
                data.connect();
                ctx.set_handled();
                return;
            }
        }
        child.event(ctx, event, data, env);
    }
}

/// Colours a user's name like their messages.
#[derive(Debug)]
struct NameColour;

impl Controller<String, Label<String>> for NameColour {
    fn lifecycle(
        &mut self,
        child: &mut Label<String>,
        ctx: &mut LifeCycleCtx,
        event: &LifeCycle,
        data: &String,
        env: &Env,
    ) {
        if let LifeCycle::WidgetAdded = event {
            child.set_text_color(theme::name_color(data));
        }
        child.lifecycle(ctx, event, data, env);
    }

    fn update(
        &mut self,
        child: &mut Label<String>,
        ctx: &mut UpdateCtx,
        old: &String,
        data: &String,
        env: &Env,
    ) {
        if old != data {
            child.set_text_color(theme::name_color(data));
            ctx.request_layout();
        }
        child.update(ctx, old, data, env);
    }
}

/// Red status text when something is wrong.
#[derive(Debug)]
struct StatusColour;

impl StatusColour {
    fn colour(d: &AppState) -> druid::Color {
        if d.conn.is_trouble() {
            theme::ERROR
        } else {
            theme::TEXT
        }
    }
}

impl Controller<AppState, Label<AppState>> for StatusColour {
    fn lifecycle(
        &mut self,
        child: &mut Label<AppState>,
        ctx: &mut LifeCycleCtx,
        event: &LifeCycle,
        data: &AppState,
        env: &Env,
    ) {
        if let LifeCycle::WidgetAdded = event {
            child.set_text_color(Self::colour(data));
        }
        child.lifecycle(ctx, event, data, env);
    }

    fn update(
        &mut self,
        child: &mut Label<AppState>,
        ctx: &mut UpdateCtx,
        old: &AppState,
        data: &AppState,
        env: &Env,
    ) {
        if !old.conn.same(&data.conn) {
            child.set_text_color(Self::colour(data));
            ctx.request_layout();
        }
        child.update(ctx, old, data, env);
    }
}
