//! The keyboard around the compose box: Enter sends, Tab completes a
//! name, Up/Down recall lines, a paste of several lines waits for a yes;
//! the caret goes to the end of text put in the box from outside; and keys
//! typed while the conversation has the focus go to the compose box, which
//! each line sent scrolls the conversation for. The rules themselves are
//! in `state` and `compose`; these controllers only bind them to keys.

use druid::text::Selection;
use druid::widget::prelude::*;
use druid::widget::{Controller, TextBox};
use druid::{KbKey, WidgetId};

use crate::state::AppState;
use crate::ui::{FOCUS_COMPOSE, PASTE_TEXT};
use crate::view::JUMP_TO_BOTTOM;

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
                if data.pending_paste.is_empty() {
                    data.submit();
                } else {
                    data.confirm_paste();
                }
                ctx.set_handled();
                return;
            }
            Event::KeyDown(key) if key.key == KbKey::Escape && !data.pending_paste.is_empty() => {
                data.cancel_paste();
                ctx.set_handled();
                return;
            }
            // Tab completes a name and never leaves the box (the stock box
            // would move the focus on); Up and Down recall sent lines.
            Event::KeyDown(key) if key.key == KbKey::Tab && key.mods.is_empty() => {
                data.complete_name();
                ctx.set_handled();
                return;
            }
            Event::KeyDown(key)
                if matches!(key.key, KbKey::ArrowUp | KbKey::ArrowDown)
                    && key.mods.is_empty()
                    && data.pending_paste.is_empty() =>
            {
                if key.key == KbKey::ArrowUp {
                    data.recall_older();
                } else {
                    data.recall_newer();
                }
                ctx.set_handled();
                return;
            }
            // The stock box keeps only the first line of a paste: several
            // lines are sent here (the guard does it) and the box never
            // sees them; one line is left to the box.
            Event::Paste(clipboard)
                if clipboard.get_string().is_some_and(|text| data.paste(&text)) =>
            {
                ctx.set_handled();
                return;
            }
            Event::Command(cmd) => {
                if let Some(text) = cmd.get(PASTE_TEXT) {
                    if !data.paste(text) {
                        data.compose.push_str(text);
                    }
                    ctx.set_handled();
                    return;
                }
                if cmd.is(FOCUS_COMPOSE) {
                    ctx.request_focus();
                    ctx.set_handled();
                    return;
                }
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

/// Puts the caret at the end of the compose box when its text was changed
/// from outside the box (a completed name, a recalled line, typing that
/// began in the conversation): the stock box would leave it where it was,
/// in the middle of the new text. Also when the box takes the focus: the
/// stock box selects all of it then, and the next key typed would replace
/// the first letter typed in the conversation.
#[derive(Debug, Default)]
pub(crate) struct CaretToEnd {
    /// The text after the box's own last edit.
    own_edit: Option<String>,
}

impl Controller<String, TextBox<String>> for CaretToEnd {
    fn event(
        &mut self,
        child: &mut TextBox<String>,
        ctx: &mut EventCtx,
        event: &Event,
        data: &mut String,
        env: &Env,
    ) {
        let before = data.clone();
        child.event(ctx, event, data, env);
        if *data != before {
            self.own_edit = Some(data.clone());
        }
    }

    fn update(
        &mut self,
        child: &mut TextBox<String>,
        ctx: &mut UpdateCtx,
        old: &String,
        data: &String,
        env: &Env,
    ) {
        let own = self.own_edit.take().is_some_and(|t| t == *data);
        child.update(ctx, old, data, env);
        if old != data && !own && child.text().can_write() {
            let end = Selection::caret(data.len());
            if let Some(change) = child.text_mut().borrow_mut().set_selection(end) {
                ctx.invalidate_text_input(change);
            }
        }
    }

    fn lifecycle(
        &mut self,
        child: &mut TextBox<String>,
        ctx: &mut LifeCycleCtx,
        event: &LifeCycle,
        data: &String,
        env: &Env,
    ) {
        child.lifecycle(ctx, event, data, env);
        if matches!(event, LifeCycle::FocusChanged(true)) && child.text().can_write() {
            let end = Selection::caret(data.len());
            if let Some(change) = child.text_mut().borrow_mut().set_selection(end) {
                ctx.invalidate_text_input(change);
            }
        }
    }
}

/// What the conversation does for the compose box: a key typed while the
/// conversation has the focus (after a click to select lines) goes to the
/// compose box, which takes the focus back; and each line sent scrolls the
/// conversation to the bottom, so one's own line is seen arriving.
#[derive(Debug)]
pub(crate) struct ConversationKeys {
    /// The conversation view, told to jump to the bottom.
    pub(crate) view: WidgetId,
}

impl<W: Widget<AppState>> Controller<AppState, W> for ConversationKeys {
    fn event(
        &mut self,
        child: &mut W,
        ctx: &mut EventCtx,
        event: &Event,
        data: &mut AppState,
        env: &Env,
    ) {
        if let Event::KeyDown(key) = event {
            let plain = !(key.mods.ctrl() || key.mods.alt() || key.mods.meta());
            if let KbKey::Character(text) = &key.key {
                if plain && !text.chars().any(char::is_control) {
                    data.compose.push_str(text);
                    data.focus_compose += 1;
                    ctx.set_handled();
                    return;
                }
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
        if old.sent != data.sent {
            ctx.submit_command(JUMP_TO_BOTTOM.to(self.view));
        }
        child.update(ctx, old, data, env);
    }
}
