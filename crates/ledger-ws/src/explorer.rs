//! The explorer page (`GET /` from a browser): one HTML document with its
//! style and script inlined, embedded in the binary (no CDN, no fonts: the
//! node may run offline). The page is plain JavaScript that talks to the
//! node's own v1 WebSocket API and reads `/metrics`; its sources are in
//! `crates/ledger-ws/explorer/`, with no build step.

use std::sync::LazyLock;

/// The page, assembled once.
pub(crate) static PAGE: LazyLock<String> = LazyLock::new(|| {
    include_str!("../explorer/index.html")
        .replace("/*STYLE*/", include_str!("../explorer/explorer.css"))
        .replace("/*SCRIPT*/", include_str!("../explorer/explorer.js"))
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_holds_its_style_and_script_and_nothing_from_elsewhere() {
        assert!(PAGE.contains("class Api"), "the script is inlined");
        assert!(PAGE.contains("--accent"), "the style is inlined");
        assert!(!PAGE.contains("/*SCRIPT*/") && !PAGE.contains("/*STYLE*/"));
        for outside in ["<link", " src=", "href=\"http", "url(", "@import", "fonts."] {
            assert!(!PAGE.contains(outside), "the page loads nothing: {outside}");
        }
    }
}
