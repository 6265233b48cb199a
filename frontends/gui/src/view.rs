//! The conversation view: a custom widget that draws only the visible lines
//! of the log (so 5,000 lines and 1,000 new ones a second stay cheap),
//! follows new lines while at the bottom, stays put when scrolled up and
//! shows how many new lines wait below, and lets lines be selected and copied.
//!
//! Replayed history is drawn muted below a centred separator. Scrolling to
//! the top asks for older messages ([`LOAD_OLDER`]); when they are inserted
//! above, the lines being read keep their place on screen.
//!
//! Text selection is by whole lines (click, shift-click, drag; Ctrl+A), with
//! Ctrl+C or the right-click menu copying `[HH:MM] <alice> hello` lines:
//! druid 0.8 has no selectable rich label, and a read-only `TextBox` holding
//! the whole log would lay out all 5,000 lines on every new one.

use std::collections::{HashMap, HashSet, VecDeque};

use druid::kurbo::{Line, RoundedRect};
use druid::piet::{
    FontStyle, FontWeight, PietTextLayout, Text, TextAttribute, TextLayout, TextLayoutBuilder,
};
use druid::widget::prelude::*;
use druid::{
    Application, Color, Cursor, KbKey, Menu, MenuItem, MouseButton, Point, Rect, Selector, Vec2,
};

use crate::conversation::Conversation;
use crate::log::{ChatLine, Kind, Log};
use crate::state::AppState;
use crate::theme;
use crate::viewport::Viewport;

/// Copies the selected lines.
pub const COPY: Selector = Selector::new("chat-gui.view.copy");
/// Copies every line.
pub const COPY_ALL: Selector = Selector::new("chat-gui.view.copy-all");
/// Selects every line.
pub const SELECT_ALL: Selector = Selector::new("chat-gui.view.select-all");
/// Scrolls to the newest line and follows again.
pub const JUMP_TO_BOTTOM: Selector = Selector::new("chat-gui.view.jump-to-bottom");
/// Sent by the view when the reader scrolled to the top: older messages,
/// please. Handled where the app's state is (`ui::LoadOlder`).
pub const LOAD_OLDER: Selector = Selector::new("chat-gui.view.load-older");

const PAD_X: f64 = 12.0;
const PAD_Y: f64 = 3.0;
const TIME_COL: f64 = 52.0;
const SCROLLBAR: f64 = 10.0;
const BODY_SIZE: f64 = 14.0;
const TIME_SIZE: f64 = 12.0;
const LINE_STEP: f64 = 40.0;

/// One laid-out line.
struct Row {
    line: ChatLine,
    /// Top in "absolute" content coordinates: rows trimmed from the front
    /// keep the others' tops valid (the view subtracts `base`).
    top: f64,
    height: f64,
    time: Option<PietTextLayout>,
    body: Option<PietTextLayout>,
}

/// What the view keeps for a conversation that is not shown: its laid-out
/// lines and where the reader was, so showing it again puts the reader back
/// where they were without laying anything out again.
#[derive(Default)]
struct Pane {
    rows: VecDeque<Row>,
    base: f64,
    end: f64,
    text_width: f64,
    edits: u64,
    view: Viewport,
    selection: Option<(u64, u64)>,
}

/// The conversation widget, over the shown room's [`Conversation`]. The
/// fields below describe the shown conversation; the others wait in
/// `panes`.
#[derive(Default)]
pub struct ConversationView {
    /// The id of the conversation the fields describe.
    shown: Option<u64>,
    /// The other conversations', by id.
    panes: HashMap<u64, Pane>,
    rows: VecDeque<Row>,
    /// Absolute top of the first row.
    base: f64,
    /// Absolute bottom of the last row.
    end: f64,
    /// Text width the rows were laid out for.
    text_width: f64,
    /// The log's edit count the rows match.
    edits: u64,
    view: Viewport,
    /// Selected lines, by id: where the selection started and where it ends.
    selection: Option<(u64, u64)>,
    drag: Drag,
    pill: Option<Rect>,
    size: Size,
    /// What the last copy put on the clipboard (shown in the debug state).
    copied: Option<String>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq)]
enum Drag {
    #[default]
    None,
    Select,
    Thumb {
        grab: f64,
    },
}

impl std::fmt::Debug for ConversationView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConversationView")
            .field("rows", &self.rows.len())
            .field("view", &self.view)
            .field("selection", &self.selection)
            .finish_non_exhaustive()
    }
}

impl ConversationView {
    /// An empty view.
    pub fn new() -> Self {
        Self::default()
    }

    fn content(&self) -> f64 {
        self.end - self.base
    }

    /// Puts the shown conversation's rows and viewport aside and takes out
    /// those of conversation `id` (fresh ones the first time: they are laid
    /// out and start at the bottom).
    fn show(&mut self, id: u64) {
        if self.shown == Some(id) {
            return;
        }
        let height = self.view.height;
        let current = Pane {
            rows: std::mem::take(&mut self.rows),
            base: self.base,
            end: self.end,
            text_width: self.text_width,
            edits: self.edits,
            view: std::mem::take(&mut self.view),
            selection: self.selection.take(),
        };
        if let Some(old) = self.shown.replace(id) {
            self.panes.insert(old, current);
        }
        let next = self.panes.remove(&id).unwrap_or_default();
        self.rows = next.rows;
        self.base = next.base;
        self.end = next.end;
        self.text_width = next.text_width;
        self.edits = next.edits;
        self.view = next.view;
        // The window may have been resized meanwhile; layout corrects the
        // rest.
        self.view.height = height;
        self.selection = next.selection;
        self.drag = Drag::None;
        self.pill = None;
    }

    fn layout_row(text: &mut druid::piet::PietText, line: &ChatLine, width: f64) -> Row {
        let time = text
            .new_text_layout(line.time.to_string())
            .font(theme::text_family(), TIME_SIZE)
            .text_color(if line.history {
                theme::HISTORY_TIME
            } else {
                theme::MUTED
            })
            .build()
            .ok();
        let (body_text, spans) = body_spans(line);
        let base_color = match line.kind {
            _ if line.history => theme::HISTORY,
            Kind::Message | Kind::Action => theme::TEXT,
            Kind::Private => theme::PRIVATE,
            Kind::Notice | Kind::Status | Kind::Marker | Kind::Help => theme::MUTED,
            Kind::Error => theme::ERROR,
        };
        let size = if line.kind == Kind::Marker {
            TIME_SIZE
        } else {
            BODY_SIZE
        };
        let family = if line.kind == Kind::Help {
            theme::mono_family()
        } else {
            theme::text_family()
        };
        let mut builder = text
            .new_text_layout(body_text)
            .font(family, size)
            .text_color(base_color)
            .max_width(width.max(40.0));
        if line.kind == Kind::Marker {
            builder = builder.alignment(druid::piet::TextAlignment::Center);
        }
        if matches!(line.kind, Kind::Action | Kind::Notice | Kind::Status) {
            builder = builder.default_attribute(FontStyle::Italic);
        }
        for (range, name) in spans {
            let colour = theme::name_color(&name);
            let colour = if line.history {
                colour.with_alpha(0.6)
            } else {
                colour
            };
            builder = builder
                .range_attribute(range.clone(), TextAttribute::TextColor(colour))
                .range_attribute(range, TextAttribute::Weight(FontWeight::SEMI_BOLD));
        }
        let body = builder.build().ok();
        let body_height = body.as_ref().map_or(18.0, |b| b.size().height);
        Row {
            line: line.clone(),
            top: 0.0,
            height: body_height + 2.0 * PAD_Y,
            time,
            body,
        }
    }

    fn append(&mut self, text: &mut druid::piet::PietText, line: &ChatLine) {
        let mut row = Self::layout_row(text, line, self.text_width);
        row.top = self.end;
        self.end += row.height;
        self.rows.push_back(row);
    }

    /// Brings the rows in line with `log`: drops trimmed ones, lays out new
    /// ones, and re-lays out everything when the width changed.
    fn sync(&mut self, text: &mut druid::piet::PietText, log: &Log, width: f64) {
        let lines = log.lines();
        if (width - self.text_width).abs() > 0.5 {
            // Keep the top visible line in place across the re-layout.
            let anchor = (!self.view.follow)
                .then(|| self.row_at(self.view.offset))
                .flatten()
                .map(|i| {
                    let row = &self.rows[i];
                    (row.line.id, self.view.offset - (row.top - self.base))
                });
            self.text_width = width;
            self.edits = log.edits();
            self.rows.clear();
            self.base = 0.0;
            self.end = 0.0;
            for line in lines.iter() {
                self.append(text, line);
            }
            if let Some((id, within)) = anchor {
                if let Some(row) = self.rows.iter().find(|r| r.line.id == id) {
                    self.view.offset = row.top - self.base + within;
                }
            }
            let content = self.content();
            self.view.resized(self.view.height, content);
            return;
        }
        if log.edits() != self.edits {
            self.resync(text, log);
            return;
        }
        // Only appends at the end and trims at the front since last time:
        // the rows still held are a prefix of the lines.
        let first_id = lines.front().map(|l| l.id);
        let old_base = self.base;
        while self
            .rows
            .front()
            .is_some_and(|r| Some(r.line.id) != first_id)
        {
            self.rows.pop_front();
            self.base = self.rows.front().map_or(self.end, |r| r.top);
        }
        if self.base > old_base {
            let content = self.content();
            self.view.trimmed(self.base - old_base, content);
        }
        self.forget_lost_selection();
        let start = self.rows.len();
        let mut added = 0;
        for line in lines.iter().skip(start) {
            self.append(text, line);
            added += 1;
        }
        if added > 0 {
            let content = self.content();
            self.view.appended(added, content);
        }
    }

    /// Re-syncs after lines were inserted or removed anywhere: keeps the
    /// layouts of the lines still there, lays out the new ones, and keeps
    /// what the reader is looking at in place. When older lines were
    /// inserted inside or above the view, the first line after them stays
    /// where it was and what is above scrolls up out of sight.
    fn resync(&mut self, text: &mut druid::piet::PietText, log: &Log) {
        self.edits = log.edits();
        let offset = self.view.offset;
        let height = self.view.height;
        let old_top = |r: &Row| r.top - self.base;
        // Where each old row was on screen, for the anchor below.
        let old_screen: HashMap<u64, f64> = self
            .rows
            .iter()
            .map(|r| (r.line.id, old_top(r) - offset))
            .collect();
        let top_id = self.row_at(offset).map(|i| self.rows[i].line.id);
        let mut old: HashMap<u64, Row> = self.rows.drain(..).map(|r| (r.line.id, r)).collect();
        self.base = 0.0;
        self.end = 0.0;
        let mut inserted: Option<usize> = None;
        for (i, line) in log.lines().iter().enumerate() {
            let mut row = match old.remove(&line.id) {
                Some(row) => row,
                None => {
                    inserted.get_or_insert(i);
                    Self::layout_row(text, line, self.text_width)
                }
            };
            row.top = self.end;
            self.end += row.height;
            self.rows.push_back(row);
        }
        self.forget_lost_selection();
        let content = self.content();
        if self.view.follow {
            self.view.resized(height, content);
            return;
        }
        let top_index = top_id.and_then(|id| self.rows.iter().position(|r| r.line.id == id));
        let anchor = match (inserted, top_index) {
            // The insertion is at or below the top of the view: if it is
            // on screen, the first old line after it keeps its place.
            (Some(ins), Some(top)) if top < ins => {
                let ins_screen = self.rows[ins].top - offset;
                if ins_screen <= height {
                    self.rows
                        .iter()
                        .skip(ins)
                        .find(|r| old_screen.contains_key(&r.line.id))
                        .map(|r| r.line.id)
                } else {
                    top_id
                }
            }
            _ => top_id,
        };
        if let Some((row, screen)) = anchor.and_then(|id| {
            let row = self.rows.iter().find(|r| r.line.id == id)?;
            Some((row, *old_screen.get(&id)?))
        }) {
            self.view.offset = row.top - screen;
        }
        self.view.resized(height, content);
    }

    /// Clears the selection when a line it names is gone.
    fn forget_lost_selection(&mut self) {
        if let Some((a, b)) = self.selection {
            let ids: HashSet<u64> = self.rows.iter().map(|r| r.line.id).collect();
            if !ids.contains(&a) || !ids.contains(&b) {
                self.selection = None;
            }
        }
    }

    /// The selected rows as an index range.
    fn selected_rows(&self) -> Option<(usize, usize)> {
        let (a, b) = self.selection?;
        let ia = self.rows.iter().position(|r| r.line.id == a)?;
        let ib = self.rows.iter().position(|r| r.line.id == b)?;
        Some((ia.min(ib), ia.max(ib)))
    }

    /// After a scroll the reader asked for: at the top, ask for older lines.
    fn scrolled(&self, ctx: &mut EventCtx) {
        if self.view.offset <= 0.5 {
            ctx.submit_command(LOAD_OLDER);
        }
    }

    /// The index of the row at content y `y`.
    fn row_at(&self, y: f64) -> Option<usize> {
        if self.rows.is_empty() {
            return None;
        }
        let abs = y + self.base;
        let i = self.rows.partition_point(|r| r.top + r.height <= abs);
        Some(i.min(self.rows.len() - 1))
    }

    fn selected_text(&self, all: bool) -> String {
        let (lo, hi) = match (all, self.selected_rows()) {
            (true, _) => (0, usize::MAX),
            (false, Some(range)) => range,
            (false, None) => return String::new(),
        };
        self.rows
            .iter()
            .enumerate()
            .filter(|(i, _)| (lo..=hi).contains(i))
            .map(|(_, r)| r.line.copy_text())
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn copy(&mut self, all: bool) {
        let text = self.selected_text(all);
        if text.is_empty() {
            return;
        }
        // There is no application in widget tests; the copy is still
        // recorded for them.
        if let Some(app) = Application::try_global() {
            app.clipboard().put_string(&text);
        }
        self.copied = Some(text);
    }

    fn thumb(&self) -> Option<Rect> {
        let content = self.content();
        let h = self.size.height;
        if content <= h + 0.5 {
            return None;
        }
        let thumb_h = (h * h / content).max(28.0).min(h);
        let max = content - h;
        let y = self.view.offset / max * (h - thumb_h);
        let x = self.size.width - SCROLLBAR + 2.0;
        Some(Rect::new(x, y, x + SCROLLBAR - 4.0, y + thumb_h))
    }

    fn thumb_drag_to(&mut self, y: f64, grab: f64) {
        let content = self.content();
        let h = self.size.height;
        if let Some(thumb) = self.thumb() {
            let travel = (h - thumb.height()).max(1.0);
            let offset = (y - grab) / travel * (content - h);
            self.view.scroll_to(offset, content);
        }
    }

    fn context_menu(id: WidgetId) -> Menu<AppState> {
        Menu::empty()
            .entry(MenuItem::new("Copy").command(COPY.to(id)))
            .entry(MenuItem::new("Copy all").command(COPY_ALL.to(id)))
            .entry(MenuItem::new("Select all").command(SELECT_ALL.to(id)))
    }
}

/// The body text of a line and which ranges are names (coloured per name).
fn body_spans(line: &ChatLine) -> (String, Vec<(std::ops::Range<usize>, String)>) {
    let from = line.from.as_deref().unwrap_or("?");
    match line.kind {
        Kind::Message => {
            let text = format!("{from}  {}", line.text);
            (text, vec![(0..from.len(), from.to_owned())])
        }
        Kind::Action => {
            let text = format!("* {from} {}", line.text);
            (text, vec![(2..2 + from.len(), from.to_owned())])
        }
        Kind::Private => {
            let to = line.to.as_deref().unwrap_or("?");
            let text = format!("{from} → {to}  {}", line.text);
            let to_start = from.len() + " → ".len();
            (
                text,
                vec![
                    (0..from.len(), from.to_owned()),
                    (to_start..to_start + to.len(), to.to_owned()),
                ],
            )
        }
        Kind::Error => (format!("! {}", line.text), Vec::new()),
        Kind::Notice | Kind::Status | Kind::Marker | Kind::Help => {
            (line.text.to_string(), Vec::new())
        }
    }
}

impl Widget<Conversation> for ConversationView {
    fn event(&mut self, ctx: &mut EventCtx, event: &Event, _data: &mut Conversation, _env: &Env) {
        let content = self.content();
        match event {
            Event::Wheel(mouse) => {
                self.view.scroll_by(mouse.wheel_delta.y, content);
                if mouse.wheel_delta.y < 0.0 {
                    self.scrolled(ctx);
                }
                ctx.request_paint();
                ctx.set_handled();
            }
            Event::MouseDown(mouse) => {
                if self.pill.is_some_and(|p| p.contains(mouse.pos)) {
                    self.view.jump_to_bottom(content);
                    ctx.request_paint();
                    ctx.set_handled();
                    return;
                }
                if mouse.pos.x >= self.size.width - SCROLLBAR {
                    if let Some(thumb) = self.thumb() {
                        let grab = if thumb.contains(mouse.pos) {
                            mouse.pos.y - thumb.y0
                        } else {
                            thumb.height() / 2.0
                        };
                        self.drag = Drag::Thumb { grab };
                        self.thumb_drag_to(mouse.pos.y, grab);
                        ctx.set_active(true);
                        ctx.request_paint();
                    }
                    ctx.set_handled();
                    return;
                }
                ctx.request_focus();
                if mouse.button == MouseButton::Right {
                    ctx.show_context_menu(Self::context_menu(ctx.widget_id()), mouse.window_pos);
                    ctx.set_handled();
                    return;
                }
                if let Some(i) = self.row_at(mouse.pos.y + self.view.offset) {
                    let id = self.rows[i].line.id;
                    self.selection = match self.selection {
                        Some((start, _)) if mouse.mods.shift() => Some((start, id)),
                        _ => Some((id, id)),
                    };
                    self.drag = Drag::Select;
                    ctx.set_active(true);
                    ctx.request_paint();
                }
                ctx.set_handled();
            }
            Event::MouseMove(mouse) => {
                match self.drag {
                    Drag::Select if ctx.is_active() => {
                        if let (Some(i), Some((start, _))) =
                            (self.row_at(mouse.pos.y + self.view.offset), self.selection)
                        {
                            self.selection = Some((start, self.rows[i].line.id));
                            ctx.request_paint();
                        }
                    }
                    Drag::Thumb { grab } if ctx.is_active() => {
                        let before = self.view.offset;
                        self.thumb_drag_to(mouse.pos.y, grab);
                        if self.view.offset < before {
                            self.scrolled(ctx);
                        }
                        ctx.request_paint();
                    }
                    _ => {}
                }
                if self.pill.is_some_and(|p| p.contains(mouse.pos)) {
                    ctx.set_cursor(&Cursor::Pointer);
                } else {
                    ctx.clear_cursor();
                }
            }
            Event::MouseUp(_) => {
                if ctx.is_active() {
                    ctx.set_active(false);
                }
                self.drag = Drag::None;
            }
            Event::KeyDown(key) if ctx.is_focused() => {
                let page = (self.view.height - LINE_STEP).max(LINE_STEP);
                let command = key.mods.ctrl() || key.mods.meta();
                match &key.key {
                    KbKey::Character(c) if command && c.eq_ignore_ascii_case("c") => {
                        self.copy(false)
                    }
                    KbKey::Character(c) if command && c.eq_ignore_ascii_case("a") => {
                        self.selection = self
                            .rows
                            .front()
                            .zip(self.rows.back())
                            .map(|(a, b)| (a.line.id, b.line.id));
                    }
                    KbKey::Escape => self.selection = None,
                    KbKey::PageUp => {
                        self.view.scroll_by(-page, content);
                        self.scrolled(ctx);
                    }
                    KbKey::PageDown => self.view.scroll_by(page, content),
                    KbKey::ArrowUp => {
                        self.view.scroll_by(-LINE_STEP, content);
                        self.scrolled(ctx);
                    }
                    KbKey::ArrowDown => self.view.scroll_by(LINE_STEP, content),
                    KbKey::Home => {
                        self.view.scroll_to(0.0, content);
                        self.scrolled(ctx);
                    }
                    KbKey::End => self.view.jump_to_bottom(content),
                    _ => return,
                }
                ctx.request_paint();
                ctx.set_handled();
            }
            Event::Command(cmd) => {
                if cmd.is(COPY) {
                    self.copy(false);
                } else if cmd.is(COPY_ALL) {
                    self.copy(true);
                } else if cmd.is(SELECT_ALL) {
                    self.selection = self
                        .rows
                        .front()
                        .zip(self.rows.back())
                        .map(|(a, b)| (a.line.id, b.line.id));
                } else if cmd.is(JUMP_TO_BOTTOM) {
                    self.view.jump_to_bottom(content);
                } else {
                    return;
                }
                ctx.request_paint();
                ctx.set_handled();
            }
            _ => {}
        }
    }

    fn lifecycle(
        &mut self,
        ctx: &mut LifeCycleCtx,
        event: &LifeCycle,
        data: &Conversation,
        _env: &Env,
    ) {
        match event {
            LifeCycle::WidgetAdded => self.show(data.id),
            LifeCycle::FocusChanged(_) => ctx.request_paint(),
            _ => {}
        }
    }

    fn update(&mut self, ctx: &mut UpdateCtx, old: &Conversation, data: &Conversation, _env: &Env) {
        if old.id != data.id {
            self.show(data.id);
            ctx.request_layout();
        } else if !old.log.same(&data.log) {
            ctx.request_layout();
        }
    }

    fn layout(
        &mut self,
        ctx: &mut LayoutCtx,
        bc: &BoxConstraints,
        data: &Conversation,
        _env: &Env,
    ) -> Size {
        self.show(data.id);
        let max = bc.max();
        let size = Size::new(
            if max.width.is_finite() {
                max.width
            } else {
                480.0
            },
            if max.height.is_finite() {
                max.height
            } else {
                320.0
            },
        );
        self.size = size;
        let width = size.width - 2.0 * PAD_X - TIME_COL - SCROLLBAR;
        self.sync(ctx.text(), &data.log, width);
        let content = self.content();
        self.view.resized(size.height, content);
        size
    }

    fn paint(&mut self, ctx: &mut PaintCtx, _data: &Conversation, _env: &Env) {
        let size = self.size;
        let bounds = size.to_rect();
        ctx.fill(bounds, &theme::LOG_BG);
        let offset = self.view.offset;
        let (lo, hi) = self.selected_rows().unwrap_or((1, 0));
        let focused = ctx.is_focused();
        let first = self.row_at(offset).unwrap_or(0);
        let rows_width = size.width - SCROLLBAR;
        ctx.with_save(|ctx| {
            ctx.clip(bounds);
            for (index, row) in self.rows.iter().enumerate().skip(first) {
                let y = row.top - self.base - offset;
                if y > size.height {
                    break;
                }
                let rect = Rect::new(0.0, y, rows_width, y + row.height);
                if (lo..=hi).contains(&index) {
                    let color = if focused {
                        theme::SELECTION
                    } else {
                        theme::SELECTION_UNFOCUSED
                    };
                    ctx.fill(rect, &color);
                } else if row.line.mention {
                    ctx.fill(rect, &theme::MENTION_BG);
                } else if row.line.own {
                    ctx.fill(rect, &theme::OWN_BG);
                }
                if row.line.mention {
                    ctx.fill(Rect::new(0.0, y, 3.0, y + row.height), &theme::MENTION_BAR);
                }
                if let Some(time) = &row.time {
                    // Align the smaller clock with the body's first baseline.
                    let body_base = row
                        .body
                        .as_ref()
                        .and_then(|b| b.line_metric(0))
                        .map_or(14.0, |m| m.baseline);
                    let time_base = time.line_metric(0).map_or(12.0, |m| m.baseline);
                    ctx.draw_text(time, Point::new(PAD_X, y + PAD_Y + body_base - time_base));
                }
                if let Some(body) = &row.body {
                    ctx.draw_text(body, Point::new(PAD_X + TIME_COL, y + PAD_Y));
                }
            }
            if let Some(thumb) = self.thumb() {
                let track = Line::new(
                    (size.width - SCROLLBAR / 2.0, 0.0),
                    (size.width - SCROLLBAR / 2.0, size.height),
                );
                ctx.stroke(track, &theme::SCROLL_TRACK, 1.0);
                ctx.fill(RoundedRect::from_rect(thumb, 3.0), &theme::SCROLL_THUMB);
            }
            self.pill = None;
            if !self.view.follow && self.view.unseen > 0 {
                let n = self.view.unseen;
                let label = format!("{n} new message{} below  ↓", if n == 1 { "" } else { "s" });
                if let Ok(text) = ctx
                    .text()
                    .new_text_layout(label)
                    .font(theme::text_family(), 13.0)
                    .text_color(Color::WHITE)
                    .default_attribute(FontWeight::SEMI_BOLD)
                    .build()
                {
                    let ts = text.size();
                    let w = ts.width + 28.0;
                    let h = ts.height + 12.0;
                    let x = (rows_width - w) / 2.0;
                    let y = size.height - h - 12.0;
                    let pill = Rect::new(x, y, x + w, y + h);
                    ctx.fill(RoundedRect::from_rect(pill, h / 2.0), &theme::ACCENT);
                    ctx.draw_text(&text, pill.origin() + Vec2::new(14.0, 6.0));
                    self.pill = Some(pill);
                }
            }
        });
    }

    fn debug_state(&self, _data: &Conversation) -> druid::debug_state::DebugState {
        let mut other = std::collections::HashMap::new();
        other.insert(
            "conversation".to_owned(),
            self.shown.map(|id| id.to_string()).unwrap_or_default(),
        );
        other.insert("follow".to_owned(), self.view.follow.to_string());
        other.insert("unseen".to_owned(), self.view.unseen.to_string());
        other.insert("offset".to_owned(), format!("{:.0}", self.view.offset));
        other.insert("rows".to_owned(), self.rows.len().to_string());
        other.insert("copied".to_owned(), self.copied.clone().unwrap_or_default());
        // Each visible line as "screen-y|text", for tests of what stays put.
        let visible: Vec<String> = self
            .rows
            .iter()
            .map(|r| (r.top - self.base - self.view.offset, r))
            .filter(|(y, r)| *y + r.height > 0.0 && *y < self.view.height)
            .map(|(y, r)| format!("{y:.0}|{}", r.line))
            .collect();
        other.insert("visible".to_owned(), visible.join("\n"));
        druid::debug_state::DebugState {
            display_name: "ConversationView".to_owned(),
            main_value: format!("{} rows", self.rows.len()),
            other_values: other,
            ..Default::default()
        }
    }
}

/// Where the character at byte `index` of each line's body is drawn, laid
/// out as the view lays lines out: for tests of what lines up.
#[cfg(test)]
pub fn text_x_positions(lines: &[ChatLine], index: usize) -> Vec<f64> {
    use druid::piet::{Device, HitTestPosition, RenderContext};
    let mut device = Device::new().expect("a drawing device");
    let mut target = device.bitmap_target(8, 8, 1.0).expect("a bitmap");
    let mut rc = target.render_context();
    let xs = lines
        .iter()
        .map(|line| {
            let row = ConversationView::layout_row(rc.text(), line, 2000.0);
            let body = row.body.expect("laid out");
            let hit: HitTestPosition = body.hit_test_text_position(index);
            hit.point.x
        })
        .collect();
    let _ = rc.finish();
    xs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_ranges_cover_the_names() {
        let line = ChatLine {
            id: 1,
            kind: Kind::Private,
            time: "12:00".into(),
            from: Some("ålice".into()),
            to: Some("bob".into()),
            text: "psst".into(),
            own: false,
            mention: false,
            seq: None,
            history: false,
        };
        let (text, spans) = body_spans(&line);
        assert_eq!(text, "ålice → bob  psst");
        assert_eq!(&text[spans[0].0.clone()], "ålice");
        assert_eq!(&text[spans[1].0.clone()], "bob");
    }
}
