//! The room side of the window: the room list (unread counts, mention
//! marks, the shown room highlighted, rooms left drawn muted) with the join
//! field under it, and the topic bar above the conversation.
//!
//! Rows are one small custom widget rather than a stack of labels: a row
//! is redrawn whenever a count changes, and painting two text layouts is
//! cheaper than re-laying out a flex of labels, pills and spacers.

use druid::kurbo::{Circle, RoundedRect};
use druid::piet::{FontStyle, FontWeight, Text, TextLayout, TextLayoutBuilder};
use druid::widget::prelude::*;
use druid::widget::{Button, CrossAxisAlignment, Flex, Label, List, Scroll, SizedBox, TextBox};
use druid::{lens, Color, Cursor, Insets, LensExt, Point, Rect, Selector, WidgetExt};

use crate::conversation::Conversation;
use crate::label::TextLine;
use crate::rooms::{RoomItem, Rooms, Shown};
use crate::state::AppState;
use crate::theme;
use crate::ui::{Ids, OnEnter};

/// Shows the conversation with this id (a click on its row).
pub const SHOW_ROOM: Selector<u64> = Selector::new("chat-gui.rooms.show");

/// The height of one row of the room list.
pub const ROW_HEIGHT: f64 = 30.0;
/// The height of the list's header ("ROOMS").
pub const HEADER_HEIGHT: f64 = 36.0;
/// The room list's width.
pub const PANEL_WIDTH: f64 = 176.0;
/// Space around the join field and button.
pub const JOIN_PAD: f64 = 10.0;

/// The room list, its header and the join field.
pub fn panel(ids: Ids) -> impl Widget<AppState> {
    let header = Label::new("ROOMS")
        .with_text_color(theme::MUTED)
        .with_text_size(12.0)
        .padding(Insets::new(14.0, 12.0, 14.0, 6.0))
        .fix_height(HEADER_HEIGHT);
    // Expanded, so the join field stays at the bottom of the panel.
    let list = Scroll::new(List::new(RoomRow::default))
        .vertical()
        .expand_height()
        .lens(AppState::rooms.then(lens::Map::new(
            Rooms::items,
            // The rows only read: a click is a command, handled at the top.
            |_: &mut Rooms, _| {},
        )))
        .with_id(ids.room_list);
    let field = TextBox::new()
        .with_placeholder("#room")
        .lens(AppState::join_field)
        .controller(OnEnter(AppState::submit_join))
        .with_id(ids.join_field)
        .expand_width();
    let button = Button::new("Join")
        .on_click(|_, d: &mut AppState, _| d.submit_join())
        .disabled_if(|d: &AppState, _| !d.can_join())
        .with_id(ids.join_button);
    let join = Flex::row()
        .with_flex_child(field, 1.0)
        .with_spacer(6.0)
        .with_child(button)
        .padding(JOIN_PAD)
        .with_id(ids.join_row);
    Flex::column()
        .cross_axis_alignment(CrossAxisAlignment::Fill)
        .with_child(header)
        .with_flex_child(list, 1.0)
        .with_child(
            SizedBox::empty()
                .expand_width()
                .height(1.0)
                .background(theme::BORDER),
        )
        .with_child(join)
        .fix_width(PANEL_WIDTH)
        .background(theme::PANEL_BG)
        .with_id(ids.room_panel)
}

/// The shown room's name and topic, above its conversation.
pub fn topic_bar(ids: Ids) -> impl Widget<AppState> {
    let name = TextLine::new(Conversation::title).with_font(
        druid::FontDescriptor::new(theme::text_family())
            .with_weight(FontWeight::SEMI_BOLD)
            .with_size(15.0),
    );
    let topic = TextLine::new(topic_text)
        .with_text_size(13.0)
        .with_text_color(theme::MUTED)
        .clipped();
    Flex::row()
        .with_child(name)
        .with_spacer(12.0)
        .with_flex_child(topic.expand_width(), 1.0)
        .padding(Insets::uniform_xy(14.0, 8.0))
        .fix_height(38.0)
        .lens(AppState::rooms.then(Shown))
        .background(theme::LOG_BG)
        .with_id(ids.topic)
}

/// What the topic bar says beside the room's name.
pub fn topic_text(c: &Conversation) -> String {
    match (&c.room, c.joined, &c.topic) {
        (None, _, _) => "not in a room yet".to_owned(),
        (Some(room), false, _) => {
            format!("you are not in this room: /join {room} (or Join at the left) to come back")
        }
        (Some(_), true, Some(topic)) => topic.to_string(),
        (Some(_), true, None) => "no topic — /topic TEXT sets one".to_owned(),
    }
}

/// One row of the room list: `# name`, the unread count in a pill, and an
/// amber `@` when a message there mentions this client.
#[derive(Debug, Default)]
pub struct RoomRow {
    /// Pressed and not yet released: a click needs both on the row.
    pressed: bool,
}

impl Widget<RoomItem> for RoomRow {
    fn event(&mut self, ctx: &mut EventCtx, event: &Event, data: &mut RoomItem, _env: &Env) {
        match event {
            Event::MouseDown(_) => {
                self.pressed = true;
                ctx.set_active(true);
                ctx.set_handled();
            }
            Event::MouseUp(mouse) if self.pressed => {
                self.pressed = false;
                ctx.set_active(false);
                if ctx.size().to_rect().contains(mouse.pos) {
                    ctx.submit_command(SHOW_ROOM.with(data.id));
                }
                ctx.set_handled();
            }
            Event::MouseMove(_) => ctx.set_cursor(&Cursor::Pointer),
            _ => {}
        }
    }

    fn lifecycle(
        &mut self,
        ctx: &mut LifeCycleCtx,
        event: &LifeCycle,
        _data: &RoomItem,
        _env: &Env,
    ) {
        if let LifeCycle::HotChanged(_) = event {
            ctx.request_paint();
        }
    }

    fn update(&mut self, ctx: &mut UpdateCtx, old: &RoomItem, data: &RoomItem, _env: &Env) {
        if old != data {
            ctx.request_paint();
        }
    }

    fn layout(
        &mut self,
        _ctx: &mut LayoutCtx,
        bc: &BoxConstraints,
        _data: &RoomItem,
        _env: &Env,
    ) -> Size {
        let width = if bc.max().width.is_finite() {
            bc.max().width
        } else {
            PANEL_WIDTH
        };
        bc.constrain(Size::new(width, ROW_HEIGHT))
    }

    fn paint(&mut self, ctx: &mut PaintCtx, data: &RoomItem, _env: &Env) {
        let size = ctx.size();
        let inset = Rect::new(6.0, 2.0, size.width - 6.0, size.height - 2.0);
        if data.shown {
            ctx.fill(RoundedRect::from_rect(inset, 6.0), &theme::ROOM_SHOWN);
        } else if ctx.is_hot() {
            ctx.fill(RoundedRect::from_rect(inset, 6.0), &theme::ROOM_HOT);
        }
        let mut right = size.width - 14.0;
        let mid = size.height / 2.0;
        if data.unread > 0 {
            let count = if data.unread > 99 {
                "99+".to_owned()
            } else {
                data.unread.to_string()
            };
            if let Ok(text) = ctx
                .text()
                .new_text_layout(count)
                .font(theme::text_family(), 11.5)
                .text_color(Color::WHITE)
                .default_attribute(FontWeight::BOLD)
                .build()
            {
                let ts = text.size();
                let w = (ts.width + 12.0).max(20.0);
                let pill = Rect::new(right - w, mid - 9.0, right, mid + 9.0);
                ctx.fill(RoundedRect::from_rect(pill, 9.0), &theme::ACCENT);
                ctx.draw_text(
                    &text,
                    Point::new(pill.x0 + (w - ts.width) / 2.0, mid - ts.height / 2.0),
                );
                right = pill.x0 - 5.0;
            }
        }
        if data.mentions > 0 {
            let centre = Point::new(right - 9.0, mid);
            ctx.fill(Circle::new(centre, 9.0), &theme::MENTION_BAR);
            if let Ok(text) = ctx
                .text()
                .new_text_layout("@")
                .font(theme::text_family(), 12.0)
                .text_color(theme::LOG_BG)
                .default_attribute(FontWeight::BOLD)
                .build()
            {
                let ts = text.size();
                ctx.draw_text(
                    &text,
                    Point::new(centre.x - ts.width / 2.0, mid - ts.height / 2.0),
                );
            }
            right -= 23.0;
        }
        let colour = match (data.joined, data.unread > 0 || data.shown) {
            (false, _) => theme::MUTED,
            (true, true) => theme::TEXT,
            (true, false) => theme::ROOM_READ,
        };
        let weight = if data.unread > 0 {
            FontWeight::BOLD
        } else {
            FontWeight::NORMAL
        };
        let mut builder = ctx
            .text()
            .new_text_layout(format!("# {}", data.name))
            .font(theme::text_family(), 14.0)
            .text_color(colour)
            .default_attribute(weight)
            .max_width((right - 18.0).max(20.0))
            .range_attribute(0..1, druid::piet::TextAttribute::TextColor(theme::MUTED));
        if !data.joined {
            builder = builder.default_attribute(FontStyle::Italic);
        }
        if let Ok(text) = builder.build() {
            let ts = text.size();
            ctx.with_save(|ctx| {
                ctx.clip(Rect::new(0.0, 0.0, right - 4.0, size.height));
                ctx.draw_text(&text, Point::new(18.0, mid - ts.height / 2.0));
            });
        }
    }

    fn debug_state(&self, data: &RoomItem) -> druid::debug_state::DebugState {
        let mut marks = Vec::new();
        if data.unread > 0 {
            marks.push(format!("{} unread", data.unread));
        }
        if data.mentions > 0 {
            marks.push("@".to_owned());
        }
        if data.shown {
            marks.push("shown".to_owned());
        }
        if !data.joined {
            marks.push("left".to_owned());
        }
        druid::debug_state::DebugState {
            display_name: "RoomRow".to_owned(),
            main_value: format!("#{} {}", data.name, marks.join(", "))
                .trim_end()
                .to_owned(),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use chat_core::Input;
    use druid::debug_state::DebugState;
    use druid::tests::harness::Harness;
    use druid::KbKey;
    use druid::{Modifiers, MouseButton, Size, Vec2};

    use super::*;
    use crate::state::testing::{
        joined_v2, recording_outbox_with_rooms, room_joined, said_in, Recorded,
    };
    use crate::ui::testing::{apply, click, harness, key, mouse, view_state};

    /// Connects as alice to a version-2 server (#lobby, with bob).
    fn connect(h: &mut Harness<AppState>) -> Recorded {
        let (outbox, record) = recording_outbox_with_rooms();
        apply(h, move |d| {
            d.connect();
            let generation = d.generation;
            d.apply(
                generation,
                joined_v2(outbox, "alice", &["bob"], Some("general chat")),
            );
        });
        record
    }

    /// Then joins #rust (with bob and carol), which is shown.
    fn join_rust(h: &mut Harness<AppState>) {
        apply(h, |d| {
            d.compose = "/join rust".into();
            d.submit();
            d.on_event(&room_joined(
                "rust",
                &["alice", "bob", "carol"],
                Some("all things Rust"),
            ));
        });
        h.just_layout();
    }

    fn values(state: &DebugState, out: &mut Vec<String>) {
        if !state.main_value.is_empty() {
            out.push(state.main_value.clone());
        }
        for child in &state.children {
            values(child, out);
        }
    }

    /// Every text a widget and those inside it show (their debug values).
    fn shown(h: &mut Harness<AppState>, id: WidgetId) -> Vec<String> {
        let mut out = Vec::new();
        values(&h.get_debug_state(id), &mut out);
        out
    }

    fn origin_of(h: &mut Harness<AppState>, ids: &[WidgetId]) -> Point {
        ids.iter().fold(Point::ORIGIN, |p, id| {
            p + h.get_state(*id).layout_rect().origin().to_vec2()
        })
    }

    /// The middle of row `row` of the room list, in window coordinates.
    fn row_centre(h: &mut Harness<AppState>, ids: Ids, row: usize) -> Point {
        origin_of(h, &[ids.middle, ids.room_panel, ids.room_list])
            + Vec2::new(PANEL_WIDTH / 2.0, (row as f64 + 0.5) * ROW_HEIGHT)
    }

    /// The middle of the Join button, and a point inside the join field.
    fn join_points(h: &mut Harness<AppState>, ids: Ids) -> (Point, Point) {
        let row = origin_of(h, &[ids.middle, ids.room_panel, ids.join_row])
            + Vec2::new(JOIN_PAD, JOIN_PAD);
        let button = h.get_state(ids.join_button).layout_rect();
        let centre = row + button.center().to_vec2();
        (centre, Point::new(row.x + 20.0, centre.y))
    }

    fn wheel(h: &mut Harness<AppState>, dy: f64) {
        let mut wheel = mouse(Point::new(400.0, 250.0), MouseButton::None);
        wheel.wheel_delta = Vec2::new(0.0, dy);
        h.event(Event::Wheel(wheel));
    }

    fn offset(h: &mut Harness<AppState>, ids: Ids) -> f64 {
        view_state(h, ids, "offset").parse().expect("an offset")
    }

    #[test]
    fn the_room_list_shows_unread_counts_and_mentions_and_a_click_shows_a_room() {
        let state = AppState::new("127.0.0.1:8001", "alice");
        harness(state, Size::new(1000.0, 600.0), |h, ids| {
            assert!(
                shown(h, ids.room_list).is_empty(),
                "no room before connecting"
            );
            assert!(shown(h, ids.topic)
                .iter()
                .any(|t| t.starts_with("not in a room")));
            let record = connect(h);
            join_rust(h);
            assert_eq!(shown(h, ids.room_list), ["#lobby", "#rust shown"]);
            assert!(shown(h, ids.topic).contains(&"#rust".to_owned()));
            assert!(shown(h, ids.topic).contains(&"all things Rust".to_owned()));
            assert!(shown(h, ids.users).contains(&"ONLINE — 3".to_owned()));
            apply(h, |d| {
                d.on_event(&said_in("lobby", 1, "bob", "hello"));
                d.on_event(&said_in("lobby", 2, "bob", "where is alice?"));
                d.on_event(&said_in("rust", 1, "carol", "in rust"));
            });
            assert_eq!(
                shown(h, ids.room_list),
                ["#lobby 2 unread, @", "#rust shown"]
            );
            // A click on the lobby's row shows it: its topic, its members,
            // nothing unread, and the compose box has the focus and talks
            // there.
            let lobby = row_centre(h, ids, 0);
            click(h, lobby);
            assert_eq!(shown(h, ids.room_list), ["#lobby shown", "#rust"]);
            assert!(shown(h, ids.topic).contains(&"general chat".to_owned()));
            assert!(shown(h, ids.users).contains(&"ONLINE — 2".to_owned()));
            apply(h, |d| d.compose = "hi lobby".into());
            key(h, Modifiers::empty(), KbKey::Enter);
            let record = record.lock().unwrap();
            assert_eq!(record.sent.last(), Some(&Input::Say("hi lobby".into())));
            assert_eq!(record.switched.last().map(String::as_str), Some("lobby"));
        });
    }

    #[test]
    fn switching_rooms_keeps_each_conversations_scroll_position() {
        let state = AppState::new("127.0.0.1:8001", "alice");
        harness(state, Size::new(1000.0, 500.0), |h, ids| {
            connect(h);
            join_rust(h);
            apply(h, |d| {
                for i in 0..100 {
                    d.on_event(&said_in("lobby", i + 1, "bob", &format!("lobby {i}")));
                    d.on_event(&said_in("rust", i + 1, "carol", &format!("rust {i}")));
                }
            });
            h.just_layout();
            let rust_id = view_state(h, ids, "conversation");
            // Alt+↑ shows the lobby, at its bottom.
            key(h, Modifiers::ALT, KbKey::ArrowUp);
            h.just_layout();
            let lobby_id = view_state(h, ids, "conversation");
            assert_ne!(lobby_id, rust_id);
            assert_eq!(view_state(h, ids, "follow"), "true");
            wheel(h, -300.0);
            let lobby_offset = offset(h, ids);
            assert_eq!(view_state(h, ids, "follow"), "false");
            // In #rust, read a little up too.
            key(h, Modifiers::ALT, KbKey::ArrowDown);
            h.just_layout();
            assert_eq!(view_state(h, ids, "conversation"), rust_id);
            assert_eq!(
                view_state(h, ids, "follow"),
                "true",
                "#rust was at its bottom"
            );
            wheel(h, -120.0);
            let rust_offset = offset(h, ids);
            apply(h, |d| {
                for i in 0..5 {
                    d.on_event(&said_in("lobby", 200 + i, "bob", &format!("new {i}")));
                }
            });
            assert_eq!(shown(h, ids.room_list), ["#lobby 5 unread", "#rust shown"]);
            // Back in the lobby: where the reader left it, with the new
            // lines counted below.
            key(h, Modifiers::ALT, KbKey::ArrowUp);
            h.just_layout();
            assert_eq!(view_state(h, ids, "conversation"), lobby_id);
            assert_eq!(offset(h, ids), lobby_offset);
            assert_eq!(view_state(h, ids, "follow"), "false");
            assert_eq!(view_state(h, ids, "unseen"), "5");
            assert_eq!(shown(h, ids.room_list), ["#lobby shown", "#rust"]);
            key(h, Modifiers::ALT, KbKey::ArrowDown);
            h.just_layout();
            assert_eq!(offset(h, ids), rust_offset);
        });
    }

    #[test]
    fn the_join_field_and_button_join_a_room() {
        let state = AppState::new("127.0.0.1:8001", "alice");
        harness(state, Size::new(1000.0, 600.0), |h, ids| {
            let record = connect(h);
            h.just_layout();
            let (button, field) = join_points(h, ids);
            click(h, button);
            assert_eq!(record.lock().unwrap().sent, [], "disabled while empty");
            apply(h, |d| d.join_field = "#rust".into());
            click(h, button);
            assert_eq!(record.lock().unwrap().sent, [Input::Join("rust".into())]);
            assert_eq!(h.data().join_field, "");
            apply(h, |d| d.on_event(&room_joined("rust", &["alice"], None)));
            assert_eq!(shown(h, ids.room_list), ["#lobby", "#rust shown"]);
            assert!(shown(h, ids.topic)
                .iter()
                .any(|t| t.starts_with("no topic")));
            // Enter in the field: a room already joined is only shown.
            click(h, field);
            apply(h, |d| d.join_field = "lobby".into());
            key(h, Modifiers::empty(), KbKey::Enter);
            assert_eq!(shown(h, ids.room_list), ["#lobby shown", "#rust"]);
            assert_eq!(record.lock().unwrap().sent.len(), 1);
            assert_eq!(h.data().join_field, "");
        });
    }
}
