//! `echo_bot` against the real server: a private message comes back,
//! privately, once, and nothing reaches the room.

mod common;

use chat_core::{Event, SessionConfig};
use clap::Parser;
use common::{client, client_with, restart_drill, server, spawn_bot, stop_server, within};

// The very file `cargo run --example echo_bot` builds, run in-process.
#[path = "../echo_bot.rs"]
#[allow(dead_code)]
mod echo_bot;

#[async_std::test]
async fn answers_private_messages_privately_and_only_once() {
    let server = server().await;
    let addr = server.addr().to_string();
    let mut bob = client(&addr, "bob").await;
    spawn_bot(
        "echo",
        echo_bot::run(SessionConfig::new(&addr, "echo"), Vec::new()),
    );
    let mut alice = client(&addr, "alice").await;
    alice.wait_for("echo").await;

    for text in ["hello there", "second", "  spaced  out  "] {
        // The answer is the text just sent, not a repeat of an earlier one.
        let answer = alice.private_answer("echo", text).await;
        assert_eq!(answer.to, "alice");
        assert_eq!(answer.text, text);
    }

    // Nothing echo did was public: the first thing bob sees said in the room
    // is alice's marker, which she sent after getting all three answers.
    alice.say("marker").await;
    let first = bob
        .expect("something said", |e| {
            matches!(e, Event::Message(_) | Event::Action(_) | Event::Private(_))
        })
        .await;
    assert!(
        matches!(&first, Event::Message(m) if m.from == "alice" && m.text == "marker"),
        "{first:?}"
    );
    stop_server(server).await;
}

#[async_std::test]
async fn comes_back_after_a_server_restart_and_fails_when_its_session_ends() {
    let first = server().await;
    let addr = first.addr().to_string();
    let args = echo_bot::Args::try_parse_from(["echo_bot", "-s", &addr]).expect("flags");
    let config =
        chat_examples::bot_config(args.server, args.name, &args.access).expect("no file to read");
    let run = |config| echo_bot::run(config, Vec::new());
    restart_drill(first, ("echo", "echo2"), config, run, |alice| {
        Box::pin(async move {
            let answer = alice.private_answer("echo", "hello").await;
            assert_eq!(answer.text, "hello");
        })
    })
    .await;
}

#[test]
fn flags_default_to_the_local_server_and_the_name_echo() {
    let args = echo_bot::Args::try_parse_from(["echo_bot"]).expect("no flags needed");
    assert_eq!(args.server, chat_core::DEFAULT_ADDR);
    assert_eq!(args.name, "echo");
    let args = echo_bot::Args::try_parse_from(["echo_bot", "--server", "h:1", "--name", "e2"])
        .expect("both flags");
    assert_eq!((args.server.as_str(), args.name.as_str()), ("h:1", "e2"));
    let args = echo_bot::Args::try_parse_from(["echo_bot", "--room", "rust", "--room", "#go"])
        .expect("rooms");
    assert_eq!(args.rooms.names, ["rust", "go"]);
    // The short flags every client shares.
    let args = echo_bot::Args::try_parse_from(["echo_bot", "-s", "h:1", "-n", "e2", "-r", "go"])
        .expect("short flags");
    assert_eq!((args.server.as_str(), args.name.as_str()), ("h:1", "e2"));
    assert_eq!(args.rooms.names, ["go"]);
    common::assert_help_wraps(&<echo_bot::Args as clap::CommandFactory>::command());
}

#[async_std::test]
async fn answers_privately_from_its_rooms_too() {
    let server = server().await;
    let addr = server.addr().to_string();
    spawn_bot(
        "echo",
        echo_bot::run(SessionConfig::new(&addr, "echo"), vec!["rust".into()]),
    );
    let mut alice = client(&addr, "alice").await;
    // With --room it is in #rust as well as the lobby.
    alice.join_and_wait_for("rust", "echo").await;
    let answer = alice.private_answer("echo", "from #rust").await;
    assert!(answer.text == "from #rust", "{answer:?}");
    stop_server(server).await;
}

#[async_std::test]
async fn works_over_tls_with_the_room_password() {
    use chat_core::TlsOptions;

    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key) = chat_server::tls::generate_self_signed(&["127.0.0.1".into()])
        .expect("generates a certificate");
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert).expect("writes");
    std::fs::write(&key_path, key).expect("writes");
    let password_file = dir.path().join("password");
    std::fs::write(&password_file, "open sesame\n").expect("writes");
    let server = common::server_with(chat_server::Config {
        tls: Some(chat_server::tls::load(&cert_path, &key_path).expect("loads")),
        password: Some(chat_server::Secret::new("open sesame")),
        refusal_delay: std::time::Duration::from_millis(50),
        ..common::server_config()
    })
    .await;
    let addr = server.addr().to_string();

    // The bot's configuration from its own flags, as `main` builds it.
    let flags = |password: bool| {
        let mut argv = vec!["echo_bot", "--server", &addr];
        argv.extend(["--ca", cert_path.to_str().expect("UTF-8")]);
        if password {
            argv.extend(["--password-file", password_file.to_str().expect("UTF-8")]);
        }
        let args = echo_bot::Args::try_parse_from(argv).expect("valid flags");
        args.access
            .apply_with_env(SessionConfig::new(args.server, args.name), None)
            .expect("the password file is readable")
    };
    let refused = within(
        "the bot without a password",
        echo_bot::run(flags(false), Vec::new()),
    )
    .await
    .expect_err("refused");
    assert!(
        format!("{refused:#}").contains("refused by server: this room needs a password"),
        "{refused:#}"
    );
    spawn_bot("echo", echo_bot::run(flags(true), Vec::new()));

    let alice = SessionConfig::new(&addr, "alice")
        .with_tls(TlsOptions {
            ca_file: Some(cert_path.clone()),
            insecure: false,
        })
        .with_password("open sesame");
    let mut alice = client_with(alice).await;
    alice.wait_for("echo").await;
    let answer = alice.private_answer("echo", "over TLS").await;
    assert!(
        answer.text == "over TLS" && answer.to == "alice",
        "{answer:?}"
    );
    stop_server(server).await;
}
