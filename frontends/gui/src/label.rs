//! [`TextLine`]: a label whose text is computed from the data, and which
//! reports the text it draws to widget tests.
//!
//! druid 0.8's dynamic `Label` draws the right text, but its debug state
//! (what `Harness` tests read) keeps the first text it was given until the
//! text changes, so a label that is right from the start ("not in a
//! room…", "ONLINE — 0") reads as blank there. `TextLine` keeps the string
//! it draws and reports that.

use druid::widget::prelude::*;
use druid::widget::{LineBreaking, RawLabel};
use druid::{Color, FontDescriptor};

/// A one-line label showing `text(data)`.
pub struct TextLine<T> {
    text: fn(&T) -> String,
    shown: String,
    label: RawLabel<String>,
}

impl<T: Data> TextLine<T> {
    /// Shows `text(data)`.
    pub fn new(text: fn(&T) -> String) -> Self {
        Self {
            text,
            shown: String::new(),
            label: RawLabel::new(),
        }
    }

    /// The text size.
    #[must_use]
    pub fn with_text_size(mut self, size: f64) -> Self {
        self.label.set_text_size(size);
        self
    }

    /// The text colour.
    #[must_use]
    pub fn with_text_color(mut self, colour: Color) -> Self {
        self.label.set_text_color(colour);
        self
    }

    /// The font.
    #[must_use]
    pub fn with_font(mut self, font: FontDescriptor) -> Self {
        self.label.set_font(font);
        self
    }

    /// Wraps at word boundaries to the width it is given.
    #[must_use]
    pub fn wrapped(mut self) -> Self {
        self.label.set_line_break_mode(LineBreaking::WordWrap);
        self
    }

    /// Cuts what does not fit instead of wrapping.
    #[must_use]
    pub fn clipped(mut self) -> Self {
        self.label.set_line_break_mode(LineBreaking::Clip);
        self
    }
}

impl<T: Data> Widget<T> for TextLine<T> {
    fn event(&mut self, ctx: &mut EventCtx, event: &Event, _data: &mut T, env: &Env) {
        self.label.event(ctx, event, &mut self.shown, env);
    }

    fn lifecycle(&mut self, ctx: &mut LifeCycleCtx, event: &LifeCycle, data: &T, env: &Env) {
        if let LifeCycle::WidgetAdded = event {
            self.shown = (self.text)(data);
        }
        self.label.lifecycle(ctx, event, &self.shown, env);
    }

    fn update(&mut self, ctx: &mut UpdateCtx, _old: &T, data: &T, env: &Env) {
        let text = (self.text)(data);
        if text != self.shown {
            let old = std::mem::replace(&mut self.shown, text);
            self.label.update(ctx, &old, &self.shown, env);
        }
    }

    fn layout(&mut self, ctx: &mut LayoutCtx, bc: &BoxConstraints, _data: &T, env: &Env) -> Size {
        self.label.layout(ctx, bc, &self.shown, env)
    }

    fn paint(&mut self, ctx: &mut PaintCtx, _data: &T, env: &Env) {
        self.label.paint(ctx, &self.shown, env);
    }

    fn debug_state(&self, _data: &T) -> druid::debug_state::DebugState {
        druid::debug_state::DebugState {
            display_name: "TextLine".to_owned(),
            main_value: self.shown.clone(),
            ..Default::default()
        }
    }
}
