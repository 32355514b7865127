//! The command line: parse arguments, load the config, run one command, return the exit code
//! (0 ok, 1 runtime failure, 2 bad config or usage).

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use switchboard_core::Role;

use crate::commands;
use crate::config::Config;
use crate::exit;

pub const DEFAULT_CONFIG: &str = "sip-config/switchboard.toml";

#[derive(Debug, Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Switchboard: cloud call-centre server (SIP, WebRTC, recordings, campaigns, CRM sync)"
)]
pub struct Cli {
    /// Config file. Every setting can also come from SWITCHBOARD_<SECTION>__<KEY>.
    #[arg(long, global = true, env = "SWITCHBOARD_CONFIG", default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (migrates the database first).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Validate the config file and environment overrides without starting.
    CheckConfig,
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Write an online backup of the database into DIR (empty or absent).
    Backup { dir: PathBuf },
    /// Replace the database with the backup in DIR (stop the server first). The replaced
    /// database is kept beside it.
    Restore { dir: PathBuf },
    /// Look after the recordings tree (`storage.recordings_dir`).
    #[command(subcommand)]
    Recordings(RecordingsCommand),
}

#[derive(Debug, Subcommand)]
pub enum RecordingsCommand {
    /// Bring the header of every WAV a crash left unfinished up to date with its audio (safe
    /// to run twice: finished files are left untouched). Exits 1 if a file could not be
    /// repaired.
    Repair,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user. Without --password-stdin a random password is generated and printed once.
    Add {
        username: String,
        #[arg(long)]
        role: Role,
        /// Display name (defaults to the username).
        #[arg(long)]
        name: Option<String>,
        #[arg(long, default_value = crate::bootstrap::DEFAULT_TENANT)]
        tenant: String,
        /// The user's phone extension (2-8 digits). Also creates the SIP credential: the phone
        /// registers as this extension in realm `sip.domain` with the same password.
        #[arg(long)]
        extension: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List the users of a tenant.
    List {
        #[arg(long, default_value = crate::bootstrap::DEFAULT_TENANT)]
        tenant: String,
    },
    /// Set a new password (and sign the user out everywhere); the user's SIP credentials get
    /// the new password's digest values too.
    Passwd {
        username: String,
        #[arg(long, default_value = crate::bootstrap::DEFAULT_TENANT)]
        tenant: String,
        #[arg(long)]
        password_stdin: bool,
    },
}

/// Runs the command line `args` (including the program name) and returns the exit code.
pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return e.exit_code();
        }
    };
    // The default file may be absent (defaults apply); a file named explicitly must exist.
    let explicit = cli.config.as_os_str() != DEFAULT_CONFIG;
    let config = match Config::load(&cli.config, !explicit) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("switchboard: {e}");
            return exit::BAD_CONFIG_OR_USAGE;
        }
    };
    crate::logging::init(&config.logging);
    if !cli.config.exists() {
        tracing::warn!(file = %cli.config.display(), "no config file; using built-in defaults");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("switchboard: cannot start the async runtime: {e}");
            return exit::RUNTIME;
        }
    };
    match runtime.block_on(commands::dispatch(cli.command, &cli.config, config)) {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("switchboard: {e}");
            e.exit_code()
        }
    }
}
