//! Where a request goes, by its path (api-extensions.md, "One port,
//! several surfaces"). The likelib v1 API stays on `/`, so likelib.js and
//! every existing client keep working.

use crate::extensions::STREAM_PATH;

/// A place a request can be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum Route {
    /// `/`: the likelib v1 WebSocket API, and for a browser (no
    /// upgrade) the explorer page.
    V1,
    /// The valid-transactions stream (a WebSocket).
    Stream,
    /// `GET /api/v1/`: what the node is and where its surfaces are.
    ApiRoot,
    /// `GET /metrics`: Prometheus text.
    Metrics,
}

/// The route of `path`, if any.
pub(crate) fn route(path: &str) -> Option<Route> {
    match path {
        "/" => Some(Route::V1),
        STREAM_PATH => Some(Route::Stream),
        "/api/v1/" | "/api/v1" => Some(Route::ApiRoot),
        "/metrics" => Some(Route::Metrics),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_surface_has_its_path_and_nothing_else_does() {
        assert_eq!(route("/"), Some(Route::V1));
        assert_eq!(
            route("/api/v1/streams/valid_transactions"),
            Some(Route::Stream)
        );
        assert_eq!(route("/api/v1/"), Some(Route::ApiRoot));
        assert_eq!(route("/api/v1"), Some(Route::ApiRoot));
        assert_eq!(route("/metrics"), Some(Route::Metrics));
        for path in [
            "",
            "/v1",
            "//",
            "/%2F",
            "/metrics/",
            "/api/v1/streams",
            "/api/v1/streams/valid_transactions/",
            "/api/v2/",
        ] {
            assert_eq!(route(path), None, "{path}");
        }
    }
}
