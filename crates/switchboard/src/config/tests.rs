use super::*;

const SAMPLE: &str = include_str!("../../../../sip-config/switchboard.toml");

fn load(text: &str) -> Result<Config, ConfigError> {
    Config::from_parts(text, "test.toml", Vec::<(String, String)>::new())
}

fn load_env(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::from_parts(
        text,
        "test.toml",
        env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
    )
}

fn key_error(result: Result<Config, ConfigError>) -> (String, String, String) {
    match result {
        Err(ConfigError::Key {
            key,
            source_name,
            message,
        }) => (key, source_name, message),
        other => panic!("expected a key error, got {other:?}"),
    }
}

/// Every key path of a TOML value, e.g. `http.listen`, `shifts.patterns[].name`.
fn key_paths(value: &toml::Value, prefix: &str, out: &mut std::collections::BTreeSet<String>) {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.insert(path.clone());
                key_paths(v, &path, out);
            }
        }
        toml::Value::Array(items) => {
            for item in items {
                key_paths(item, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn the_sample_file_is_valid_and_holds_the_defaults() {
    let sample = load(SAMPLE).unwrap();
    let defaults = Config::default();
    assert_eq!(
        toml::Value::try_from(&sample).unwrap(),
        toml::Value::try_from(&defaults).unwrap()
    );
    assert_eq!(sample.acd.ring_timeout_secs, 20);
    assert_eq!(sample.campaign.callback_sla_days, 3);
    assert_eq!(sample.tickets.reply_within_hours, 12);
}

#[test]
fn the_sample_file_lists_every_setting() {
    let mut in_sample = std::collections::BTreeSet::new();
    key_paths(&SAMPLE.parse::<toml::Value>().unwrap(), "", &mut in_sample);
    let mut all = std::collections::BTreeSet::new();
    key_paths(
        &toml::Value::try_from(Config::default()).unwrap(),
        "",
        &mut all,
    );
    let missing: Vec<_> = all.difference(&in_sample).collect();
    assert!(
        missing.is_empty(),
        "settings missing from sip-config/switchboard.toml: {missing:?}"
    );
}

#[test]
fn an_empty_file_gives_the_defaults() {
    let config = load("").unwrap();
    assert_eq!(config.http.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(config.database.url, "sqlite://var/switchboard.db");
}

#[test]
fn unknown_key_is_named_with_its_file() {
    let (key, source, message) = key_error(load("[http]\nlisen = \"127.0.0.1:1\"\n"));
    assert_eq!(key, "http.lisen");
    assert_eq!(source, "test.toml");
    assert!(message.contains("unknown field"), "{message}");
}

#[test]
fn unknown_section_is_named() {
    let (key, _, _) = key_error(load("[htttp]\nlisten = \"127.0.0.1:1\"\n"));
    assert_eq!(key, "htttp");
}

#[test]
fn wrong_type_is_named() {
    let (key, _, message) = key_error(load("[acd]\nring_timeout_secs = \"twenty\"\n"));
    assert_eq!(key, "acd.ring_timeout_secs");
    assert!(message.contains("invalid type"), "{message}");
}

#[test]
fn port_out_of_range_is_named() {
    let (key, _, _) = key_error(load("[rtp]\nport_min = 70000\n"));
    assert_eq!(key, "rtp.port_min");
    let (key, _, _) = key_error(load("[http]\nlisten = \"127.0.0.1:99999\"\n"));
    assert_eq!(key, "http.listen");
}

#[test]
fn invalid_values_are_named() {
    assert_eq!(
        key_error(load("[backup]\ntime = \"3am\"\n")).0,
        "backup.time"
    );
    assert_eq!(key_error(load("[backup]\nkeep = 0\n")).0, "backup.keep");
    assert_eq!(
        key_error(load("[backup]\ncopy_to = \"vault:/srv/backups\"\n")).0,
        "backup.copy_to"
    );
    assert_eq!(
        key_error(load("[backup]\nssh_key = \"/nonexistent/backup_key\"\n")).0,
        "backup.ssh_key"
    );
    assert_eq!(
        key_error(load("[backup]\nssh_known_hosts = \"/tmp/it's\"\n")).0,
        "backup.ssh_known_hosts"
    );
    assert_eq!(
        key_error(load("[backup]\nssh_port = 0\n")).0,
        "backup.ssh_port"
    );
    assert_eq!(
        key_error(load("[rtp]\nport_min = 20001\n")).0,
        "rtp.port_min"
    );
    assert_eq!(
        key_error(load("[rtp]\nport_min = 30000\nport_max = 29999\n")).0,
        "rtp.port_max"
    );
    assert_eq!(
        key_error(load("[campaign]\ndefault_time_zone = \"Mars/Olympus\"\n")).0,
        "campaign.default_time_zone"
    );
    assert_eq!(
        key_error(load("[shifts]\ntime_zone = \"Mars/Olympus\"\n")).0,
        "shifts.time_zone"
    );
    assert_eq!(
        key_error(load(
            "[[shifts.patterns]]\nname = \"day\"\nwindow = \"08:00-17:00\"\n[[shifts.patterns]]\nname = \"day\"\nwindow = \"09:00-18:00\"\n"
        ))
        .0,
        "shifts.patterns"
    );
    assert_eq!(
        key_error(load("[campaign]\nrest_windows = [\"noon\"]\n")).0,
        "campaign.rest_windows[0]"
    );
    assert_eq!(
        key_error(load("[database]\nurl = \"mysql://x\"\n")).0,
        "database.url"
    );
    assert_eq!(
        key_error(load(
            "[campaign]\nrest_windows = [\"00:00-12:00\", \"12:00-24:00\"]\n"
        ))
        .0,
        "campaign.rest_windows"
    );
    assert_eq!(
        key_error(load("[quota]\ncalls_minor_floor = 100\n")).0,
        "quota.calls_minor_floor"
    );
    assert_eq!(
        key_error(load("[quota]\nrevenue_bonus_pct = 120.0\n")).0,
        "quota.revenue_bonus_pct"
    );
    assert_eq!(
        key_error(load("[quota]\ndeduction_major_pct = 3\n")).0,
        "quota.deduction_major_pct"
    );
    for bad in ["[\"SHA-1\"]", "[]"] {
        let text = format!("[sip]\ndigest_algorithms = {bad}\n");
        assert_eq!(key_error(load(&text)).0, "sip.digest_algorithms", "{bad}");
    }
}

#[test]
fn syntax_errors_name_the_file() {
    match load("[http\nlisten=") {
        Err(ConfigError::Syntax { file, .. }) => assert_eq!(file, "test.toml"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn environment_overrides_the_file() {
    let config = load_env(
        "[acd]\nring_timeout_secs = 25\n",
        &[
            ("SWITCHBOARD_ACD__RING_TIMEOUT_SECS", "15"),
            ("SWITCHBOARD_HTTP__LISTEN", "127.0.0.1:9090"),
        ],
    )
    .unwrap();
    assert_eq!(config.acd.ring_timeout_secs, 15);
    assert_eq!(config.http.listen.to_string(), "127.0.0.1:9090");
}

#[test]
fn bad_environment_values_name_the_variable() {
    let (key, source, _) = key_error(load_env(
        "",
        &[("SWITCHBOARD_ACD__RING_TIMEOUT_SECS", "soon")],
    ));
    assert_eq!(key, "acd.ring_timeout_secs");
    assert_eq!(
        source,
        "environment variable SWITCHBOARD_ACD__RING_TIMEOUT_SECS"
    );
    let (key, source, _) = key_error(load_env("", &[("SWITCHBOARD_HTTP__NOPE", "1")]));
    assert_eq!(key, "http.nope");
    assert_eq!(source, "environment variable SWITCHBOARD_HTTP__NOPE");
}

#[test]
fn unrelated_environment_variables_are_ignored() {
    assert!(load_env("", &[("SWITCHBOARD_CONFIG", "x.toml"), ("PATH", "/bin")]).is_ok());
}

#[test]
fn dialer_settings_that_break_the_law_or_are_not_numbers_are_named() {
    let (key, _, message) = key_error(load("[dialer]\nring_timeout_secs = 14\n"));
    assert_eq!(key, "dialer.ring_timeout_secs");
    assert!(message.contains("15 s"), "{message}");
    let (key, _, _) = key_error(load("[dialer]\ncaller_id = \"4008888\"\n"));
    assert_eq!(key, "dialer.caller_id");
    let (key, _, _) = key_error(load("[dialer]\nday_offset_minutes = 2000\n"));
    assert_eq!(key, "dialer.day_offset_minutes");
    let sample = load(SAMPLE).expect("the sample config loads");
    assert_eq!(
        sample.dialer.ring_timeout_secs, 20,
        "the service rules' 20 s"
    );
}

#[test]
fn a_cluster_node_needs_postgresql_and_a_plain_name() {
    let (key, _, message) = key_error(load("[cluster]\nnode = \"a\"\n"));
    assert_eq!(key, "cluster.node");
    assert!(message.contains("PostgreSQL"), "{message}");
    let pg = "[database]\nurl = \"postgres://postgres@127.0.0.1/test\"\n";
    let (key, _, _) = key_error(load(&format!("{pg}[cluster]\nnode = \"a b\"\n")));
    assert_eq!(key, "cluster.node");
    let (key, _, _) = key_error(load(&format!(
        "{pg}[cluster]\nnode = \"a\"\nheartbeat_ms = 2000\nnode_timeout_secs = 5\n"
    )));
    assert_eq!(key, "cluster.node_timeout_secs");
    let config = load(&format!("{pg}[cluster]\nnode = \"node-1\"\n")).unwrap();
    assert_eq!(config.cluster.node, "node-1");
    assert!(
        load(SAMPLE).unwrap().cluster.node.is_empty(),
        "one node by default"
    );
}
