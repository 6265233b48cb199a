//! `dice_bot`: answers `!roll 2d6`, `!roll d20+3`, `!time` and `!who` in the
//! room it was asked in (the default room and any given with `--room`), or
//! privately when asked in a private message, and says what it did not
//! understand. The parser is a pure function
//! ([`parse`]) with limits, so nobody can make the bot flood the room with
//! `!roll 1000000d6`; the bot also paces its replies to the server's announced
//! rate limit rather than get itself refused or dropped. It comes back by
//! itself when the server restarts, and exits non-zero when its session
//! ends for good.
//! Run it with `cargo run --example dice_bot -- --server 127.0.0.1:8001 --room games`.

use std::collections::VecDeque;
use std::fmt;
use std::time::Instant;

use chat_core::rate::TokenBucket;
use chat_core::{ChatSession, Event, Input, SessionConfig};
use chrono::{DateTime, Utc};
use clap::Parser;
use futures::StreamExt;

/// Most dice in one roll: 20 numbers still fit on one readable line.
pub const MAX_DICE: u32 = 20;
/// Most sides on a die.
pub const MAX_SIDES: u32 = 1000;
/// Largest number added to or taken from a roll (`2d6+3`).
pub const MAX_MODIFIER: u32 = 1000;
/// Names listed at most by `!who`: 30 of the longest still fit in a line.
const MAX_NAMES: usize = 30;
/// Characters of someone's text the bot quotes back at most, so a long line
/// cannot make the bot's answer longer than the server accepts.
const MAX_QUOTE: usize = 24;

/// Answers `!roll NdM[+K]`, `!time` and `!who`, in the room or privately.
#[derive(Debug, Parser)]
pub struct Args {
    /// HOST:PORT of the chat server (several, comma-separated, for a
    /// cluster's nodes).
    #[arg(short, long, value_name = "HOST:PORT", default_value = chat_core::DEFAULT_ADDR)]
    pub server: String,
    /// The name to join as.
    #[arg(short, long, default_value = "dice")]
    pub name: String,
    /// TLS and the room's password.
    #[command(flatten)]
    pub access: chat_examples::Access,
    /// Rooms to answer in besides the default one.
    #[command(flatten)]
    pub rooms: chat_examples::RoomFlags,
}

#[async_std::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = chat_examples::bot_config(args.server, args.name, &args.access)?;
    run(config, args.rooms.names).await
}

/// Where an answer goes: the room the question was asked in, or back to
/// whoever asked privately.
#[derive(Debug, Clone, PartialEq, Eq)]
enum To {
    Room(String),
    Person(String),
}

/// Joins (and joins `rooms`) and answers commands until the session ends.
///
/// # Errors
/// When joining is refused, or the session ends.
pub async fn run(config: SessionConfig, rooms: Vec<String>) -> anyhow::Result<()> {
    let session = chat_examples::join(config).await?;
    let me = session.welcome().name.clone();
    // Events from a server without rooms name none: they are about this one.
    let default = session.welcome().room.clone();
    // Paces replies to the server's rate limit (one bucket for all rooms:
    // the limit is per connection), so a room full of `!roll`
    // drops some answers instead of getting the bot refused, and in the end
    // disconnected for flooding.
    let mut pace = TokenBucket::for_limits(&session.welcome().limits);
    let mut rng = fastrand::Rng::new();
    let (sender, mut events) = session.split();
    chat_examples::join_rooms(&sender, &rooms).await?;
    let mut watch = chat_examples::Watch::default();
    // Who asked `!who`, in order: the server answers in the same order.
    let mut who_asked = VecDeque::new();
    while let Some(event) = events.next().await {
        watch.note(&event);
        // Every answer goes where its question came from. Our own messages
        // come back too; none starts with `!`, but skipping them makes a
        // loop impossible whatever we say.
        let room = event.room().unwrap_or(&default).to_owned();
        let (to, from, text) = match event {
            Event::Message(m) if m.from != me => (To::Room(room), m.from, m.text),
            Event::Private(pm) if pm.from != me => (To::Person(pm.from.clone()), pm.from, pm.text),
            // Only our `!who` requests make the server send a user list.
            Event::Users(u) => {
                let to = who_asked.pop_front().unwrap_or(To::Room(room));
                answer(&sender, &mut pace, &to, who_answer(&u.users)).await;
                continue;
            }
            _ => continue,
        };
        let reply = match parse(&text) {
            None => continue,
            Some(Ok(Command::Roll(dice))) => roll_text(&from, &dice, &roll(&dice, &mut rng)),
            Some(Ok(Command::Time)) => time_text(Utc::now()),
            // The server knows who is here: ask about the room (the
            // default one for a private question), and answer when it
            // replies.
            Some(Ok(Command::Who)) => {
                let about = match &to {
                    To::Room(room) => room,
                    To::Person(_) => &default,
                };
                match sender.send_in(about, Input::Who(None)).await {
                    Ok(_) => who_asked.push_back(to),
                    Err(e) => eprintln!("cannot ask who is here: {e}"),
                }
                continue;
            }
            Some(Err(refusal)) => format!("{from}: {refusal}"),
        };
        answer(&sender, &mut pace, &to, reply).await;
    }
    watch.ended()
}

/// Says `text` where `to` says, if the rate limit allows.
async fn answer(
    sender: &chat_core::SessionSender,
    pace: &mut Option<TokenBucket>,
    to: &To,
    text: String,
) {
    if !allowed(pace, Instant::now()) {
        eprintln!("busy: dropped the reply {text:?}");
        return;
    }
    let sent = match to {
        To::Room(room) => sender.say_in(room, text).await,
        To::Person(name) => sender.tell(name.as_str(), text).await,
    };
    // A failed send means the connection is going; the stream says why,
    // and core reconnects.
    if let Err(e) = sent {
        eprintln!("cannot answer: {e}");
    }
}

/// `NdM+K`: dice within the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dice {
    /// How many dice, 1 to [`MAX_DICE`].
    pub count: u32,
    /// Sides on each, 2 to [`MAX_SIDES`].
    pub sides: u32,
    /// Added to the total (negative: taken from it), at most
    /// [`MAX_MODIFIER`] either way.
    pub modifier: i32,
}

impl fmt::Display for Dice {
    /// `2d6`, `d20`, `2d6+3`, `d20-1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.count != 1 {
            write!(f, "{}", self.count)?;
        }
        write!(f, "d{}", self.sides)?;
        match self.modifier {
            0 => Ok(()),
            m if m > 0 => write!(f, "+{m}"),
            m => write!(f, "{m}"),
        }
    }
}

/// A command the bot understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `!roll NdM+K`: roll the dice.
    Roll(Dice),
    /// `!time`: the bot's clock, in UTC.
    Time,
    /// `!who`: who is online.
    Who,
}

/// Why the bot will not do what was asked; displayed as the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A `!word` that is not a command (quoted, shortened).
    Unknown(String),
    /// `!roll` with nothing to roll.
    RollUsage,
    /// `!roll` of something that is not `NdM` (quoted, shortened).
    NotDice(String),
    /// More than [`MAX_DICE`] dice.
    TooManyDice,
    /// Dice of more than [`MAX_SIDES`] sides.
    TooManySides,
    /// `!roll 0d6`.
    NoDice,
    /// `!roll 2d1` or `2d0`.
    TooFewSides,
    /// `!roll d20+5000`: more than [`MAX_MODIFIER`] added or taken.
    TooBigModifier,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Unknown(word) => write!(
                f,
                "I don't understand !{word}; try !roll 2d6, !roll d20+1, !time or !who"
            ),
            Refusal::RollUsage => f.write_str("roll what? try !roll 2d6, !roll d20 or !roll 2d6+3"),
            Refusal::NotDice(spec) => {
                write!(
                    f,
                    "\"{spec}\" is not dice; try !roll 2d6, !roll d20 or !roll 2d6+3"
                )
            }
            Refusal::TooManyDice => write!(f, "no: I roll at most {MAX_DICE} dice at once"),
            Refusal::TooManySides => write!(f, "no: my dice have at most {MAX_SIDES} sides"),
            Refusal::NoDice => f.write_str("rolling no dice gives nothing"),
            Refusal::TooFewSides => f.write_str("a die needs at least 2 sides"),
            Refusal::TooBigModifier => {
                write!(f, "no: I add or take at most {MAX_MODIFIER}")
            }
        }
    }
}

/// Reads a message: `None` when it is not for the bot (it does not start with
/// `!` and a letter), else the command or why it was refused. Words after the
/// first argument are ignored, so `!roll d20 to hit` works.
pub fn parse(text: &str) -> Option<Result<Command, Refusal>> {
    let rest = text.trim().strip_prefix('!')?;
    // "!!!" and "! ok" are excitement, not commands.
    if !rest.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let mut words = rest.split_whitespace();
    let command = words.next()?;
    Some(match command.to_ascii_lowercase().as_str() {
        "roll" | "r" => match words.next() {
            Some(first) => {
                // `2d6 + 3` and `2d6 +3` mean `2d6+3`.
                let mut spec = first.to_owned();
                let mut words = words.peekable();
                while let Some(word) =
                    words.next_if(|w| w.starts_with(['+', '-']) || spec.ends_with(['+', '-']))
                {
                    spec.push_str(word);
                }
                parse_dice(&spec)
            }
            None => Err(Refusal::RollUsage),
        },
        "time" => Ok(Command::Time),
        "who" => Ok(Command::Who),
        _ => Err(Refusal::Unknown(quote(command))),
    })
}

/// `2d6`, `d20`, `1D100`, `2d6+3`, `d20-1` → a roll within the limits.
fn parse_dice(spec: &str) -> Result<Command, Refusal> {
    let not_dice = || Refusal::NotDice(quote(spec));
    let (count, rest) = spec.split_once(['d', 'D']).ok_or_else(not_dice)?;
    let (sides, modifier) = match rest.find(['+', '-']) {
        Some(at) => (
            &rest[..at],
            Some((&rest[at..at + 1] == "-", &rest[at + 1..])),
        ),
        None => (rest, None),
    };
    let number = |digits: &str| -> Result<Option<u32>, Refusal> {
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(not_dice());
        }
        // All digits, so failing to parse can only mean "too big for u32".
        Ok(digits.parse().ok())
    };
    let count = if count.is_empty() {
        Some(1)
    } else {
        number(count)?
    };
    let sides = number(sides)?;
    match (count, sides) {
        (Some(0), _) => Err(Refusal::NoDice),
        (None, _) => Err(Refusal::TooManyDice),
        (Some(c), _) if c > MAX_DICE => Err(Refusal::TooManyDice),
        (_, Some(0 | 1)) => Err(Refusal::TooFewSides),
        (_, None) => Err(Refusal::TooManySides),
        (_, Some(s)) if s > MAX_SIDES => Err(Refusal::TooManySides),
        (Some(count), Some(sides)) => {
            let modifier = match modifier {
                None => 0,
                Some((minus, digits)) => match number(digits)? {
                    Some(k) if k <= MAX_MODIFIER => {
                        let k = i32::try_from(k).map_err(|_| Refusal::TooBigModifier)?;
                        if minus {
                            -k
                        } else {
                            k
                        }
                    }
                    _ => return Err(Refusal::TooBigModifier),
                },
            };
            Ok(Command::Roll(Dice {
                count,
                sides,
                modifier,
            }))
        }
    }
}

/// Someone's text, made safe and short enough to quote in an answer.
fn quote(text: &str) -> String {
    let safe = chat_core::sanitize(text);
    if safe.chars().count() <= MAX_QUOTE {
        return safe;
    }
    let mut short: String = safe.chars().take(MAX_QUOTE - 1).collect();
    short.push('…');
    short
}

/// Rolls the dice: one number per die.
pub fn roll(dice: &Dice, rng: &mut fastrand::Rng) -> Vec<u32> {
    (0..dice.count).map(|_| rng.u32(1..=dice.sides)).collect()
}

/// `alice rolled 2d6: 3 + 5 = 8`, `alice rolled d20: 14` for one die,
/// `alice rolled d20-1: 14 - 1 = 13` with a modifier.
pub fn roll_text(who: &str, dice: &Dice, rolls: &[u32]) -> String {
    let mut terms: Vec<String> = rolls.iter().map(u32::to_string).collect();
    let total = i64::from(rolls.iter().sum::<u32>()) + i64::from(dice.modifier);
    let mut sum = terms.join(" + ");
    match dice.modifier {
        0 if terms.len() == 1 => return format!("{who} rolled {dice}: {}", terms.remove(0)),
        0 => {}
        m if m > 0 => sum.push_str(&format!(" + {m}")),
        m => sum.push_str(&format!(" - {}", m.unsigned_abs())),
    }
    format!("{who} rolled {dice}: {sum} = {total}")
}

/// `it is 17:55 UTC on Tuesday 25 November 2025`
pub fn time_text(now: DateTime<Utc>) -> String {
    now.format("it is %H:%M UTC on %A %-d %B %Y").to_string()
}

/// `online (3): alice, bob, dice`, naming at most [`MAX_NAMES`] people so a
/// big room's answer still fits on one line.
pub fn who_answer(users: &[String]) -> String {
    let mut text = format!("online ({}): ", users.len());
    text.push_str(
        &users
            .iter()
            .take(MAX_NAMES)
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", "),
    );
    if users.len() > MAX_NAMES {
        text.push_str(&format!(" and {} more", users.len() - MAX_NAMES));
    }
    text
}

/// Whether a reply may go at `now` (always, when the server has no limit).
fn allowed(pace: &mut Option<TokenBucket>, now: Instant) -> bool {
    pace.as_mut().is_none_or(|bucket| bucket.take(now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_core::protocol::Limits;
    use proptest::prelude::*;
    use std::time::Duration;

    fn dice(count: u32, sides: u32, modifier: i32) -> Dice {
        Dice {
            count,
            sides,
            modifier,
        }
    }

    fn roll_of(count: u32, sides: u32) -> Option<Result<Command, Refusal>> {
        Some(Ok(Command::Roll(dice(count, sides, 0))))
    }

    #[test]
    fn understands_the_commands() {
        assert_eq!(parse("!roll 2d6"), roll_of(2, 6));
        assert_eq!(parse("!roll d20"), roll_of(1, 20));
        assert_eq!(parse("  !ROLL 1D100 to hit "), roll_of(1, 100));
        assert_eq!(parse("!r 20d1000"), roll_of(20, 1000));
        assert_eq!(parse("!time"), Some(Ok(Command::Time)));
        assert_eq!(parse("!who"), Some(Ok(Command::Who)));
    }

    #[test]
    fn understands_modifiers() {
        let with = |c, s, m| Some(Ok(Command::Roll(dice(c, s, m))));
        assert_eq!(parse("!roll 2d6+3"), with(2, 6, 3));
        assert_eq!(parse("!roll d20-1"), with(1, 20, -1));
        assert_eq!(parse("!roll 1d4+1000"), with(1, 4, 1000));
        assert_eq!(parse("!roll d8-0"), with(1, 8, 0));
        let refused = |text: &str| parse(text).and_then(Result::err);
        assert_eq!(refused("!roll 2d6+1001"), Some(Refusal::TooBigModifier));
        assert_eq!(
            refused("!roll 2d6+99999999999999999999"),
            Some(Refusal::TooBigModifier)
        );
        assert_eq!(parse("!roll 2d6 + 3 to hit"), with(2, 6, 3));
        assert_eq!(parse("!roll d20 -1"), with(1, 20, -1));
        for bad in [
            "2d6+", "2d6-", "2d6+x", "2d6+-3", "2d6+3+4", "2d+3", "2d6 + x",
        ] {
            assert_eq!(
                refused(&format!("!roll {bad}")),
                Some(Refusal::NotDice(bad.replace(' ', ""))),
                "{bad}"
            );
        }
        assert_eq!(
            Refusal::NotDice("2d6+".into()).to_string(),
            "\"2d6+\" is not dice; try !roll 2d6, !roll d20 or !roll 2d6+3"
        );
        assert_eq!(
            Refusal::TooBigModifier.to_string(),
            "no: I add or take at most 1000"
        );
        let d = dice(2, 6, 3);
        assert_eq!(
            roll_text("al", &d, &[3, 5]),
            "al rolled 2d6+3: 3 + 5 + 3 = 11"
        );
        let d = dice(1, 20, -1);
        assert_eq!(roll_text("al", &d, &[14]), "al rolled d20-1: 14 - 1 = 13");
        assert_eq!(
            roll_text("al", &dice(1, 2, -5), &[1]),
            "al rolled d2-5: 1 - 5 = -4"
        );
    }

    #[test]
    fn ignores_what_is_not_for_it() {
        for text in [
            "hello",
            "wow!",
            "!!!",
            "! ok",
            "!",
            "",
            "   ",
            "dice: !roll",
        ] {
            assert_eq!(parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn refuses_with_reasons() {
        let refused = |text| parse(text).and_then(Result::err);
        assert_eq!(refused("!roll 1000000d6"), Some(Refusal::TooManyDice));
        assert_eq!(
            refused("!roll 99999999999999999999d6"),
            Some(Refusal::TooManyDice)
        );
        assert_eq!(refused("!roll 21d6"), Some(Refusal::TooManyDice));
        assert_eq!(refused("!roll 2d1001"), Some(Refusal::TooManySides));
        assert_eq!(
            refused("!roll 2d99999999999999999999"),
            Some(Refusal::TooManySides)
        );
        assert_eq!(refused("!roll 0d6"), Some(Refusal::NoDice));
        assert_eq!(refused("!roll 2d1"), Some(Refusal::TooFewSides));
        assert_eq!(refused("!roll"), Some(Refusal::RollUsage));
        assert_eq!(refused("!roll 2d"), Some(Refusal::NotDice("2d".into())));
        assert_eq!(refused("!roll -2d6"), Some(Refusal::NotDice("-2d6".into())));
        assert_eq!(refused("!roll +2d6"), Some(Refusal::NotDice("+2d6".into())));
        assert_eq!(refused("!roll dice"), Some(Refusal::NotDice("dice".into())));
        assert_eq!(refused("!dance"), Some(Refusal::Unknown("dance".into())));
        assert_eq!(
            Refusal::TooManyDice.to_string(),
            "no: I roll at most 20 dice at once"
        );
    }

    #[test]
    fn quotes_are_short_and_safe() {
        let long = format!("!{}", "x".repeat(5000));
        let Some(Err(Refusal::Unknown(word))) = parse(&long) else {
            panic!("not refused");
        };
        assert_eq!(word.chars().count(), MAX_QUOTE);
        assert!(word.ends_with('…'));
        let Some(Err(Refusal::Unknown(word))) = parse("!a\u{1b}[2J") else {
            panic!("not refused");
        };
        assert!(!word.chars().any(char::is_control), "{word:?}");
    }

    #[test]
    fn rolls_stay_in_range_and_add_up() {
        let mut rng = fastrand::Rng::with_seed(7);
        let rolls = roll(&dice(MAX_DICE, 6, 0), &mut rng);
        assert_eq!(rolls.len(), 20);
        assert!(rolls.iter().all(|r| (1..=6).contains(r)));
        assert_eq!(
            roll_text("al", &dice(2, 6, 0), &[3, 5]),
            "al rolled 2d6: 3 + 5 = 8"
        );
        assert_eq!(roll_text("al", &dice(1, 20, 0), &[14]), "al rolled d20: 14");
    }

    #[test]
    fn who_lists_a_bounded_number_of_names() {
        assert_eq!(
            who_answer(&["al".into(), "dice".into()]),
            "online (2): al, dice"
        );
        let crowd: Vec<String> = (0..500).map(|i| format!("{i:0>32}")).collect();
        let answer = who_answer(&crowd);
        assert!(answer.ends_with(" and 470 more"), "{answer}");
        assert!(answer.len() < 1200);
    }

    #[test]
    fn tells_the_time() {
        let t = DateTime::from_timestamp(1_764_093_300, 0).expect("valid time");
        assert_eq!(time_text(t), "it is 17:55 UTC on Tuesday 25 November 2025");
    }

    #[test]
    fn paces_to_the_servers_limit() {
        let start = Instant::now();
        let limits = Limits {
            max_rooms: 0,
            max_line: 8192,
            max_name: 32,
            rate_per_sec: 5,
            burst: 2,
        };
        let mut pace = TokenBucket::for_limits(&limits);
        assert!(allowed(&mut pace, start));
        assert!(allowed(&mut pace, start));
        assert!(!allowed(&mut pace, start), "burst spent");
        assert!(
            allowed(&mut pace, start + Duration::from_millis(200)),
            "refilled"
        );
        let unlimited = Limits {
            rate_per_sec: 0,
            burst: 0,
            ..limits
        };
        let mut free = TokenBucket::for_limits(&unlimited);
        assert!((0..1000).all(|_| allowed(&mut free, start)));
    }

    proptest! {
        /// Whatever anyone types, the bot neither panics nor says more
        /// than one short, printable line, and never rolls past its limits.
        #[test]
        fn any_text_gets_a_short_safe_answer(
            text in prop_oneof![any::<String>(), "![a-zA-Z].{0,200}", "!roll .{0,60}"]
        ) {
            match parse(&text) {
                None => {}
                Some(Ok(Command::Roll(d))) => {
                    prop_assert!((1..=MAX_DICE).contains(&d.count));
                    prop_assert!((2..=MAX_SIDES).contains(&d.sides));
                    prop_assert!(d.modifier.unsigned_abs() <= MAX_MODIFIER);
                }
                Some(Ok(_)) => {}
                Some(Err(refusal)) => {
                    let answer = refusal.to_string();
                    prop_assert!(answer.chars().count() < 120, "{answer}");
                    prop_assert!(!answer.chars().any(char::is_control), "{answer:?}");
                }
            }
        }

        /// Commands with random dice are parsed or refused, never wrong.
        #[test]
        fn any_dice_spec_is_judged_right(count in 0u64..100_000, sides in 0u64..100_000) {
            let parsed = parse(&format!("!roll {count}d{sides}"));
            let fits = (1..=u64::from(MAX_DICE)).contains(&count)
                && (2..=u64::from(MAX_SIDES)).contains(&sides);
            prop_assert_eq!(matches!(parsed, Some(Ok(Command::Roll(_)))), fits);
        }

        /// The longest possible answer to a roll still fits on one line.
        #[test]
        fn roll_answers_are_bounded(count in 1..=MAX_DICE, seed in any::<u64>()) {
            let mut rng = fastrand::Rng::with_seed(seed);
            let worst = dice(count, MAX_SIDES, -(MAX_MODIFIER as i32));
            let rolls = roll(&worst, &mut rng);
            let name = "n".repeat(chat_core::protocol::MAX_NAME_CHARS);
            prop_assert!(roll_text(&name, &worst, &rolls).len() < 260);
        }
    }
}
