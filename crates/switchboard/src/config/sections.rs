//! The sections of the config file, each with the defaults from the service rules
//! (`../shared/spec/service-rules.md`) and the architecture's listeners.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use switchboard_core::TimeWindow;

fn addr(s: &str) -> SocketAddr {
    s.parse()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
}

fn window(s: &str) -> TimeWindow {
    TimeWindow::parse(s).unwrap_or_else(|e| panic!("built-in default window {s}: {e}"))
}

/// HTTP: console, REST API, SIP over WebSocket, metrics, health.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    pub listen: SocketAddr,
    /// Largest request body accepted (bytes).
    pub max_body_bytes: usize,
    /// How long in-flight requests get to finish on SIGTERM.
    pub shutdown_grace_secs: u64,
    /// PEM certificate chain: with `tls_key_file`, the listener speaks HTTPS (and `wss://` for
    /// SIP over WebSocket). Browsers allow the microphone only on HTTPS (or localhost).
    pub tls_cert_file: Option<std::path::PathBuf>,
    /// PEM private key of `tls_cert_file`.
    pub tls_key_file: Option<std::path::PathBuf>,
    /// Web pages of other origins (`https://crm.example.com`) allowed to open SIP over
    /// WebSocket at `/sip`, besides the console's own origin.
    pub allowed_origins: Vec<String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: addr("127.0.0.1:8080"),
            max_body_bytes: 1024 * 1024,
            shutdown_grace_secs: 10,
            tls_cert_file: None,
            tls_key_file: None,
            allowed_origins: Vec::new(),
        }
    }
}

/// SIP signalling.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SipConfig {
    /// SIP domain and digest realm.
    pub domain: String,
    pub udp_listen: SocketAddr,
    pub tcp_listen: SocketAddr,
    /// Shortest and longest registration the registrar grants (seconds).
    pub register_min_expires_secs: u32,
    pub register_max_expires_secs: u32,
    /// Failed digest attempts from one address before it is locked out, and for how long.
    pub auth_max_failures: u32,
    pub auth_lockout_secs: u64,
    /// Digest algorithms challenged with, in order of preference ("SHA-256", "MD5").
    pub digest_algorithms: Vec<String>,
    /// Host written in our Via and Contact headers; empty = the UDP listen address (which
    /// then must not be a wildcard).
    pub advertised_host: String,
    /// SIP over WebSocket at `/sip` on the HTTP listener: a ping this often, the socket closed
    /// when nothing (not even a pong) arrived for the idle timeout, at most this many at once.
    pub ws_ping_interval_secs: u64,
    pub ws_idle_timeout_secs: u64,
    pub ws_max_connections: usize,
    /// New dialogs (INVITE, REGISTER, …) one source address may open per second, and at once;
    /// beyond that it gets 503 Retry-After without reaching call control. `trunk.inbound_from`
    /// addresses are exempt.
    pub source_rate_per_sec: u32,
    pub source_rate_burst: u32,
    /// SIP proxies in front of this node (Kamailio in a cluster, see `deploy/`): every phone's
    /// traffic comes from them, so they are exempt from the per-source limit (the proxy limits
    /// each source itself).
    pub trusted_proxies: Vec<IpAddr>,
}

impl Default for SipConfig {
    fn default() -> Self {
        SipConfig {
            domain: "switchboard.local".into(),
            udp_listen: addr("127.0.0.1:5060"),
            tcp_listen: addr("127.0.0.1:5060"),
            register_min_expires_secs: 60,
            register_max_expires_secs: 3600,
            auth_max_failures: 5,
            auth_lockout_secs: 300,
            digest_algorithms: vec!["SHA-256".into(), "MD5".into()],
            advertised_host: String::new(),
            ws_ping_interval_secs: 25,
            ws_idle_timeout_secs: 60,
            ws_max_connections: 1024,
            source_rate_per_sec: 50,
            source_rate_burst: 100,
            trusted_proxies: Vec::new(),
        }
    }
}

/// RTP media.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RtpConfig {
    pub port_min: u16,
    pub port_max: u16,
    /// A call with no RTP for this long ends with cause "media timeout".
    pub media_timeout_secs: u64,
    /// The address RTP sockets bind to and that our SDP names (`c=`).
    pub address: IpAddr,
}

impl Default for RtpConfig {
    fn default() -> Self {
        RtpConfig {
            port_min: 20000,
            port_max: 29999,
            media_timeout_secs: 30,
            address: IpAddr::from([127, 0, 0, 1]),
        }
    }
}

/// Call handling: the dial plan and what every call gets.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallsConfig {
    /// A call to an extension rings this long before it ends as "no answer".
    pub ring_timeout_secs: u64,
    /// Calls at once; more get 503.
    pub max_calls: usize,
    /// Record every bridged call (stereo WAV, left = caller, right = callee).
    pub record: bool,
    /// Music on hold for callers waiting in a queue: a WAV file (16-bit PCM, any rate, mono
    /// or stereo); empty = a soft tone every few seconds so the line never sounds dead.
    pub music_on_hold: PathBuf,
    /// The call-back offer played after a queue's maximum wait ("press 1 to be called
    /// back"): a WAV file; empty = three short high beeps.
    pub callback_prompt: PathBuf,
    /// Numbers sent to a fixed SIP address over UDP, without registration: number →
    /// "ip:port" (a door phone, a legacy PBX, a test peer).
    pub static_routes: BTreeMap<String, String>,
}

impl Default for CallsConfig {
    fn default() -> Self {
        CallsConfig {
            ring_timeout_secs: 30,
            max_calls: 5000,
            record: true,
            music_on_hold: PathBuf::new(),
            callback_prompt: PathBuf::new(),
            static_routes: BTreeMap::new(),
        }
    }
}

/// The outbound dialer (issue 10): campaigns whose `dial_mode` is preview, progressive or
/// predictive have their calls placed through the trunk by the dialer in `serve`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DialerConfig {
    /// Run the dialer for running campaigns (needs `trunk.host`).
    pub enabled: bool,
    /// The message an abandoned call hears (answered, no agent within 2 s): a WAV file
    /// (16-bit PCM, any rate) with the company name and the call-back number; empty = the
    /// built-in spoken message. Read at start: a missing or unreadable file stops `serve`.
    pub abandon_message_wav: PathBuf,
    /// The call-back number the message announces, kept with each abandoned call (E.164;
    /// empty = `trunk.caller_id`).
    pub callback_number: String,
    /// Caller ID on dialer calls (E.164); empty = `trunk.caller_id`.
    pub caller_id: String,
    /// How long a dialer call rings before it is "no answer": at least 15 s by law.
    pub ring_timeout_secs: u64,
    /// Wrap-up after a dialer call before the agent is offered the next one.
    pub wrap_up_secs: u64,
    /// Preview mode: dial by itself this long after the agent was shown the customer; 0 = only
    /// when the agent clicks Dial.
    pub preview_auto_dial_secs: u64,
    /// The campaign day for the daily abandonment limit starts at local midnight at this UTC
    /// offset (minutes; 480 = China).
    pub day_offset_minutes: i32,
}

impl Default for DialerConfig {
    fn default() -> Self {
        DialerConfig {
            enabled: true,
            abandon_message_wav: PathBuf::new(),
            callback_number: String::new(),
            caller_id: String::new(),
            ring_timeout_secs: 20,
            wrap_up_secs: 30,
            preview_auto_dial_secs: 0,
            day_offset_minutes: 480,
        }
    }
}

/// The SIP trunk: numbers that are neither extensions nor queues go out here, and calls
/// from its addresses are taken without digest authentication.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrunkConfig {
    /// `host:port` of the carrier; empty = no trunk (unknown numbers get 404).
    pub host: String,
    /// "udp" or "tcp".
    pub transport: String,
    /// Digest credentials the carrier may challenge for (set the password from the
    /// environment: SWITCHBOARD_TRUNK__PASSWORD).
    pub username: String,
    pub password: String,
    /// Number presented as caller ID on outbound calls; empty keeps the caller's.
    pub caller_id: String,
    /// Addresses whose INVITEs are taken as inbound trunk calls (no digest challenge).
    pub inbound_from: Vec<IpAddr>,
}

impl Default for TrunkConfig {
    fn default() -> Self {
        TrunkConfig {
            host: String::new(),
            transport: "udp".into(),
            username: String::new(),
            password: String::new(),
            caller_id: String::new(),
            inbound_from: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://var/switchboard.db` (default, embedded) or `postgres://user@host/db`.
    pub url: String,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: "sqlite://var/switchboard.db".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// Run-time files: the initial admin password, the default SQLite database.
    pub var_dir: PathBuf,
    /// Call recordings, laid out as YYYY/MM/DD/<call-id>.wav.
    pub recordings_dir: PathBuf,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            var_dir: "var".into(),
            recordings_dir: "recordings".into(),
        }
    }
}

/// The daily backup `serve` takes (see `backup_schedule`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupConfig {
    /// Where each run's folder goes (`<YYYYMMDDTHHMMSSZ>/`); empty turns the daily backup off.
    /// Use another disk or a mounted share of another machine.
    pub dir: PathBuf,
    /// Time of day, UTC, "HH:MM".
    pub time: String,
    /// Runs kept; older ones are deleted after a successful run.
    pub keep: u32,
    /// Mirror of the runs on another machine, refreshed after each run by rsync: a path (a
    /// mounted share) or `[user@]host:path` over SSH with a key (never a password prompt).
    /// Runs pruned here are deleted there too; other files there are left alone. Empty: off.
    pub copy_to: String,
    /// SSH port of the backup host (for `[user@]host:path`).
    pub ssh_port: u16,
    /// Private key for the backup host, used alone; empty: the service user's `~/.ssh` keys.
    pub ssh_key: PathBuf,
    /// Known-hosts file the backup host's key must be in; empty: the service user's.
    pub ssh_known_hosts: PathBuf,
}

impl BackupConfig {
    /// Where and how `serve` mirrors the runs, when `copy_to` is set.
    pub fn copy_target(&self) -> Option<crate::backup_copy::CopyTarget> {
        let path = |p: &PathBuf| (!p.as_os_str().is_empty()).then(|| p.clone());
        (!self.copy_to.is_empty()).then(|| crate::backup_copy::CopyTarget {
            dest: self.copy_to.clone(),
            ssh: crate::backup_copy::SshOptions {
                port: (self.ssh_port != 22).then_some(self.ssh_port),
                identity: path(&self.ssh_key),
                known_hosts: path(&self.ssh_known_hosts),
            },
        })
    }
}

impl Default for BackupConfig {
    fn default() -> Self {
        BackupConfig {
            dir: PathBuf::new(),
            time: "03:00".into(),
            keep: 7,
            copy_to: String::new(),
            ssh_port: 22,
            ssh_key: PathBuf::new(),
            ssh_known_hosts: PathBuf::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Lifetime of a login token.
    pub token_ttl_minutes: u32,
    /// Failed logins for one user from one address within the window before a lockout.
    pub login_max_failures: u32,
    pub login_window_secs: u64,
    pub login_lockout_secs: u64,
    /// Authenticated API requests one tenant may make per second, and at once; beyond that
    /// 429 with Retry-After (one integration gone wrong cannot starve the other tenants).
    pub api_rate_per_sec: u32,
    pub api_rate_burst: u32,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            token_ttl_minutes: 12 * 60,
            login_max_failures: 5,
            login_window_secs: 900,
            login_lockout_secs: 900,
            api_rate_per_sec: 200,
            api_rate_burst: 1000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingConfig {
    /// A tracing filter, e.g. `info` or `info,switchboard_sip=debug`.
    pub level: String,
    pub format: LogFormat,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        LoggingConfig {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

/// Inbound queues (defaults for new queues; each queue can override).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AcdConfig {
    /// Ring an agent this long, then offer the call to the next (3-5 rings).
    pub ring_timeout_secs: u64,
    /// Unanswered offers in a row before the agent is set not-ready ("missed").
    pub max_missed_offers: u32,
    /// After-call work before the agent is ready again (can be ended early).
    pub wrapup_secs: u64,
    /// Alert agents and supervisors when a caller has waited this long.
    pub wait_alert_secs: u64,
    /// Service level counts calls answered within this time.
    pub service_level_secs: u64,
    /// Reasons an agent can give for "not ready".
    pub not_ready_reasons: Vec<String>,
}

impl Default for AcdConfig {
    fn default() -> Self {
        AcdConfig {
            ring_timeout_secs: 20,
            max_missed_offers: 2,
            wrapup_secs: 30,
            wait_alert_secs: 60,
            service_level_secs: 20,
            not_ready_reasons: ["away", "break", "lunch", "training", "missed"]
                .map(String::from)
                .to_vec(),
        }
    }
}

/// Call-back (回访) and visit-invitation campaigns.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CampaignConfig {
    /// Time zone for customers whose file has none.
    pub default_time_zone: String,
    /// Customers' rest time, in their local time: never called then.
    pub rest_windows: Vec<TimeWindow>,
    /// Every call-back happens within this many days of its trigger.
    pub callback_sla_days: u32,
    /// A call counts as effective when the conversation lasted at least this long.
    pub effective_call_min_secs: u64,
    pub max_attempts: u32,
    /// Retry after a busy signal.
    pub busy_retry_minutes: u32,
    /// A number whose call the dialer abandoned is not called again for this long.
    pub abandoned_no_redial_hours: u32,
    /// Unpaid orders: reminder, then warning.
    pub order_reminder_days: u32,
    pub order_warning_days: u32,
}

impl Default for CampaignConfig {
    fn default() -> Self {
        CampaignConfig {
            default_time_zone: "Asia/Shanghai".into(),
            rest_windows: vec![window("12:00-14:00"), window("21:00-09:00")],
            callback_sla_days: 3,
            effective_call_min_secs: 30,
            max_attempts: 3,
            busy_retry_minutes: 10,
            abandoned_no_redial_hours: 72,
            order_reminder_days: 3,
            order_warning_days: 7,
        }
    }
}

/// Call-back agents' quotas, deductions and bonus.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuotaConfig {
    pub effective_calls_per_day: u32,
    pub working_days_per_month: u32,
    pub visits_from_callback_list_per_month: u32,
    pub visits_from_other_lists_per_month: u32,
    /// Average effective calls a day at or above this (but under quota): minor deduction.
    pub calls_minor_floor: u32,
    /// Visits at or above this (but under quota): minor deduction.
    pub visits_minor_floor: u32,
    pub deduction_minor_pct: u32,
    pub deduction_major_pct: u32,
    /// One bonus unit per this many effective calls over quota.
    pub bonus_calls_per_unit: u32,
    /// Share of revenue from customers the call-backs brought in.
    pub revenue_bonus_pct: f64,
}

impl Default for QuotaConfig {
    fn default() -> Self {
        QuotaConfig {
            effective_calls_per_day: 100,
            working_days_per_month: 25,
            visits_from_callback_list_per_month: 15,
            visits_from_other_lists_per_month: 10,
            calls_minor_floor: 80,
            visits_minor_floor: 10,
            deduction_minor_pct: 5,
            deduction_major_pct: 10,
            bonus_calls_per_unit: 500,
            revenue_bonus_pct: 1.0,
        }
    }
}

/// Complaint tickets (工单).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TicketsConfig {
    pub reply_within_hours: u32,
    /// Open longer than this: escalate one step up the ladder.
    pub escalate_after_hours: u32,
    pub escalation_ladder: Vec<String>,
}

impl Default for TicketsConfig {
    fn default() -> Self {
        TicketsConfig {
            reply_within_hours: 12,
            escalate_after_hours: 24,
            escalation_ladder: vec!["shift_lead".into(), "manager".into()],
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShiftPattern {
    pub name: String,
    pub window: TimeWindow,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShiftsConfig {
    /// The call centre's IANA time zone: shifts, hand-over dates and the agents' daily,
    /// weekly and monthly figures are in it.
    pub time_zone: String,
    pub patterns: Vec<ShiftPattern>,
    pub days_off_per_month: u32,
}

impl Default for ShiftsConfig {
    fn default() -> Self {
        ShiftsConfig {
            time_zone: "Asia/Shanghai".into(),
            patterns: vec![
                ShiftPattern {
                    name: "day".into(),
                    window: window("08:00-17:00"),
                },
                ShiftPattern {
                    name: "day-late".into(),
                    window: window("09:00-18:00"),
                },
                ShiftPattern {
                    name: "night".into(),
                    window: window("15:00-24:00"),
                },
            ],
            days_off_per_month: 4,
        }
    }
}

/// Several `serve` nodes on one PostgreSQL behind a SIP proxy (see `deploy/` and `cluster`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// This node's name, unique in the cluster (letters, digits, `-`, `_`); empty: one node
    /// alone, which owns every call and agent in the database.
    pub node: String,
    /// How often this node tells the others it is alive.
    pub heartbeat_ms: u64,
    /// Silence after which a surviving node takes this one's calls and agents over (calls
    /// closed as `node-lost`, agents freed, waiting and cut-off callers given call-back tasks).
    pub node_timeout_secs: u64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            node: String::new(),
            heartbeat_ms: 1000,
            node_timeout_secs: 5,
        }
    }
}
