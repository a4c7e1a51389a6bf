//! The explorer page in a real headless Chromium (Debian's `chromium`,
//! installed by `scripts/test.sh`), driven over the DevTools protocol by
//! chromiumoxide, against the real binary. Screenshots are saved under
//! `target/tmp/explorer/`.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use chromiumoxide::browser::{Browser, BrowserConfig};
use chromiumoxide::page::ScreenshotParams;
use chromiumoxide::Page;
use futures_util::StreamExt;
use ledger_core::StatusCode;
use support::{address, dev_transfer, Node};

/// The Chromium the tests drive.
const CHROMIUM: &str = "/usr/bin/chromium";

/// Flags for a headless Chromium on a machine with no network but loopback.
const FLAGS: [&str; 7] = [
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
];

struct Session {
    browser: Browser,
    handler: tokio::task::JoinHandle<()>,
    page: Page,
    _profile: tempfile::TempDir,
}

impl Session {
    async fn open(url: &str) -> Session {
        assert!(
            std::path::Path::new(CHROMIUM).exists(),
            "{CHROMIUM} is missing: run scripts/test.sh, which installs it"
        );
        let profile = tempfile::tempdir().expect("profile dir");
        let config = BrowserConfig::builder()
            .chrome_executable(CHROMIUM)
            .no_sandbox()
            .args(FLAGS)
            .user_data_dir(profile.path())
            .window_size(1280, 900)
            .build()
            .expect("browser config");
        let (browser, mut events) = Browser::launch(config).await.expect("Chromium starts");
        let handler = tokio::spawn(async move { while events.next().await.is_some() {} });
        let page = browser.new_page(url).await.expect("the page opens");
        Session {
            browser,
            handler,
            page,
            _profile: profile,
        }
    }

    /// Whether the JavaScript condition `condition` holds within `within`:
    /// checked now and at every change of the document, not on a timer.
    async fn holds(&self, condition: &str, within: Duration) -> bool {
        let script = format!(
            "new Promise((resolve) => {{
                const check = () => {{ try {{ return Boolean({condition}); }} catch {{ return false; }} }};
                if (check()) return resolve(true);
                const observer = new MutationObserver(() => {{
                    if (check()) {{ observer.disconnect(); resolve(true); }}
                }});
                observer.observe(document, {{ subtree: true, childList: true, characterData: true, attributes: true }});
                setTimeout(() => {{ observer.disconnect(); resolve(check()); }}, {});
            }})",
            within.as_millis()
        );
        self.page
            .evaluate(script)
            .await
            .expect("evaluates")
            .into_value::<bool>()
            .expect("a boolean")
    }

    /// The page's text inside `selector`.
    async fn text(&self, selector: &str) -> String {
        let script = format!("document.querySelector({selector:?})?.innerText ?? ''");
        self.page
            .evaluate(script)
            .await
            .expect("evaluates")
            .into_value::<String>()
            .expect("text")
    }

    async fn search(&self, query: &str) {
        let input = self.page.find_element("#search").await.expect("search box");
        input.click().await.expect("focus");
        // Clear what an earlier search left, then type as a person would.
        self.page
            .evaluate("document.getElementById('search').value = ''")
            .await
            .expect("clears");
        input.type_str(query).await.expect("types");
        input.press_key("Enter").await.expect("submits");
    }

    async fn screenshot(&self, name: &str) {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("explorer");
        std::fs::create_dir_all(&dir).expect("artifact dir");
        let path = dir.join(format!("{name}.png"));
        self.page
            .save_screenshot(ScreenshotParams::builder().full_page(true).build(), &path)
            .await
            .expect("screenshot");
        eprintln!("screenshot: {}", path.display());
    }

    async fn close(mut self) {
        self.browser.close().await.expect("closes");
        let _ = self.browser.wait().await;
        self.handler.abort();
    }
}

const SECOND: Duration = Duration::from_secs(1);
const PATIENCE: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_explorer_shows_the_chain_live_and_finds_what_is_searched() {
    let node = Node::start();
    let client = node.client().await;
    let url = format!(
        "{}/",
        node.url
            .replacen("ws://", "http://", 1)
            .trim_end_matches('/')
    );
    let session = Session::open(&url).await;

    // The page loads and shows the genesis block as the head.
    assert!(
        session
            .holds(
                "document.querySelector('#blocks tr[data-number=\"0\"]')",
                PATIENCE
            )
            .await,
        "the genesis block is listed"
    );
    assert_eq!(session.text("#head-number").await, "#0");
    assert!(
        session
            .holds(
                "document.getElementById('node').innerText.includes('single')",
                PATIENCE
            )
            .await
    );
    session.screenshot("1-genesis").await;

    // A transfer through the API: its block is listed within a second of
    // its final status.
    let receiver = address(42);
    let tx = dev_transfer(receiver, 250, 10, 1);
    let status = client.push_and_wait(&tx.to_raw()).await.expect("pushed");
    assert_eq!(status.status_code, StatusCode::Success);
    let depth = client
        .last_block_info()
        .await
        .expect("tip")
        .top_block_number;
    assert!(
        session
            .holds(
                &format!("document.querySelector('#blocks tr[data-number=\"{depth}\"]')"),
                SECOND
            )
            .await,
        "block {depth} is shown within a second"
    );
    session.screenshot("2-new-block").await;

    // The transaction by its hash: fields and the status spelled out.
    let hash = tx.hash().to_string();
    session.search(&hash).await;
    assert!(
        session
            .holds(
                &format!(
                    "!document.getElementById('detail').hidden && \
                     document.getElementById('detail').innerText.includes({hash:?})"
                ),
                PATIENCE
            )
            .await,
        "the transaction is shown"
    );
    let detail = session.text("#detail").await;
    assert!(detail.contains("0 Success"), "{detail}");
    assert!(detail.contains("1 Transfer"), "{detail}");
    assert!(detail.contains(&receiver.to_string()), "{detail}");
    session.screenshot("3-transaction").await;

    // The block by number lists the transaction under the hash the page
    // computed itself.
    session.search(&depth.to_string()).await;
    assert!(
        session
            .holds(
                &format!(
                    "document.getElementById('detail').innerText.includes('Block #{depth}') && \
                     document.getElementById('detail').innerText.includes({hash:?})"
                ),
                PATIENCE
            )
            .await,
        "block {depth} with the transaction's hash: {}",
        session.text("#detail").await
    );

    // The address by its base58 text: balance, nonce, type, transactions.
    session.search(&receiver.to_string()).await;
    assert!(
        session
            .holds(
                "document.getElementById('detail').innerText.includes('Balance')",
                PATIENCE
            )
            .await
    );
    let detail = session.text("#detail").await;
    assert!(detail.contains("250"), "{detail}");
    assert!(detail.contains("client"), "{detail}");
    assert!(detail.contains(&hash), "{detail}");
    assert!(detail.contains("in"), "{detail}");
    session.screenshot("4-address").await;

    // An unknown hash gets a clear message.
    let unknown = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    session.search(unknown).await;
    assert!(
        session
            .holds("!document.getElementById('message').hidden", PATIENCE)
            .await
    );
    assert_eq!(
        session.text("#message").await,
        format!("No transaction or block has the hash {unknown}.")
    );
    session.screenshot("5-unknown-hash").await;

    // Not a number, hash or address.
    session.search("hello?").await;
    assert!(
        session
            .holds(
                "document.getElementById('message').innerText.includes('is not a block number')",
                PATIENCE
            )
            .await
    );
    session.close().await;
}
