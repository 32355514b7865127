//! Erlang C: the textbook M/M/N prediction of waiting, used to check the ACD in simulation and
//! for staffing estimates.

use std::time::Duration;

/// Inputs for which Erlang C has no steady state.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ErlangError {
    #[error("need at least one agent")]
    NoAgents,
    #[error("traffic must be a positive finite number of erlangs, got {0}")]
    BadTraffic(f64),
    #[error("{agents} agents cannot carry {traffic} erlangs: the queue grows without bound")]
    Overloaded { agents: u32, traffic: f64 },
    #[error("average handle time must be positive")]
    ZeroHandleTime,
}

/// An Erlang C model: `agents` servers offered `traffic` erlangs (arrival rate × AHT).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErlangC {
    agents: u32,
    traffic: f64,
    aht: Duration,
}

impl ErlangC {
    /// A model with `agents` agents, `traffic` erlangs and average handle time `aht`.
    pub fn new(agents: u32, traffic: f64, aht: Duration) -> Result<Self, ErlangError> {
        if agents == 0 {
            return Err(ErlangError::NoAgents);
        }
        if !traffic.is_finite() || traffic <= 0.0 {
            return Err(ErlangError::BadTraffic(traffic));
        }
        if traffic >= f64::from(agents) {
            return Err(ErlangError::Overloaded { agents, traffic });
        }
        if aht.is_zero() {
            return Err(ErlangError::ZeroHandleTime);
        }
        Ok(ErlangC {
            agents,
            traffic,
            aht,
        })
    }

    /// Probability that a call has to wait (Erlang C formula).
    ///
    /// Computed through the Erlang B recursion `B(k) = A·B(k-1) / (k + A·B(k-1))`, which never
    /// forms the huge powers and factorials of the closed form.
    pub fn probability_of_waiting(&self) -> f64 {
        let a = self.traffic;
        let mut b = 1.0;
        for k in 1..=self.agents {
            b = a * b / (f64::from(k) + a * b);
        }
        let n = f64::from(self.agents);
        n * b / (n - a * (1.0 - b))
    }

    /// Fraction of calls answered within `threshold`: `1 - Pw · e^(-(N-A)·t/AHT)`.
    pub fn service_level(&self, threshold: Duration) -> f64 {
        let n = f64::from(self.agents);
        let exponent = -(n - self.traffic) * threshold.as_secs_f64() / self.aht.as_secs_f64();
        1.0 - self.probability_of_waiting() * exponent.exp()
    }

    /// Average speed of answer: `Pw · AHT / (N - A)`.
    pub fn asa(&self) -> Duration {
        let n = f64::from(self.agents);
        Duration::from_secs_f64(
            self.probability_of_waiting() * self.aht.as_secs_f64() / (n - self.traffic),
        )
    }

    /// Agent occupancy `A / N`.
    pub fn occupancy(&self) -> f64 {
        self.traffic / f64::from(self.agents)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AHT: Duration = Duration::from_secs(180);

    #[test]
    fn textbook_example_ten_erlangs_eleven_agents() {
        // The usual worked example (Call Centre Helper, "Erlang C formula made simple"):
        // 100 calls in 30 minutes at 180 s AHT = 10 erlangs, 11 agents:
        // Pw = 0.6821, ASA = 122.8 s, service level at 20 s = 39.0 %.
        let e = ErlangC::new(11, 10.0, AHT).unwrap();
        assert!((e.probability_of_waiting() - 0.6821).abs() < 5e-5);
        assert!((e.asa().as_secs_f64() - 122.8).abs() < 0.05);
        assert!((e.service_level(Duration::from_secs(20)) - 0.390).abs() < 5e-4);
    }

    #[test]
    fn matches_the_closed_forms_for_one_and_two_servers() {
        // M/M/1: Pw = ρ. M/M/2 at A = 1: Pw = 2ρ²/(1+ρ) with ρ = 0.5, i.e. 1/3.
        let mm1 = ErlangC::new(1, 0.7, AHT).unwrap();
        assert!((mm1.probability_of_waiting() - 0.7).abs() < 1e-12);
        let mm2 = ErlangC::new(2, 1.0, AHT).unwrap();
        assert!((mm2.probability_of_waiting() - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn large_centres_do_not_overflow() {
        let e = ErlangC::new(500, 480.0, AHT).unwrap();
        let pw = e.probability_of_waiting();
        assert!(pw.is_finite() && pw > 0.0 && pw < 1.0);
    }

    #[test]
    fn overloaded_or_empty_centres_are_errors() {
        assert_eq!(
            ErlangC::new(10, 10.0, AHT),
            Err(ErlangError::Overloaded {
                agents: 10,
                traffic: 10.0
            })
        );
        assert_eq!(ErlangC::new(0, 1.0, AHT), Err(ErlangError::NoAgents));
        assert!(matches!(
            ErlangC::new(5, f64::NAN, AHT),
            Err(ErlangError::BadTraffic(_))
        ));
    }
}
