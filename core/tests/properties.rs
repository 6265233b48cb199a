//! Property tests: arbitrary bytes into the codec and arbitrary strings into
//! the input parser never panic, and always give a frame or a typed error.

use chat_core::codec::{encode_frame, DecodeError, FrameDecoder, LineDecoder};
use chat_core::protocol::{ChatMessage, ClientFrame, ServerFrame};
use chat_core::{parse_input, sanitize, Input, InputError};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic_and_stay_bounded(
        chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..20),
        max in 1usize..64,
    ) {
        let mut decoder = FrameDecoder::<ClientFrame>::new(max);
        let mut lines = LineDecoder::new(max);
        for chunk in &chunks {
            decoder.feed(chunk);
            lines.feed(chunk);
            while let Some(result) = decoder.next_frame() {
                // Every outcome is a frame or one of the typed errors.
                if let Err(e) = result {
                    let typed = matches!(
                        e,
                        DecodeError::LineTooLong { .. } | DecodeError::InvalidUtf8 { .. } | DecodeError::Malformed(_)
                    );
                    prop_assert!(typed);
                }
            }
            while let Some(result) = lines.next_line() {
                if let Ok(line) = result {
                    prop_assert!(line.len() <= max);
                    prop_assert!(!line.contains('\n'));
                }
            }
            // Never holds more than one line's limit plus what was just fed.
            prop_assert!(lines.buffered() <= max + 1 + chunk.len());
        }
    }

    #[test]
    fn any_text_round_trips_through_a_frame(text in any::<String>(), from in "[a-z]{1,8}", seq in any::<u64>()) {
        let frame = ServerFrame::Message(ChatMessage { room: None, seq, time: 1, from, text, id: None });
        let bytes = encode_frame(&frame);
        prop_assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 1);
        let mut decoder = FrameDecoder::<ServerFrame>::new(bytes.len());
        for byte in &bytes {
            decoder.feed(std::slice::from_ref(byte));
        }
        prop_assert_eq!(decoder.next_frame(), Some(Ok(frame)));
    }

    #[test]
    fn the_input_parser_never_panics(line in any::<String>()) {
        match parse_input(&line) {
            Ok(Input::Say(text)) => prop_assert!(!text.trim().is_empty()),
            Ok(_) => prop_assert!(line.starts_with('/')),
            Err(InputError::Empty) => prop_assert!(line.trim().is_empty()),
            Err(InputError::UnknownCommand(_) | InputError::Usage(_)) => prop_assert!(line.starts_with('/')),
        }
    }

    #[test]
    fn sanitized_text_has_no_control_characters(text in any::<String>()) {
        let clean = sanitize(&text);
        prop_assert!(!clean.chars().any(char::is_control));
    }
}
