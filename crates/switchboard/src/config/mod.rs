//! The configuration file (`sip-config/switchboard.toml` by default) and its environment
//! overrides (`SWITCHBOARD_<SECTION>__<KEY>=value`).
//!
//! Every setting has a default, so an empty file is a valid config. An unknown key, a value of
//! the wrong type or an invalid value stops the program at start with a message that names the
//! key and where it came from (the file, or the environment variable).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

mod sections;
pub use sections::*;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {file}: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("config file {file} is not valid TOML: {message}")]
    Syntax { file: String, message: String },
    #[error("config key '{key}' in {source_name}: {message}")]
    Key {
        key: String,
        source_name: String,
        message: String,
    },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
}

/// The whole configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub http: HttpConfig,
    pub sip: SipConfig,
    pub rtp: RtpConfig,
    pub calls: CallsConfig,
    pub trunk: TrunkConfig,
    pub dialer: DialerConfig,
    pub database: DatabaseConfig,
    pub storage: StorageConfig,
    pub backup: BackupConfig,
    pub cluster: ClusterConfig,
    pub auth: AuthConfig,
    pub logging: LoggingConfig,
    pub acd: AcdConfig,
    pub campaign: CampaignConfig,
    pub quota: QuotaConfig,
    pub tickets: TicketsConfig,
    pub shifts: ShiftsConfig,
}

const ENV_PREFIX: &str = "SWITCHBOARD_";

impl Config {
    /// Reads `path` (a missing file is an error unless `allow_missing`), applies the
    /// environment overrides, and validates.
    pub fn load(path: &Path, allow_missing: bool) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if allow_missing && e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => return Err(ConfigError::Read { file, source }),
        };
        Self::from_parts(&text, &file, std::env::vars())
    }

    /// Parses `text` (named `file` in messages) with `env` as the environment.
    pub fn from_parts(
        text: &str,
        file: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut table: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| ConfigError::Syntax {
                    file: file.into(),
                    message: e.to_string(),
                })?;
        let mut from_env: Vec<(String, String)> = Vec::new();
        for (var, value) in env {
            let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let Some((section, key)) = rest.split_once("__") else {
                continue;
            };
            if section.is_empty() || key.is_empty() {
                return Err(ConfigError::Env {
                    var,
                    message: "expected SWITCHBOARD_<SECTION>__<KEY>".into(),
                });
            }
            let (section, key) = (section.to_ascii_lowercase(), key.to_ascii_lowercase());
            let entry = table
                .entry(section.clone())
                .or_insert_with(|| toml::Value::Table(Default::default()));
            let toml::Value::Table(section_table) = entry else {
                return Err(ConfigError::Env {
                    var,
                    message: format!("'{section}' is not a section"),
                });
            };
            section_table.insert(key.clone(), env_value(&value));
            from_env.push((format!("{section}.{key}"), var));
        }
        let source_of = |key: &str| -> String {
            from_env
                .iter()
                .find(|(k, _)| {
                    key == k
                        || key.starts_with(&format!("{k}."))
                        || key.starts_with(&format!("{k}["))
                })
                .map(|(_, var)| format!("environment variable {var}"))
                .unwrap_or_else(|| file.to_owned())
        };
        let config: Config =
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
                let key = e.path().to_string();
                let message = e.into_inner().to_string();
                ConfigError::Key {
                    source_name: source_of(&key),
                    key,
                    message,
                }
            })?;
        config
            .validate()
            .map_err(|(key, message)| ConfigError::Key {
                source_name: source_of(&key),
                key,
                message,
            })?;
        Ok(config)
    }

    /// Rules beyond types: ranges, orderings, time zones.
    fn validate(&self) -> Result<(), (String, String)> {
        let err = |k: &str, m: String| Err((k.to_owned(), m));
        match (&self.http.tls_cert_file, &self.http.tls_key_file) {
            (Some(cert), Some(key)) => {
                if let Err(e) = crate::https::acceptor(cert, key) {
                    return err(e.key(), e.to_string());
                }
            }
            (Some(_), None) => {
                return err(
                    crate::https::KEY_KEY,
                    "is needed with http.tls_cert_file (HTTPS needs both)".into(),
                );
            }
            (None, Some(_)) => {
                return err(
                    crate::https::CERT_KEY,
                    "is needed with http.tls_key_file (HTTPS needs both)".into(),
                );
            }
            (None, None) => {}
        }
        if let Some(bad) = self
            .http
            .allowed_origins
            .iter()
            .find(|o| crate::sip_ws::parse_origin(o).is_none())
        {
            return err(
                "http.allowed_origins",
                format!("'{bad}' is not an origin like https://crm.example.com"),
            );
        }
        if crate::backup_schedule::parse_time_of_day(&self.backup.time).is_none() {
            return err(
                "backup.time",
                format!("'{}' is not a time of day as HH:MM (UTC)", self.backup.time),
            );
        }
        if self.auth.api_rate_per_sec == 0 {
            return err("auth.api_rate_per_sec", "must be at least 1".into());
        }
        if self.auth.api_rate_burst == 0 {
            return err("auth.api_rate_burst", "must be at least 1".into());
        }
        if self.sip.source_rate_per_sec == 0 {
            return err("sip.source_rate_per_sec", "must be at least 1".into());
        }
        if self.sip.source_rate_burst == 0 {
            return err("sip.source_rate_burst", "must be at least 1".into());
        }
        if !self.cluster.node.is_empty() {
            let name_ok = self.cluster.node.len() <= 32
                && self
                    .cluster
                    .node
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !name_ok {
                return err(
                    "cluster.node",
                    "use up to 32 letters, digits, '-' or '_'".into(),
                );
            }
            if !self.database.url.starts_with("postgres") {
                return err(
                    "cluster.node",
                    "several nodes share one PostgreSQL: set database.url to postgres://…".into(),
                );
            }
            if self.cluster.heartbeat_ms < 100 {
                return err("cluster.heartbeat_ms", "must be at least 100".into());
            }
            if self.cluster.node_timeout_secs * 1000 < 3 * self.cluster.heartbeat_ms {
                return err(
                    "cluster.node_timeout_secs",
                    "must be at least three heartbeats (cluster.heartbeat_ms)".into(),
                );
            }
        }
        if self.backup.keep == 0 {
            return err("backup.keep", "must keep at least 1 backup".into());
        }
        if !self.backup.copy_to.is_empty() {
            if self.backup.dir.as_os_str().is_empty() {
                return err(
                    "backup.copy_to",
                    "copies the daily backups: set backup.dir too".into(),
                );
            }
            if !crate::backup_copy::tool_available("rsync", "--version") {
                return err(
                    "backup.copy_to",
                    "needs rsync on this machine (apt install rsync)".into(),
                );
            }
            if crate::backup_copy::is_remote(&self.backup.copy_to)
                && !crate::backup_copy::tool_available("ssh", "-V")
            {
                return err(
                    "backup.copy_to",
                    "copies over SSH: needs ssh on this machine (apt install openssh-client)"
                        .into(),
                );
            }
        }
        if self.backup.ssh_port == 0 {
            return err("backup.ssh_port", "must be 1-65535".into());
        }
        for (key, path) in [
            ("backup.ssh_key", &self.backup.ssh_key),
            ("backup.ssh_known_hosts", &self.backup.ssh_known_hosts),
        ] {
            if path.as_os_str().is_empty() {
                continue;
            }
            if let Some(why) = crate::backup_copy::unquotable(path) {
                return err(key, format!("{}: {why}", path.display()));
            }
            if let Err(e) = std::fs::File::open(path) {
                return err(key, format!("cannot read {}: {e}", path.display()));
            }
        }
        if self.rtp.port_min < 1024 {
            return err(
                "rtp.port_min",
                format!(
                    "{} is a privileged port; use 1024 or above",
                    self.rtp.port_min
                ),
            );
        }
        if !self.rtp.port_min.is_multiple_of(2) {
            return err(
                "rtp.port_min",
                "must be even (RTP on even ports, RTCP on the next odd one)".into(),
            );
        }
        if self.rtp.port_max <= self.rtp.port_min {
            return err(
                "rtp.port_max",
                format!("must be above rtp.port_min ({})", self.rtp.port_min),
            );
        }
        let known_algorithm =
            |name: &String| switchboard_sip::auth::Algorithm::parse(Some(name)).is_ok();
        if self.sip.digest_algorithms.is_empty()
            || !self.sip.digest_algorithms.iter().all(known_algorithm)
        {
            return err(
                "sip.digest_algorithms",
                "use one or more of \"SHA-256\", \"MD5\"".into(),
            );
        }
        if self.sip.advertised_host.is_empty() && self.sip.udp_listen.ip().is_unspecified() {
            return err(
                "sip.advertised_host",
                "set it when sip.udp_listen is a wildcard address (phones need a real one)".into(),
            );
        }
        if self.rtp.address.is_unspecified() {
            return err(
                "rtp.address",
                "must be a real address: it is written into SDP for phones to send RTP to".into(),
            );
        }
        if !self.trunk.host.is_empty() {
            if !matches!(self.trunk.transport.as_str(), "udp" | "tcp") {
                return err("trunk.transport", "use \"udp\" or \"tcp\"".into());
            }
            if self.trunk.host.parse::<std::net::SocketAddr>().is_err() {
                return err(
                    "trunk.host",
                    format!("'{}' is not an IP:port", self.trunk.host),
                );
            }
        }
        for (number, addr) in &self.calls.static_routes {
            if addr.parse::<std::net::SocketAddr>().is_err() {
                return err(
                    &format!("calls.static_routes.{number}"),
                    format!("'{addr}' is not an IP:port"),
                );
            }
        }
        if self.calls.max_calls == 0 {
            return err("calls.max_calls", "must be at least 1".into());
        }
        if self.sip.domain.trim().is_empty() {
            return err("sip.domain", "must not be empty".into());
        }
        if !(self.database.url.starts_with("sqlite:")
            || self.database.url.starts_with("postgres://")
            || self.database.url.starts_with("postgresql://"))
        {
            return err(
                "database.url",
                "must start with sqlite: or postgres://".into(),
            );
        }
        if self.http.max_body_bytes < 1024 {
            return err("http.max_body_bytes", "must be at least 1024".into());
        }
        if self.auth.token_ttl_minutes == 0 {
            return err("auth.token_ttl_minutes", "must be above 0".into());
        }
        if self.auth.login_max_failures == 0 {
            return err("auth.login_max_failures", "must be above 0".into());
        }
        if self.acd.ring_timeout_secs < 5 {
            return err("acd.ring_timeout_secs", "must be at least 5 s".into());
        }
        if self.dialer.ring_timeout_secs < 15 {
            return err(
                "dialer.ring_timeout_secs",
                "must be at least 15 s (the shortest ring the law allows before no answer)".into(),
            );
        }
        if self.dialer.day_offset_minutes.abs() > 18 * 60 {
            return err(
                "dialer.day_offset_minutes",
                "must be a UTC offset within ±1080 minutes".into(),
            );
        }
        for (key, value) in [
            ("dialer.caller_id", &self.dialer.caller_id),
            ("dialer.callback_number", &self.dialer.callback_number),
        ] {
            if !value.is_empty() && switchboard_core::E164::parse(value).is_err() {
                return err(
                    key,
                    format!("'{value}' is not an E.164 number (+8613800138000)"),
                );
            }
        }
        if self
            .campaign
            .default_time_zone
            .parse::<chrono_tz::Tz>()
            .is_err()
        {
            return err(
                "campaign.default_time_zone",
                format!(
                    "'{}' is not an IANA time zone",
                    self.campaign.default_time_zone
                ),
            );
        }
        if switchboard_campaign::calling::CallingPolicy::new(self.campaign.rest_windows.clone(), [])
            .is_err()
        {
            return err(
                "campaign.rest_windows",
                "the rest windows cover the whole day: no calling time is left".into(),
            );
        }
        if self.shifts.time_zone.parse::<chrono_tz::Tz>().is_err() {
            return err(
                "shifts.time_zone",
                format!("'{}' is not an IANA time zone", self.shifts.time_zone),
            );
        }
        if let Some(name) = duplicate_name(self.shifts.patterns.iter().map(|p| p.name.as_str())) {
            return err(
                "shifts.patterns",
                format!("two shift patterns are named '{name}'"),
            );
        }
        if self.quota.deduction_minor_pct > 100 || self.quota.deduction_major_pct > 100 {
            return err(
                "quota.deduction_minor_pct",
                "percentages must be 0-100".into(),
            );
        }
        if !(0.0..=100.0).contains(&self.quota.revenue_bonus_pct) {
            return err("quota.revenue_bonus_pct", "must be 0-100".into());
        }
        if self.quota.bonus_calls_per_unit == 0 || self.quota.working_days_per_month == 0 {
            return err(
                "quota.bonus_calls_per_unit",
                "bonus_calls_per_unit and working_days_per_month must be above 0".into(),
            );
        }
        if self.quota.calls_minor_floor >= self.quota.effective_calls_per_day
            || self.quota.visits_minor_floor >= self.quota.visits_from_callback_list_per_month
        {
            return err(
                "quota.calls_minor_floor",
                "the minor floors must be below the quotas".into(),
            );
        }
        if self.quota.deduction_major_pct < self.quota.deduction_minor_pct {
            return err(
                "quota.deduction_major_pct",
                "must be at least quota.deduction_minor_pct".into(),
            );
        }
        if self.tickets.escalate_after_hours <= self.tickets.reply_within_hours {
            return err(
                "tickets.escalate_after_hours",
                "must be later than tickets.reply_within_hours".into(),
            );
        }
        Ok(())
    }

    pub fn token_ttl(&self) -> Duration {
        Duration::from_secs(u64::from(self.auth.token_ttl_minutes) * 60)
    }

    /// Where run-time files live (the initial admin password, the default SQLite file).
    pub fn var_dir(&self) -> PathBuf {
        self.storage.var_dir.clone()
    }
}

/// Environment values are TOML values when they parse as one (`20`, `true`, `["a"]`), else strings.
fn env_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

#[cfg(test)]
mod tests;

/// The first name that occurs twice.
fn duplicate_name<'a>(names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let mut seen = std::collections::HashSet::new();
    names.into_iter().find(|n| !seen.insert(*n))
}
