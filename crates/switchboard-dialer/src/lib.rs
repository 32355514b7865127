//! Outbound dialer pacing: preview, progressive and predictive dialing with an abandonment budget, plus a seeded simulator. Pure and clock-driven.
