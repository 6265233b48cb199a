//! Colours and sizes of the window: a calm dark theme, and the stable
//! per-name colours.

use chat_core::names::name_key;
use druid::{theme, Color, Env, FontDescriptor, FontFamily};

/// Window background.
pub const WINDOW_BG: Color = Color::rgb8(0x23, 0x25, 0x2b);
/// Conversation background.
pub const LOG_BG: Color = Color::rgb8(0x1a, 0x1b, 0x1f);
/// Side panel background.
pub const PANEL_BG: Color = Color::rgb8(0x20, 0x22, 0x27);
/// Main text.
pub const TEXT: Color = Color::rgb8(0xdc, 0xde, 0xe3);
/// Notices, times, status.
pub const MUTED: Color = Color::rgb8(0x8b, 0x90, 0x9a);
/// Replayed history: dimmer than live text.
pub const HISTORY: Color = Color::rgb8(0x9a, 0x9e, 0xa8);
/// The time of replayed history.
pub const HISTORY_TIME: Color = Color::rgb8(0x62, 0x66, 0x70);
/// Errors.
pub const ERROR: Color = Color::rgb8(0xf0, 0x6e, 0x6e);
/// Good news in the status bar.
pub const OK: Color = Color::rgb8(0x6f, 0xcf, 0x8a);
/// Private messages.
pub const PRIVATE: Color = Color::rgb8(0xc9, 0xb6, 0xf2);
/// Buttons, the "new messages" pill.
pub const ACCENT: Color = Color::rgb8(0x3d, 0x72, 0xd9);
/// Background of one's own lines.
pub const OWN_BG: Color = Color::rgba8(0x7a, 0x9c, 0xff, 0x14);
/// Background of lines that mention one's name.
pub const MENTION_BG: Color = Color::rgba8(0xff, 0xbe, 0x3c, 0x24);
/// The bar beside a mention.
pub const MENTION_BAR: Color = Color::rgb8(0xf0, 0xb4, 0x3c);
/// Selected lines.
pub const SELECTION: Color = Color::rgba8(0x5a, 0x8c, 0xff, 0x50);
/// Selected lines while the view has no focus.
pub const SELECTION_UNFOCUSED: Color = Color::rgba8(0x8c, 0x96, 0xaa, 0x38);
/// Scrollbar track.
pub const SCROLL_TRACK: Color = Color::rgba8(0xff, 0xff, 0xff, 0x10);
/// Scrollbar thumb.
pub const SCROLL_THUMB: Color = Color::rgba8(0xff, 0xff, 0xff, 0x40);
/// Behind the shown room in the room list.
pub const ROOM_SHOWN: Color = Color::rgba8(0x7a, 0x9c, 0xff, 0x30);
/// Behind a room under the mouse.
pub const ROOM_HOT: Color = Color::rgba8(0xff, 0xff, 0xff, 0x0c);
/// A room with nothing unread: quieter than one with news.
pub const ROOM_READ: Color = Color::rgb8(0xb4, 0xb8, 0xc2);
/// Separators between areas.
pub const BORDER: Color = Color::rgb8(0x33, 0x36, 0x3d);

/// Name colours: distinct hues, all readable on the dark background.
const NAME_COLOURS: [Color; 12] = [
    Color::rgb8(0xf2, 0x8b, 0x82),
    Color::rgb8(0xfb, 0xbc, 0x04),
    Color::rgb8(0x81, 0xc9, 0x95),
    Color::rgb8(0x78, 0xd9, 0xec),
    Color::rgb8(0x8a, 0xb4, 0xf8),
    Color::rgb8(0xc5, 0x8a, 0xf9),
    Color::rgb8(0xff, 0x8b, 0xcb),
    Color::rgb8(0xfc, 0xad, 0x70),
    Color::rgb8(0xc0, 0xe3, 0x6b),
    Color::rgb8(0xd7, 0xae, 0xfb),
    Color::rgb8(0xe6, 0xd8, 0x5f),
    Color::rgb8(0x6f, 0xd1, 0xc0),
];

/// The colour of `name`: the same for a name in every run and on every
/// machine (FNV-1a of its case-folded key picks from [`NAME_COLOURS`]).
pub fn name_color(name: &str) -> Color {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in name_key(name).bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    NAME_COLOURS[(hash % NAME_COLOURS.len() as u32) as usize]
}

/// The fonts text is drawn in, first to last: pango (under druid on Linux)
/// takes a list of families and draws each character in the first that
/// has it, then in whatever installed font fontconfig finds for it, so
/// names and messages in any script show as glyphs rather than empty boxes
/// once `fonts-noto-cjk` is installed (`scripts/deps.sh gui`). Emoji come
/// from that last step: pango draws a character meant as an emoji in a
/// colour font when one is installed (`fonts-noto-color-emoji`). Naming the
/// emoji font here would be worse: digits are emoji characters too, and
/// pango would draw every `0`–`9` from it, each as wide as an emoji.
pub const TEXT_FONTS: &str = "DejaVu Sans, Noto Sans CJK SC, sans-serif";

/// The same for text whose columns must line up (`/help`).
pub const MONO_FONTS: &str = "DejaVu Sans Mono, Noto Sans Mono CJK SC, monospace";

/// [`TEXT_FONTS`] as a family.
pub fn text_family() -> FontFamily {
    FontFamily::new_unchecked(TEXT_FONTS)
}

/// [`MONO_FONTS`] as a family.
pub fn mono_family() -> FontFamily {
    FontFamily::new_unchecked(MONO_FONTS)
}

/// Applies the theme to druid's built-in widgets.
pub fn configure(env: &mut Env) {
    env.set(theme::WINDOW_BACKGROUND_COLOR, WINDOW_BG);
    env.set(theme::TEXT_COLOR, TEXT);
    env.set(theme::PLACEHOLDER_COLOR, MUTED);
    env.set(theme::BACKGROUND_LIGHT, Color::rgb8(0x16, 0x17, 0x1b));
    env.set(theme::BACKGROUND_DARK, Color::rgb8(0x16, 0x17, 0x1b));
    env.set(theme::BORDER_DARK, BORDER);
    env.set(theme::BORDER_LIGHT, Color::rgb8(0x4a, 0x4e, 0x58));
    env.set(theme::PRIMARY_LIGHT, Color::rgb8(0x5b, 0x8d, 0xef));
    env.set(theme::PRIMARY_DARK, ACCENT);
    env.set(theme::BUTTON_LIGHT, Color::rgb8(0x46, 0x7d, 0xe6));
    env.set(theme::BUTTON_DARK, ACCENT);
    env.set(theme::DISABLED_BUTTON_LIGHT, Color::rgb8(0x3a, 0x3d, 0x45));
    env.set(theme::DISABLED_BUTTON_DARK, Color::rgb8(0x33, 0x36, 0x3d));
    env.set(theme::DISABLED_TEXT_COLOR, MUTED);
    env.set(theme::BUTTON_BORDER_RADIUS, 6.0);
    env.set(theme::TEXTBOX_BORDER_RADIUS, 6.0);
    env.set(theme::TEXTBOX_BORDER_WIDTH, 1.0);
    env.set(theme::TEXTBOX_INSETS, druid::Insets::uniform_xy(8.0, 6.0));
    env.set(theme::BORDERED_WIDGET_HEIGHT, 30.0);
    env.set(
        theme::UI_FONT,
        FontDescriptor::new(text_family()).with_size(14.0),
    );
    env.set(
        theme::SELECTED_TEXT_BACKGROUND_COLOR,
        Color::rgb8(0x2f, 0x55, 0xa4),
    );
    env.set(theme::CURSOR_COLOR, TEXT);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_colours_are_stable_and_case_blind() {
        assert_eq!(
            name_color("Alice").as_rgba_u32(),
            name_color("alice").as_rgba_u32()
        );
        assert_eq!(
            name_color("bob").as_rgba_u32(),
            name_color("bob").as_rgba_u32()
        );
        let distinct: std::collections::HashSet<u32> = ["alice", "bob", "carol", "dave", "eve"]
            .iter()
            .map(|n| name_color(n).as_rgba_u32())
            .collect();
        assert!(distinct.len() >= 4, "names get different colours");
    }

    /// Pixels of `text` drawn white on black in `family` at 40 px that
    /// are clearly coloured: a colour emoji's, never a tofu box's.
    fn coloured_pixels(text: &str, family: FontFamily) -> usize {
        use druid::tests::harness::Harness;
        use druid::widget::Label;
        use druid::WidgetExt;
        let mut count = 0;
        let label = Label::new(text.to_owned())
            .with_font(FontDescriptor::new(family).with_size(40.0))
            .with_text_color(Color::WHITE)
            .background(Color::BLACK);
        Harness::create_with_render(
            (),
            label,
            druid::Size::new(240.0, 80.0),
            |h| {
                h.send_initial_events();
                h.just_layout();
                h.paint();
            },
            |target| {
                count = target
                    .into_raw()
                    .chunks(4)
                    .filter(|p| {
                        let (r, g, b) = (i32::from(p[0]), i32::from(p[1]), i32::from(p[2]));
                        (r - b).abs() > 80 || (g - b).abs() > 80 || (r - g).abs() > 80
                    })
                    .count();
            },
        );
        count
    }

    #[test]
    fn emoji_are_drawn_in_colour_with_the_font_stack() {
        assert_eq!(coloured_pixels("plain text", text_family()), 0);
        for emoji in ["👍", "🎉", "😀"] {
            let coloured = coloured_pixels(emoji, text_family());
            assert!(
                coloured > 200,
                "{emoji} drew {coloured} coloured pixels: is fonts-noto-color-emoji installed?"
            );
        }
    }

    /// How wide `text` is laid out in `family` at 14 px.
    fn width(text: &str, family: FontFamily) -> f64 {
        use druid::piet::{Device, RenderContext, Text, TextLayout, TextLayoutBuilder};
        let mut device = Device::new().expect("a drawing device");
        let mut target = device.bitmap_target(8, 8, 1.0).expect("a bitmap");
        let mut rc = target.render_context();
        let layout = rc
            .text()
            .new_text_layout(text.to_owned())
            .font(family, 14.0)
            .build()
            .expect("laid out");
        let _ = rc.finish();
        layout.size().width
    }

    #[test]
    fn digits_and_cjk_come_from_text_fonts() {
        // Drawn from an emoji font, ten digits would be twice as wide as
        // ten letters.
        let digits = width("1234567890", text_family());
        let letters = width("abcdefghij", text_family());
        assert!(digits < 1.5 * letters, "digits {digits}, letters {letters}");
        let mono = width("1234567890", mono_family());
        assert!((mono - width("abcdefghij", mono_family())).abs() < 0.5);
        // A CJK character is a full square: as wide as the font is high,
        // where an empty box is narrower.
        let han = width("漢字漢字", text_family());
        assert!((han - 4.0 * 14.0).abs() < 2.0, "four CJK characters: {han}");
    }
}
