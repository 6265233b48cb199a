//! The web client in a real headless Chromium, driven through WebDriver
//! against the real server: two browser users and a native `chat-core`
//! client talk in `#lobby` and `#rust`; unread counts, mentions and own
//! lines are marked; a peer's HTML shows as text; older messages load on
//! request; a page of another origin cannot open the socket; the page comes
//! back by itself after a server restart; it fits a phone's screen; and a
//! large room shows its headcount.
//!
//! `CHAT_WEB_SCREENSHOT=docs/img/web.png` saves the first test's window,
//! which is how the picture in the docs is made.

mod common;
mod webdriver;

use std::net::SocketAddr;

use async_std::task::block_on;
use chat_core::Event;
use chat_server::{Config, ServerHandle};
use common::{within, Structured};
use serde_json::json;
use webdriver::{wait_for, Browser, Driver, ENTER};

fn quiet() -> Config {
    Config {
        rate_limit: None,
        status_interval: None,
        ..Config::default()
    }
}

fn web_server(config: Config) -> (ServerHandle, SocketAddr) {
    let server = block_on(ServerHandle::start_with_web(config)).expect("server starts");
    let web = server.web_addr().expect("a web address");
    (server, web)
}

/// Opens the page, types a name and presses Enter; waits to be in.
fn join(browser: &Browser, web: SocketAddr, name: &str) {
    browser.open(&format!("http://{web}/"));
    let field = browser.find("#name");
    browser.type_into(&field, &format!("{name}{ENTER}"));
    browser.wait_until(
        &format!("{name} connected"),
        "return document.body.dataset.state === 'connected' && document.getElementById('status').textContent",
        json!([]),
    );
}

fn say(browser: &Browser, text: &str) {
    let compose = browser.find("#compose");
    browser.type_into(&compose, &format!("{text}{ENTER}"));
}

/// Waits for a line from `from` saying `text` in the room shown; its
/// classes.
fn wait_line(browser: &Browser, from: &str, text: &str) -> String {
    let found = browser.wait_until(
        &format!("<{from}> {text} on the page"),
        "for (const line of document.querySelectorAll('.room-log:not([hidden]) .line')) {
             const from = line.querySelector('.from'), text = line.querySelector('.text');
             if (from && text && from.textContent === arguments[0] && text.textContent === arguments[1])
                 return line.className;
         }
         return null;",
        json!([from, text]),
    );
    found.as_str().unwrap_or_default().to_owned()
}

/// The shown room's title.
fn title(browser: &Browser) -> String {
    browser
        .run(
            "return document.getElementById('room-title').textContent",
            json!([]),
        )
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn native(addr: SocketAddr, name: &str) -> Structured {
    block_on(Structured::join(addr, name))
}

fn native_hears(native: &mut Structured, from: &str, text: &str, room: &str) {
    block_on(native.next_matching(|e| {
        matches!(e, Event::Message(m) if m.from == from && m.text == text && m.room.as_deref() == Some(room))
    }));
}

#[test]
fn two_browsers_and_a_native_client_talk_in_two_rooms() {
    let (server, web) = web_server(quiet());
    let driver = Driver::start();
    let alice = driver.browser(1100, 680);
    let bob = driver.browser(1100, 680);
    join(&alice, web, "alice");
    join(&bob, web, "bob");
    let mut nat = native(server.addr(), "nat");
    let sender = nat.sender.clone();

    say(&alice, "hello from alice");
    let own = wait_line(&alice, "alice", "hello from alice");
    assert!(own.contains("own"), "own lines are marked: {own}");
    let theirs = wait_line(&bob, "alice", "hello from alice");
    assert!(!theirs.contains("own"), "{theirs}");
    native_hears(&mut nat, "alice", "hello from alice", "lobby");

    block_on(within("nat says", sender.say("hi bob, hi alice"))).expect("say");
    let mention = wait_line(&bob, "nat", "hi bob, hi alice");
    assert!(
        mention.contains("mention"),
        "mentions are marked: {mention}"
    );
    wait_line(&alice, "nat", "hi bob, hi alice");

    // A peer's HTML is text on the page, and runs nothing.
    let xss = "<img src=x onerror=alert(1)>";
    block_on(within("nat says", sender.say(xss))).expect("say");
    wait_line(&bob, "nat", xss);
    wait_line(&alice, "nat", xss);
    let images = bob.run(
        "return document.querySelectorAll('#log img').length",
        json!([]),
    );
    assert_eq!(images, json!(0), "no element was made from the text");
    assert_eq!(bob.alert_text(), None, "no script ran");

    // Another room: alice with /join, bob with the field under the list.
    say(&alice, "/join #rust");
    wait_for("alice shows #rust", || {
        (title(&alice) == "#rust").then_some(())
    });
    say(&alice, "/topic all things Rust");
    let join_field = bob.find("#join-room");
    bob.type_into(&join_field, &format!("#rust{ENTER}"));
    wait_for("bob shows #rust", || (title(&bob) == "#rust").then_some(()));
    block_on(within("nat joins", sender.join("rust"))).expect("join");
    block_on(nat.next_matching(|e| matches!(e, Event::RoomJoined(r) if r.room == "rust")));
    say(&alice, "anyone tried the new trait solver?");
    wait_line(&bob, "alice", "anyone tried the new trait solver?");
    say(&bob, "in rust now");
    wait_line(&alice, "bob", "in rust now");
    native_hears(&mut nat, "bob", "in rust now", "rust");
    block_on(within(
        "nat says",
        sender.say_in("rust", "welcome to #rust, everyone"),
    ))
    .expect("say");
    wait_line(&alice, "nat", "welcome to #rust, everyone");
    alice.wait_until(
        "everyone in #rust's user list",
        "const names = [...document.querySelectorAll('#users li')].map(li => li.textContent).join(',');
         return names === 'alice,bob,nat' && names;",
        json!([]),
    );

    // Meanwhile in #lobby: counted for alice, with a mention mark.
    block_on(within(
        "nat says",
        sender.say_in("lobby", "alice: are you there?"),
    ))
    .expect("say");
    block_on(within("nat says", sender.say_in("lobby", "and one more"))).expect("say");
    let badge = alice.wait_until(
        "#lobby's unread count",
        "const li = document.querySelector('#rooms li[data-room=lobby]');
         const badge = li && li.querySelector('.badge');
         return badge && badge.textContent === '2' && li.querySelector('.mention-mark') !== null;",
        json!([]),
    );
    assert_eq!(badge, json!(true));
    say(&bob, "alice: yes, it builds our crate fine");
    let mention = wait_line(&alice, "bob", "alice: yes, it builds our crate fine");
    assert!(mention.contains("mention"), "{mention}");
    say(&alice, "/me cheers");
    wait_line(&bob, "* alice", "cheers");

    if let Ok(path) = std::env::var("CHAT_WEB_SCREENSHOT") {
        std::fs::write(&path, alice.screenshot()).expect("write the screenshot");
    }
    // Showing #lobby clears its count.
    let lobby = alice.find("#rooms li[data-room=lobby]");
    alice.click(&lobby);
    wait_line(&alice, "nat", "alice: are you there?");
    let badges = alice.run(
        "return document.querySelectorAll('#rooms .badge').length",
        json!([]),
    );
    assert_eq!(badges, json!(0));
    // The page did all that within its Content-Security-Policy, and
    // nothing on it went wrong.
    // (A policy violation is SEVERE.)
    for browser in [&alice, &bob] {
        let console = browser.console();
        let bad: Vec<&String> = console
            .iter()
            .filter(|line| line.contains("SEVERE") || line.contains("WARNING"))
            .collect();
        assert!(bad.is_empty(), "{console:#?}");
    }
}

/// The login form's error, once it says something.
fn login_error(browser: &Browser) -> String {
    let said = browser.wait_until(
        "the login form's error",
        "const form = document.getElementById('login');
         return !form.hidden && document.getElementById('login-error').textContent;",
        json!([]),
    );
    browser.run(
        "document.getElementById('login-error').textContent = ''",
        json!([]),
    );
    said.as_str().unwrap_or_default().to_owned()
}

#[test]
fn a_password_and_a_taken_name_are_asked_for_again() {
    let (server, web) = web_server(Config {
        password: Some(chat_server::Secret::new("open sesame".to_owned())),
        refusal_delay: std::time::Duration::from_millis(10),
        ..quiet()
    });
    let driver = Driver::start();
    let browser = driver.browser(900, 600);
    browser.open(&format!("http://{web}/"));
    let name = browser.find("#name");
    browser.type_into(&name, &format!("pat{ENTER}"));
    assert_eq!(login_error(&browser), "this room needs a password");
    let shown = browser.run(
        "return !document.getElementById('password-row').hidden",
        json!([]),
    );
    assert_eq!(shown, json!(true), "the password field appears");
    let password = browser.find("#password");
    browser.type_into(&password, &format!("guess{ENTER}"));
    assert_eq!(login_error(&browser), "wrong password");

    // A native client holds "nat": the page is told, and tries another.
    let config = chat_core::SessionConfig::new(server.addr().to_string(), "nat")
        .with_password("open sesame");
    let nat = block_on(within(
        "nat connects",
        <chat_core::TcpSession as chat_core::ChatSession>::connect(config),
    ))
    .expect("nat joins");
    browser.clear(&password);
    browser.type_into(&password, "open sesame");
    browser.clear(&name);
    browser.type_into(&name, &format!("nat{ENTER}"));
    let taken = login_error(&browser);
    assert!(taken.contains("taken"), "{taken}");
    browser.clear(&name);
    browser.type_into(&name, &format!("pat{ENTER}"));
    browser.wait_until(
        "pat connected",
        "return document.body.dataset.state === 'connected'",
        json!([]),
    );
    drop(nat);
}

#[test]
fn older_messages_load_on_request() {
    let (server, web) = web_server(Config {
        replay: 5,
        ..quiet()
    });
    let nat = native(server.addr(), "nat");
    for i in 1..=30 {
        block_on(within("nat says", nat.sender.say(format!("line {i}")))).expect("say");
    }
    let driver = Driver::start();
    let browser = driver.browser(900, 600);
    join(&browser, web, "reader");
    wait_line(&browser, "nat", "line 30");
    let count = "return document.querySelectorAll('.room-log:not([hidden]) .line.message').length";
    assert_eq!(browser.run(count, json!([])), json!(5), "the replay only");
    // Scrolling to the top asks for earlier ones (the button does too).
    browser.run(
        "const log = document.getElementById('log'); log.scrollTop = 0; log.dispatchEvent(new Event('scroll'));",
        json!([]),
    );
    browser.wait_until(
        "all 30 lines, in order",
        "const texts = [...document.querySelectorAll('.room-log:not([hidden]) .line.message .text')].map(t => t.textContent);
         return texts.length === 30 && texts[0] === 'line 1' && texts[29] === 'line 30';",
        json!([]),
    );
    let start = browser.wait_until(
        "the start of the room",
        "const b = document.querySelector('.room-log:not([hidden]) .earlier'); return b.disabled && b.textContent;",
        json!([]),
    );
    assert_eq!(start, json!("start of #lobby"));
}

#[test]
fn a_large_room_shows_its_headcount() {
    let (server, web) = web_server(Config {
        large_room: Some(3),
        ..quiet()
    });
    let _first = [native(server.addr(), "ann"), native(server.addr(), "bo")];
    let driver = Driver::start();
    let browser = driver.browser(900, 600);
    join(&browser, web, "wanda");
    let people = "return document.getElementById('user-count').textContent";
    browser.wait_until(
        "three listed",
        &format!("{people} === 'People (3)'"),
        json!([]),
    );
    // Two more make the room large: counted, not named.
    let _more = [native(server.addr(), "cy"), native(server.addr(), "di")];
    browser.wait_until(
        "the headcount in the header",
        &format!("{people} === 'People (5)'"),
        json!([]),
    );
    let names = "return [...document.querySelectorAll('#users li')].map(l => l.textContent)";
    let listed = browser.run(names, json!([]));
    assert!(
        !listed.to_string().contains("\"di\""),
        "di was counted, not named: {listed}"
    );
    browser.wait_until(
        "the headcount in the conversation",
        "return [...document.querySelectorAll('.room-log:not([hidden]) .line')].some(l => l.textContent.includes('1 joined, 0 left (5 here)'))",
        json!([]),
    );
}

/// Serves one page, whatever is asked, on `listener`: another site a
/// visitor might have open, with an origin of its own.
fn serve_page(listener: std::net::TcpListener, page: String) {
    use std::io::{Read, Write};
    std::thread::spawn(move || {
        for stream in listener.incoming().take(20) {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
            let mut request = Vec::new();
            let mut byte = [0u8; 1];
            while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                request.push(byte[0]);
            }
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                page.len()
            );
            let _ = stream.write_all(answer.as_bytes());
        }
    });
}

/// A page that opens the chat's WebSocket at `target` and puts what
/// happened in its title.
fn opener(target: SocketAddr) -> String {
    format!(
        "<!doctype html><title>waiting</title><script>
         const ws = new WebSocket('ws://{target}/ws');
         ws.onopen = () => {{ document.title = 'opened'; }};
         ws.onclose = (e) => {{ if (document.title !== 'opened') document.title = 'refused ' + e.code; }};
         </script>"
    )
}

fn site() -> (std::net::TcpListener, SocketAddr) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    (listener, addr)
}

fn page_title_once_settled(browser: &Browser) -> String {
    wait_for("the page's socket settles", || {
        let title = browser.title();
        (title != "waiting").then_some(title)
    })
}

#[test]
fn a_page_of_another_origin_cannot_open_the_socket() {
    let (_server, web) = web_server(quiet());
    // A second server that lists the friendly site's origin.
    let (friendly, friendly_addr) = site();
    let listed = format!("http://{friendly_addr}");
    let (_listing, listing_web) = web_server(Config {
        web_origins: vec![chat_server::web::normalize_origin(&listed).expect("origin")],
        ..quiet()
    });
    let (evil, evil_addr) = site();
    serve_page(evil, opener(web));
    serve_page(friendly, opener(listing_web));

    let driver = Driver::start();
    let browser = driver.browser(800, 600);
    browser.open(&format!("http://{evil_addr}/"));
    assert_eq!(
        page_title_once_settled(&browser),
        "refused 1006",
        "the handshake was refused (403)"
    );
    // The same page from the origin a server lists opens its socket.
    browser.open(&format!("http://{friendly_addr}/"));
    assert_eq!(page_title_once_settled(&browser), "opened");
}

#[test]
fn the_page_comes_back_after_a_server_restart() {
    let (server, web) = web_server(quiet());
    let driver = Driver::start();
    let browser = driver.browser(900, 600);
    join(&browser, web, "carol");
    say(&browser, "/join #rust");
    wait_for("carol shows #rust", || {
        (title(&browser) == "#rust").then_some(())
    });

    block_on(within("the server stops", server.shutdown())).expect("stops");
    let status = browser.wait_until(
        "the page sees the server gone",
        "return document.body.dataset.state !== 'connected' && document.getElementById('status').textContent",
        json!([]),
    );
    assert!(
        status
            .as_str()
            .is_some_and(|s| s.contains("server is shutting down") || s.contains("trying again")),
        "{status}"
    );

    let again = block_on(ServerHandle::start_with_web_on(quiet(), web)).expect("starts again");
    let chat = again.addr();
    browser.wait_until(
        "the page reconnects by itself",
        "return document.body.dataset.state === 'connected'",
        json!([]),
    );
    // Back in #rust too: a native client there is heard in it.
    let mut nat = native(chat, "nat");
    block_on(within("nat joins", nat.sender.join("rust"))).expect("join");
    let joined = block_on(nat.next_matching(|e| matches!(e, Event::RoomJoined(_))));
    let Event::RoomJoined(room) = joined else {
        unreachable!()
    };
    let users: Vec<&str> = room.users.iter().map(String::as_str).collect();
    assert!(users.contains(&"carol"), "carol rejoined #rust: {users:?}");
    block_on(within(
        "nat says",
        nat.sender.say_in("rust", "welcome back"),
    ))
    .expect("say");
    wait_line(&browser, "nat", "welcome back");
    let status = browser.run(
        "return document.getElementById('status').textContent",
        json!([]),
    );
    assert!(
        status
            .as_str()
            .is_some_and(|s| s.starts_with("connected as carol")),
        "{status}"
    );
}

#[test]
fn the_page_fits_a_phone() {
    let (server, web) = web_server(quiet());
    let driver = Driver::start();
    let phone = driver.browser(390, 844);
    join(&phone, web, "pocket");
    let nat = native(server.addr(), "nat");
    block_on(within("nat says", nat.sender.say("a long line that has to wrap on a phone-sized screen rather than make the page wider than it is"))).expect("say");
    wait_line(&phone, "nat", "a long line that has to wrap on a phone-sized screen rather than make the page wider than it is");
    let layout = phone.run(
        "const shown = (id) => getComputedStyle(document.getElementById(id)).display !== 'none';
         return {
             overflow: document.documentElement.scrollWidth > window.innerWidth,
             rooms: shown('sidebar'), users: shown('userpane'), toggle: shown('toggle-rooms'),
             compose: document.getElementById('compose').getBoundingClientRect().width,
             width: window.innerWidth,
         };",
        json!([]),
    );
    assert_eq!(layout["overflow"], json!(false), "{layout}");
    assert_eq!(
        layout["rooms"],
        json!(false),
        "the room list is a drawer: {layout}"
    );
    assert_eq!(layout["users"], json!(false), "{layout}");
    assert_eq!(layout["toggle"], json!(true), "{layout}");
    let compose = layout["compose"].as_f64().unwrap_or_default();
    let width = layout["width"].as_f64().unwrap_or_default();
    assert!(
        compose > width * 0.8,
        "the compose box spans the screen: {layout}"
    );
    let toggle = phone.find("#toggle-rooms");
    phone.click(&toggle);
    phone.wait_until(
        "the room list opens",
        "return getComputedStyle(document.getElementById('sidebar')).display !== 'none'",
        json!([]),
    );
    let lobby = phone.find("#rooms li[data-room=lobby]");
    phone.click(&lobby);
    phone.wait_until(
        "and closes when a room is picked",
        "return getComputedStyle(document.getElementById('sidebar')).display === 'none'",
        json!([]),
    );
    say(&phone, "typed on a phone");
    wait_line(&phone, "pocket", "typed on a phone");
}
