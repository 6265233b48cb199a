//! [`Wrap`]: a row of widgets that continues on the next line when the
//! window is too narrow, like words in a paragraph. druid 0.8's `Flex` row
//! only squeezes (the last child gets what is left, so a button reads
//! "Disco") and cannot wrap.

use druid::widget::prelude::*;
use druid::{Point, WidgetPod};

/// Children laid out left to right at their natural size, `spacing` apart,
/// starting a new line (`line_spacing` below) when the next one would not
/// fit; each child is centred vertically in its line.
pub struct Wrap<T> {
    children: Vec<WidgetPod<T, Box<dyn Widget<T>>>>,
    spacing: f64,
    line_spacing: f64,
    lines: usize,
}

impl<T: Data> Wrap<T> {
    /// An empty row.
    pub fn new(spacing: f64, line_spacing: f64) -> Self {
        Self {
            children: Vec::new(),
            spacing,
            line_spacing,
            lines: 0,
        }
    }

    /// Adds a child, which never splits across lines.
    #[must_use]
    pub fn with_child(mut self, child: impl Widget<T> + 'static) -> Self {
        self.children.push(WidgetPod::new(Box::new(child)));
        self
    }
}

impl<T: Data> Widget<T> for Wrap<T> {
    fn event(&mut self, ctx: &mut EventCtx, event: &Event, data: &mut T, env: &Env) {
        for child in &mut self.children {
            child.event(ctx, event, data, env);
        }
    }

    fn lifecycle(&mut self, ctx: &mut LifeCycleCtx, event: &LifeCycle, data: &T, env: &Env) {
        for child in &mut self.children {
            child.lifecycle(ctx, event, data, env);
        }
    }

    fn update(&mut self, ctx: &mut UpdateCtx, _old: &T, data: &T, env: &Env) {
        for child in &mut self.children {
            child.update(ctx, data, env);
        }
    }

    fn layout(&mut self, ctx: &mut LayoutCtx, bc: &BoxConstraints, data: &T, env: &Env) -> Size {
        let max_width = bc.max().width;
        let loose = BoxConstraints::new(Size::ZERO, Size::new(max_width, f64::INFINITY));
        let sizes: Vec<Size> = self
            .children
            .iter_mut()
            .map(|child| child.layout(ctx, &loose, data, env))
            .collect();
        // Which children start a line, then place each line's children.
        let mut lines: Vec<(usize, usize, f64)> = Vec::new(); // (from, to, height)
        let mut x = 0.0;
        for (i, size) in sizes.iter().enumerate() {
            match lines.last_mut() {
                Some((_, to, height)) if x + self.spacing + size.width <= max_width => {
                    x += self.spacing + size.width;
                    *to = i + 1;
                    *height = height.max(size.height);
                }
                _ => {
                    lines.push((i, i + 1, size.height));
                    x = size.width;
                }
            }
        }
        let mut y = 0.0;
        let mut width: f64 = 0.0;
        for (n, &(from, to, height)) in lines.iter().enumerate() {
            if n > 0 {
                y += self.line_spacing;
            }
            let mut x = 0.0;
            let line = self.children[from..to].iter_mut().zip(&sizes[from..to]);
            for (k, (child, size)) in line.enumerate() {
                if k > 0 {
                    x += self.spacing;
                }
                child.set_origin(ctx, Point::new(x, y + (height - size.height) / 2.0));
                x += size.width;
            }
            width = width.max(x);
            y += height;
        }
        self.lines = lines.len();
        bc.constrain(Size::new(width.max(bc.min().width), y))
    }

    fn paint(&mut self, ctx: &mut PaintCtx, data: &T, env: &Env) {
        for child in &mut self.children {
            child.paint(ctx, data, env);
        }
    }

    fn debug_state(&self, data: &T) -> druid::debug_state::DebugState {
        druid::debug_state::DebugState {
            display_name: "Wrap".to_owned(),
            main_value: format!("{} lines", self.lines),
            children: self
                .children
                .iter()
                .map(|child| child.widget().debug_state(data))
                .collect(),
            ..Default::default()
        }
    }
}
