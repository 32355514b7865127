//! Prometheus metrics at `/metrics`. Labels are bounded (route templates, not raw paths), so a
//! scanner cannot blow up the number of series.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<HttpLabels, Counter>,
    pub up_since_seconds: Gauge,
    /// SIP transport counters, filled by the SIP driver and read at each scrape.
    pub sip_transport: Arc<switchboard_sip::driver::Counters>,
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        let mut registry = Registry::with_prefix("switchboard");
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            http_requests.clone(),
        );
        let up_since_seconds = Gauge::default();
        registry.register(
            "start_time_seconds",
            "Unix time the server started",
            up_since_seconds.clone(),
        );
        let sip_transport = switchboard_sip::driver::Counters::new();
        registry.register_collector(Box::new(SipTransportCollector(sip_transport.clone())));
        Arc::new(Metrics {
            sip_transport,
            registry,
            http_requests,
            up_since_seconds,
        })
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// Exports the SIP driver's counters as `switchboard_sip_*_total{transport="udp"|"tcp"}`.
#[derive(Debug)]
struct SipTransportCollector(Arc<switchboard_sip::driver::Counters>);

impl prometheus_client::collector::Collector for SipTransportCollector {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::DescriptorEncoder,
    ) -> Result<(), std::fmt::Error> {
        use prometheus_client::encoding::EncodeMetric;
        use prometheus_client::metrics::counter::ConstCounter;
        let per_transport: Vec<_> = self
            .0
            .by_transport()
            .iter()
            .map(|(t, c)| (*t, c.values()))
            .collect();
        let Some((_, first)) = per_transport.first() else {
            return Ok(());
        };
        for (i, (name, help, _)) in first.iter().enumerate() {
            let mut family = encoder.encode_descriptor(
                name,
                help,
                None,
                prometheus_client::metrics::MetricType::Counter,
            )?;
            for (transport, values) in &per_transport {
                let labels = [("transport", *transport)];
                ConstCounter::new(values[i].2).encode(family.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}
