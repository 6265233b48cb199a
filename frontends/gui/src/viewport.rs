//! Where the conversation's viewport is and whether it follows new lines:
//! pure arithmetic, so the scrolling rules (follow at the bottom, stay put
//! when scrolled up, count what arrives below) are unit-tested without a
//! window.

/// Where the viewport is, in content coordinates, and whether it follows new
/// lines. Pure arithmetic, so the scrolling rules are unit-tested.
#[derive(Debug, Clone, PartialEq)]
pub struct Viewport {
    /// Content y at the top of the view.
    pub offset: f64,
    /// Height of the view.
    pub height: f64,
    /// At the bottom: new lines scroll into view.
    pub follow: bool,
    /// Lines added while not following.
    pub unseen: usize,
}

impl Default for Viewport {
    fn default() -> Self {
        Self {
            offset: 0.0,
            height: 0.0,
            follow: true,
            unseen: 0,
        }
    }
}

impl Viewport {
    fn max_offset(&self, content: f64) -> f64 {
        (content - self.height).max(0.0)
    }

    /// `removed` pixels of content disappeared from the top (scrollback cap).
    pub fn trimmed(&mut self, removed: f64, content: f64) {
        if self.follow {
            self.offset = self.max_offset(content);
        } else {
            self.offset = (self.offset - removed).clamp(0.0, self.max_offset(content));
        }
    }

    /// `added` lines were appended; the content is now `content` tall.
    pub fn appended(&mut self, added: usize, content: f64) {
        if self.follow {
            self.offset = self.max_offset(content);
        } else {
            self.unseen += added;
        }
    }

    /// The view is now `height` tall.
    pub fn resized(&mut self, height: f64, content: f64) {
        self.height = height;
        if self.follow {
            self.offset = self.max_offset(content);
        } else {
            self.offset = self.offset.clamp(0.0, self.max_offset(content));
        }
    }

    /// Scrolls by `dy` (positive: down); reaching the bottom follows again.
    pub fn scroll_by(&mut self, dy: f64, content: f64) {
        self.scroll_to(self.offset + dy, content);
    }

    /// Scrolls to `offset`; reaching the bottom follows again.
    pub fn scroll_to(&mut self, offset: f64, content: f64) {
        let max = self.max_offset(content);
        self.offset = offset.clamp(0.0, max);
        self.follow = self.offset >= max - 0.5;
        if self.follow {
            self.unseen = 0;
        }
    }

    /// Back to the newest line.
    pub fn jump_to_bottom(&mut self, content: f64) {
        self.scroll_to(f64::INFINITY, content);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_new_lines_at_the_bottom() {
        let mut v = Viewport::default();
        v.resized(100.0, 0.0);
        v.appended(3, 60.0);
        assert_eq!(v.offset, 0.0, "content fits");
        v.appended(5, 200.0);
        assert_eq!(v.offset, 100.0);
        assert!(v.follow);
        assert_eq!(v.unseen, 0);
    }

    #[test]
    fn stays_put_when_scrolled_up_and_counts_unseen_lines() {
        let mut v = Viewport::default();
        v.resized(100.0, 500.0);
        assert_eq!(v.offset, 400.0);
        v.scroll_by(-150.0, 500.0);
        assert!(!v.follow);
        assert_eq!(v.offset, 250.0);
        v.appended(2, 540.0);
        assert_eq!(v.offset, 250.0, "did not move");
        assert_eq!(v.unseen, 2);
        // The cap drops 40 px of old lines from the top: the same lines stay
        // in view, so the offset moves up with them.
        v.trimmed(40.0, 500.0);
        assert_eq!(v.offset, 210.0);
        v.scroll_by(10_000.0, 500.0);
        assert!(v.follow);
        assert_eq!(v.unseen, 0);
        assert_eq!(v.offset, 400.0);
    }

    #[test]
    fn jump_and_resize() {
        let mut v = Viewport::default();
        v.resized(100.0, 500.0);
        v.scroll_to(0.0, 500.0);
        v.appended(1, 520.0);
        v.resized(300.0, 520.0);
        assert_eq!(v.offset, 0.0);
        v.jump_to_bottom(520.0);
        assert!(v.follow && v.unseen == 0);
        assert_eq!(v.offset, 220.0);
        v.resized(600.0, 520.0);
        assert_eq!(v.offset, 0.0, "everything fits");
    }
}
