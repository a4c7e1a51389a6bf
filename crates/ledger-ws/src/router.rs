//! Where a connection goes, by the path it asked for. Today one route:
//! the likelib v1 API on `/`, so likelib.js and every existing client keep
//! working. The HTTP surfaces, the event stream and the explorer page
//! (api-extensions.md) get their routes here.

/// A place a connection can be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum Route {
    /// The likelib v1 WebSocket API.
    V1,
}

/// The route of `path`, if any.
pub(crate) fn route(path: &str) -> Option<Route> {
    match path {
        "/" => Some(Route::V1),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_root_is_the_v1_api() {
        assert_eq!(route("/"), Some(Route::V1));
        for path in ["", "/v1", "/api/v1/", "//", "/%2F"] {
            assert_eq!(route(path), None, "{path}");
        }
    }
}
