//! What the API server counts, beside the chain's own metrics, and the
//! registry `/metrics` encodes (api-extensions.md, "Metrics").

use std::time::Duration;

use ledger_chain::ChainMetrics;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// The kinds of subscription, as the `kind` label names them.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `last_block_info`.
    Blocks,
    /// `account_info`.
    Accounts,
    /// `push_transaction`.
    Pushes,
    /// `logs`.
    Logs,
    /// A valid-transactions stream connection.
    Stream,
}

impl Kind {
    pub(crate) const ALL: [Kind; 5] = [
        Kind::Blocks,
        Kind::Accounts,
        Kind::Pushes,
        Kind::Logs,
        Kind::Stream,
    ];

    fn name(self) -> &'static str {
        match self {
            Kind::Blocks => "last_block_info",
            Kind::Accounts => "account_info",
            Kind::Pushes => "push_transaction",
            Kind::Logs => "logs",
            Kind::Stream => "stream",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

/// What `ledger_build_info` says of the build.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

/// The server's metrics and the registry that holds them with the chain's.
#[derive(Debug)]
pub(crate) struct ApiMetrics {
    registry: Registry,
    connections: Gauge,
    subscriptions: Family<KindLabel, Gauge>,
    admission: Histogram,
}

impl ApiMetrics {
    /// The server's metrics, registered beside `chain`'s.
    pub(crate) fn new(chain: &ChainMetrics) -> ApiMetrics {
        let mut registry = Registry::default();
        chain.register(&mut registry);
        let connections = Gauge::default();
        let subscriptions = Family::<KindLabel, Gauge>::default();
        // 10 µs to ~5 s.
        let admission = Histogram::new(exponential_buckets(10e-6, 2.0, 20));
        registry.register(
            "ledger_ws_connections",
            "Open WebSocket connections, v1 API and streams",
            connections.clone(),
        );
        registry.register(
            "ledger_ws_subscriptions",
            "Active subscriptions, by name, and stream connections",
            subscriptions.clone(),
        );
        registry.register(
            "ledger_admission_seconds",
            "From a push read to its Pending or refusal answer",
            admission.clone(),
        );
        let build = Family::<BuildLabels, Gauge>::default();
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        registry.register(
            "ledger_build_info",
            "The node's version, as a label of a gauge that is always 1",
            build,
        );
        registry.register_collector(Box::new(crate::process_metrics::ProcessCollector));
        for kind in Kind::ALL {
            // Every kind is reported, at zero until used.
            subscriptions
                .get_or_create(&KindLabel { kind: kind.name() })
                .set(0);
        }
        ApiMetrics {
            registry,
            connections,
            subscriptions,
            admission,
        }
    }

    /// The Prometheus text (OpenMetrics) of every metric.
    pub(crate) fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }

    /// A WebSocket connection opened; it counts until the guard drops.
    pub(crate) fn connected(&self) -> ConnectionGuard {
        self.connections.inc();
        ConnectionGuard(self.connections.clone())
    }

    /// Moves the `kind` subscription count by `delta`.
    pub(crate) fn subscriptions(&self, kind: Kind, delta: i64) {
        if delta != 0 {
            self.subscriptions
                .get_or_create(&KindLabel { kind: kind.name() })
                .inc_by(delta);
        }
    }

    /// A push was answered `took` after it was read.
    pub(crate) fn admitted(&self, took: Duration) {
        self.admission.observe(took.as_secs_f64());
    }
}

/// Counts one WebSocket connection while it lives.
pub(crate) struct ConnectionGuard(Gauge);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}
