//! Prometheus metrics at `/metrics`. Labels are bounded (route templates, not raw paths), so a
//! scanner cannot blow up the number of series.

use std::sync::{Arc, Mutex, OnceLock};

use switchboard_media::ports::PortAllocator;

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

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CauseLabels {
    pub cause: String,
}

/// Call control's figures: calls in progress, how calls ended (the causes are a fixed set),
/// DTMF seen, and the RTP port pool (read at each scrape).
#[derive(Debug, Clone, Default)]
pub struct CallMetrics {
    pub active: Gauge,
    pub ended: Family<CauseLabels, Counter>,
    pub dtmf_events: Counter,
    /// Callers who waited past their queue's alert threshold.
    pub wait_alerts: Counter,
    /// The SIP service puts its port allocator here when it starts.
    pub rtp_ports: Arc<OnceLock<Arc<Mutex<PortAllocator>>>>,
}

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<HttpLabels, Counter>,
    pub up_since_seconds: Gauge,
    /// SIP transport counters, filled by the SIP driver and read at each scrape.
    pub sip_transport: Arc<switchboard_sip::driver::Counters>,
    pub calls: CallMetrics,
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
        let calls = CallMetrics::default();
        registry.register("calls_active", "Calls in progress", calls.active.clone());
        registry.register("calls_ended", "Calls ended, by cause", calls.ended.clone());
        registry.register(
            "dtmf_events",
            "RFC 4733 key presses seen in calls",
            calls.dtmf_events.clone(),
        );
        registry.register(
            "queue_wait_alerts",
            "Callers who waited in a queue past its alert threshold",
            calls.wait_alerts.clone(),
        );
        registry.register_collector(Box::new(RtpPortsCollector(calls.rtp_ports.clone())));
        Arc::new(Metrics {
            calls,
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
        let refused = self
            .0
            .overload_refused
            .load(std::sync::atomic::Ordering::Relaxed);
        let family = encoder.encode_descriptor(
            "sip_overload_refused",
            "New SIP dialogs answered 503 because call control was overloaded",
            None,
            prometheus_client::metrics::MetricType::Counter,
        )?;
        ConstCounter::new(refused).encode(family)?;
        let limited = self
            .0
            .source_limited
            .load(std::sync::atomic::Ordering::Relaxed);
        let family = encoder.encode_descriptor(
            "sip_source_limited",
            "New SIP dialogs answered 503 because their source address exceeded sip.source_rate_per_sec",
            None,
            prometheus_client::metrics::MetricType::Counter,
        )?;
        ConstCounter::new(limited).encode(family)?;
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

/// `switchboard_rtp_port_pairs_in_use` and `switchboard_rtp_port_pairs_capacity`.
#[derive(Debug)]
struct RtpPortsCollector(Arc<OnceLock<Arc<Mutex<PortAllocator>>>>);

impl prometheus_client::collector::Collector for RtpPortsCollector {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::DescriptorEncoder,
    ) -> Result<(), std::fmt::Error> {
        use prometheus_client::encoding::EncodeMetric;
        use prometheus_client::metrics::gauge::ConstGauge;
        let Some(ports) = self.0.get() else {
            return Ok(());
        };
        let (in_use, capacity) = match ports.lock() {
            Ok(p) => (p.in_use(), p.capacity()),
            Err(_) => return Ok(()),
        };
        for (name, help, value) in [
            (
                "rtp_port_pairs_in_use",
                "RTP/RTCP port pairs held by calls",
                in_use,
            ),
            (
                "rtp_port_pairs_capacity",
                "RTP/RTCP port pairs configured",
                capacity,
            ),
        ] {
            let metric = ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
            let family = encoder.encode_descriptor(
                name,
                help,
                None,
                prometheus_client::metrics::MetricType::Gauge,
            )?;
            metric.encode(family)?;
        }
        Ok(())
    }
}
