//! Duration distributions for the simulator. Written here (Box-Muller for the normal) rather
//! than pulling in `rand_distr` for two shapes.

use std::time::Duration;

use rand::Rng;

/// A random duration, clamped to `[min, max]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Dist {
    /// Always the same.
    Fixed(Duration),
    /// Uniform between `lo` and `hi`.
    Uniform { lo: Duration, hi: Duration },
    /// Log-normal with the given mean and standard deviation (right-skewed, like call
    /// lengths), clamped to `[min, max]`.
    LogNormal {
        mean: Duration,
        sd: Duration,
        min: Duration,
        max: Duration,
    },
}

fn standard_normal<R: Rng>(rng: &mut R) -> f64 {
    // Box-Muller; `gen` is in [0, 1), so 1 - u is in (0, 1] and its log is finite.
    let u1: f64 = 1.0 - rng.r#gen::<f64>();
    let u2: f64 = rng.r#gen::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

impl Dist {
    /// Draws one duration.
    pub fn sample<R: Rng>(&self, rng: &mut R) -> Duration {
        match *self {
            Dist::Fixed(d) => d,
            Dist::Uniform { lo, hi } => {
                if hi <= lo {
                    return lo;
                }
                let span = (hi - lo).as_secs_f64();
                lo + Duration::from_secs_f64(rng.r#gen::<f64>() * span)
            }
            Dist::LogNormal { mean, sd, min, max } => {
                let m = mean.as_secs_f64().max(1e-3);
                let s = sd.as_secs_f64();
                let sigma2 = (1.0 + (s * s) / (m * m)).ln();
                let mu = m.ln() - sigma2 / 2.0;
                let x = (mu + sigma2.sqrt() * standard_normal(rng)).exp();
                let x = x.clamp(min.as_secs_f64(), max.as_secs_f64().max(min.as_secs_f64()));
                Duration::from_secs_f64(x)
            }
        }
    }

    /// The mean before clamping (for documentation and priors).
    pub fn nominal_mean(&self) -> Duration {
        match *self {
            Dist::Fixed(d) => d,
            Dist::Uniform { lo, hi } => (lo + hi.max(lo)) / 2,
            Dist::LogNormal { mean, .. } => mean,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn mean_of(d: Dist, n: usize) -> f64 {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        (0..n)
            .map(|_| d.sample(&mut rng).as_secs_f64())
            .sum::<f64>()
            / n as f64
    }

    #[test]
    fn log_normal_has_the_requested_mean_and_stays_in_bounds() {
        let d = Dist::LogNormal {
            mean: Duration::from_secs(150),
            sd: Duration::from_secs(75),
            min: Duration::from_secs(0),
            max: Duration::from_secs(10_000),
        };
        let m = mean_of(d, 50_000);
        assert!((m - 150.0).abs() < 3.0, "{m}");
        let clamped = Dist::LogNormal {
            mean: Duration::from_secs(150),
            sd: Duration::from_secs(75),
            min: Duration::from_secs(100),
            max: Duration::from_secs(120),
        };
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..1000 {
            let x = clamped.sample(&mut rng).as_secs_f64();
            assert!((100.0..=120.0).contains(&x), "{x}");
        }
    }

    #[test]
    fn uniform_stays_between_its_bounds() {
        let d = Dist::Uniform {
            lo: Duration::from_secs(20),
            hi: Duration::from_secs(40),
        };
        let m = mean_of(d, 20_000);
        assert!((m - 30.0).abs() < 0.5, "{m}");
    }
}
