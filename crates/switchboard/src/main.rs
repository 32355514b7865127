//! `switchboard`: the cloud call-centre server and its admin commands.

fn main() {
    std::process::exit(switchboard::cli::run(std::env::args_os()));
}
